CREATE TABLE `server_health_checks` (
	`server_id` integer PRIMARY KEY NOT NULL,
	`due_at` integer NOT NULL,
	`lease_owner` text,
	`lease_until` integer,
	`last_check_at` integer,
	`last_ok` integer,
	`cert_subject` text,
	`cert_issuer` text,
	`cert_valid_to` integer,
	`cert_fingerprint` text,
	`cert_seen_at` integer,
	`cert_previous_issuer` text,
	`cert_issuer_changed_at` integer,
	FOREIGN KEY (`server_id`) REFERENCES `smtp_servers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `server_health_checks_due_idx` ON `server_health_checks` (`due_at`);