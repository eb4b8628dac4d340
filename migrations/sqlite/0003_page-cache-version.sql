-- One counter that every write to what the list pages show moves, whoever writes it (this process, another one, a
-- trigger-less tool). Rendered pages are cached under it, so a cached page is never older than the data.
CREATE TABLE `cache_versions` (`id` integer PRIMARY KEY NOT NULL, `version` integer NOT NULL);
--> statement-breakpoint
INSERT INTO `cache_versions` (`id`, `version`) VALUES (1, 0);
--> statement-breakpoint
CREATE TRIGGER `cache_version_servers_insert` AFTER INSERT ON `smtp_servers` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
--> statement-breakpoint
CREATE TRIGGER `cache_version_servers_update` AFTER UPDATE ON `smtp_servers` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
--> statement-breakpoint
CREATE TRIGGER `cache_version_servers_delete` AFTER DELETE ON `smtp_servers` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
--> statement-breakpoint
CREATE TRIGGER `cache_version_departments_insert` AFTER INSERT ON `smtp_server_departments` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
--> statement-breakpoint
CREATE TRIGGER `cache_version_departments_delete` AFTER DELETE ON `smtp_server_departments` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
--> statement-breakpoint
CREATE TRIGGER `cache_version_users_insert` AFTER INSERT ON `users` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
--> statement-breakpoint
CREATE TRIGGER `cache_version_users_update` AFTER UPDATE ON `users` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
--> statement-breakpoint
CREATE TRIGGER `cache_version_users_delete` AFTER DELETE ON `users` BEGIN UPDATE cache_versions SET version = version + 1 WHERE id = 1; END;
