CREATE TABLE `department_servers` (
	`department_id` integer NOT NULL,
	`server_id` integer NOT NULL,
	`position` integer NOT NULL,
	PRIMARY KEY(`department_id`, `server_id`),
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`server_id`) REFERENCES `smtp_servers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `department_servers_server_idx` ON `department_servers` (`server_id`);--> statement-breakpoint
ALTER TABLE `departments` ADD `active` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `active` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `down_until` integer;