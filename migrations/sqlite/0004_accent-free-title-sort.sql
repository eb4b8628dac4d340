DROP INDEX `smtp_servers_title_search_idx`;--> statement-breakpoint
ALTER TABLE `smtp_servers` ADD `title_sort` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `smtp_servers_title_sort_search_idx` ON `smtp_servers` (`title_sort`,`id`,`search_text`);