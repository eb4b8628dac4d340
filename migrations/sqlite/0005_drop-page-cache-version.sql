-- The page cache is gone: its data version counter and the triggers that moved it.
DROP TRIGGER IF EXISTS `cache_version_servers_insert`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `cache_version_servers_update`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `cache_version_servers_delete`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `cache_version_departments_insert`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `cache_version_departments_delete`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `cache_version_users_insert`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `cache_version_users_update`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `cache_version_users_delete`;--> statement-breakpoint
DROP TABLE IF EXISTS `cache_versions`;
