CREATE TABLE `alert_control` (
	`id` integer PRIMARY KEY NOT NULL,
	`lease_owner` text,
	`lease_until` integer,
	`failed_cursor_at` integer NOT NULL,
	`failed_cursor_id` integer DEFAULT 0 NOT NULL,
	`alert_server_id` integer,
	FOREIGN KEY (`alert_server_id`) REFERENCES `smtp_servers`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE TABLE `alert_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`subject` text NOT NULL,
	`params` text DEFAULT '{}' NOT NULL,
	`mail_state` text DEFAULT 'pending' NOT NULL,
	`mailed_at` integer,
	`webhook_state` text DEFAULT 'pending' NOT NULL,
	`webhook_attempts` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alert_events_mail_idx` ON `alert_events` (`mail_state`,`id`);--> statement-breakpoint
CREATE INDEX `alert_events_webhook_idx` ON `alert_events` (`webhook_state`,`id`);--> statement-breakpoint
CREATE TABLE `alert_snapshot` (
	`subject` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `alert_subject_mails` (
	`subject` text PRIMARY KEY NOT NULL,
	`last_mail_at` integer
);
--> statement-breakpoint
ALTER TABLE `users` ADD `alerts_opt_in` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `alerts_locale` text;--> statement-breakpoint
CREATE INDEX `outbox_attempts_server_outcome_idx` ON `outbox_attempts` (`server_id`,`outcome`);--> statement-breakpoint
CREATE INDEX `outbox_messages_status_updated_idx` ON `outbox_messages` (`status`,`updated_at`,`id`);--> statement-breakpoint
CREATE INDEX `outbox_messages_status_department_idx` ON `outbox_messages` (`status`,`department_code`);