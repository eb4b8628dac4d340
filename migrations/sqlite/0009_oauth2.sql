ALTER TABLE `smtp_servers` ADD `oauth_tenant` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `oauth_client_id` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `oauth_secret_ciphertext` text;