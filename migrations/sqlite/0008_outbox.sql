CREATE TABLE `outbox_attachments` (
	`message_id` integer NOT NULL,
	`position` integer NOT NULL,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`content` blob NOT NULL,
	PRIMARY KEY(`message_id`, `position`),
	FOREIGN KEY (`message_id`) REFERENCES `outbox_messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `outbox_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` integer NOT NULL,
	`at` integer NOT NULL,
	`server_id` integer,
	`server_title` text NOT NULL,
	`outcome` text NOT NULL,
	`reply` text,
	`duration_ms` integer NOT NULL,
	FOREIGN KEY (`message_id`) REFERENCES `outbox_messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `outbox_attempts_message_idx` ON `outbox_attempts` (`message_id`,`id`);--> statement-breakpoint
CREATE TABLE `outbox_messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`public_id` text NOT NULL,
	`department_code` text NOT NULL,
	`pinned_server_id` integer,
	`origin_kind` text NOT NULL,
	`origin_id` integer NOT NULL,
	`origin_name` text NOT NULL,
	`to_addresses` text NOT NULL,
	`cc_addresses` text DEFAULT '[]' NOT NULL,
	`bcc_addresses` text DEFAULT '[]' NOT NULL,
	`reply_to` text,
	`subject` text NOT NULL,
	`text_body` text,
	`html_body` text,
	`message_id` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`attempt_count` integer DEFAULT 0 NOT NULL,
	`round_count` integer DEFAULT 0 NOT NULL,
	`due_at` integer,
	`lease_owner` text,
	`tried_server_ids` text DEFAULT '[]' NOT NULL,
	`sticky_server_id` integer,
	`last_server_id` integer,
	`last_server_title` text,
	`last_reply` text,
	`idempotency_key` text,
	`body_hash` text,
	`search_text` text DEFAULT '' NOT NULL,
	`accepted_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`sent_at` integer,
	`purged_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_messages_public_id_unique` ON `outbox_messages` (`public_id`);--> statement-breakpoint
CREATE INDEX `outbox_messages_due_idx` ON `outbox_messages` (`due_at`);--> statement-breakpoint
CREATE INDEX `outbox_messages_accepted_idx` ON `outbox_messages` (`accepted_at`,`id`);--> statement-breakpoint
CREATE INDEX `outbox_messages_status_idx` ON `outbox_messages` (`status`,`accepted_at`);--> statement-breakpoint
CREATE INDEX `outbox_messages_department_idx` ON `outbox_messages` (`department_code`,`accepted_at`);--> statement-breakpoint
CREATE INDEX `outbox_messages_server_idx` ON `outbox_messages` (`last_server_id`,`accepted_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_messages_idempotency_unique` ON `outbox_messages` (`origin_kind`,`origin_id`,`idempotency_key`);--> statement-breakpoint
CREATE TABLE `smtp_send_slots` (
	`server_id` integer NOT NULL,
	`window_start` integer NOT NULL,
	`used` integer NOT NULL,
	PRIMARY KEY(`server_id`, `window_start`),
	FOREIGN KEY (`server_id`) REFERENCES `smtp_servers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `consecutive_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `last_success_at` integer;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `last_error_at` integer;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `last_error` text;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `rate_limit_per_minute` integer;