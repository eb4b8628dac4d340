ALTER TABLE `outbox_messages` ADD `pending_recipients` text;--> statement-breakpoint
ALTER TABLE `outbox_messages` ADD `refused_recipients` text;