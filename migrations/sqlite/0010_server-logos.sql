CREATE TABLE `server_logos` (
	`server_id` integer PRIMARY KEY NOT NULL,
	`content_type` text NOT NULL,
	`bytes` blob NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`size` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`server_id`) REFERENCES `smtp_servers`(`id`) ON UPDATE no action ON DELETE cascade
);
