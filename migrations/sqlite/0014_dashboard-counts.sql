CREATE TABLE `dashboard_hourly_counts` (
	`department_code` text NOT NULL,
	`hour` integer NOT NULL,
	`outcome` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`hour`, `department_code`, `outcome`)
);
--> statement-breakpoint
CREATE TABLE `dashboard_latency_counts` (
	`department_code` text NOT NULL,
	`day` integer NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`day`, `department_code`, `bucket`)
);
--> statement-breakpoint
-- Each accepted message is counted in the transaction that inserts it; settled ones by the outbox store (src/db/sqlite/dashboard.ts).
CREATE TRIGGER `dashboard_count_accepted` AFTER INSERT ON `outbox_messages` BEGIN
	INSERT INTO `dashboard_hourly_counts` (`department_code`, `hour`, `outcome`, `count`)
	VALUES (NEW.`department_code`, CAST(NEW.`accepted_at` AS INTEGER) - CAST(NEW.`accepted_at` AS INTEGER) % 3600000, 'accepted', 1)
	ON CONFLICT DO UPDATE SET `count` = `count` + 1;
END;
--> statement-breakpoint
-- The messages already logged, counted once: by status (a message waiting for a retry counts as retried once).
INSERT INTO `dashboard_hourly_counts` (`department_code`, `hour`, `outcome`, `count`)
SELECT `department_code`, CAST(`accepted_at` AS INTEGER) - CAST(`accepted_at` AS INTEGER) % 3600000, 'accepted', count(*) FROM `outbox_messages` WHERE true GROUP BY 1, 2
UNION ALL
SELECT `department_code`, CAST(`accepted_at` AS INTEGER) - CAST(`accepted_at` AS INTEGER) % 3600000,
	CASE `status` WHEN 'sent' THEN 'sent' WHEN 'retry' THEN 'retried' ELSE 'failed' END, count(*)
FROM `outbox_messages` WHERE `status` IN ('sent', 'retry', 'failed') GROUP BY 1, 2, 3;
--> statement-breakpoint
INSERT INTO `dashboard_latency_counts` (`department_code`, `day`, `bucket`, `count`)
SELECT `department_code`, CAST(`accepted_at` AS INTEGER) - CAST(`accepted_at` AS INTEGER) % 86400000,
	CAST(floor(ln(max(`sent_at` - `accepted_at`, 1)) * 20) AS INTEGER), count(*)
FROM `outbox_messages` WHERE `status` = 'sent' AND `sent_at` IS NOT NULL GROUP BY 1, 2, 3;
