DROP INDEX `smtp_servers_title_idx`;--> statement-breakpoint
DROP INDEX `smtp_servers_email_idx`;--> statement-breakpoint
CREATE INDEX `smtp_servers_title_search_idx` ON `smtp_servers` ("title" COLLATE NOCASE,`id`,`search_text`);--> statement-breakpoint
CREATE INDEX `smtp_servers_port_idx` ON `smtp_servers` (`port`);--> statement-breakpoint
CREATE INDEX `smtp_servers_authentication_idx` ON `smtp_servers` (`authentication`);--> statement-breakpoint
CREATE INDEX `smtp_servers_security_idx` ON `smtp_servers` (`security`);--> statement-breakpoint
CREATE INDEX `smtp_servers_sender_name_idx` ON `smtp_servers` ("sender_name" COLLATE NOCASE);--> statement-breakpoint
CREATE INDEX `smtp_servers_username_idx` ON `smtp_servers` ("username" COLLATE NOCASE);--> statement-breakpoint
CREATE INDEX `smtp_servers_usage_idx` ON `smtp_servers` (`usage`);--> statement-breakpoint
CREATE INDEX `smtp_servers_confirmation_idx` ON `smtp_servers` (`confirmation_status`);--> statement-breakpoint
CREATE INDEX `smtp_servers_email_idx` ON `smtp_servers` ("email" COLLATE NOCASE);