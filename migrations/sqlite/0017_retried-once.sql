-- « Réessayés » counts a message once, when its first round ends in a retry (its round count leaves 0), so that the
-- send log's « Réessayés au moins une fois » (round_count > 0) lists the messages counted. A failed message queued
-- again by an administrator starts its rounds again (0): it leaves the count until it is retried again. Kept in the
-- transaction that writes the message, as the accepted count is; the settle no longer counts each retry.
CREATE TRIGGER `dashboard_count_retried` AFTER UPDATE OF `round_count` ON `outbox_messages`
WHEN OLD.`round_count` = 0 AND NEW.`round_count` > 0 BEGIN
	INSERT INTO `dashboard_hourly_counts` (`department_code`, `hour`, `outcome`, `count`)
	VALUES (NEW.`department_code`, CAST(NEW.`accepted_at` AS INTEGER) - CAST(NEW.`accepted_at` AS INTEGER) % 3600000, 'retried', 1)
	ON CONFLICT DO UPDATE SET `count` = `count` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `dashboard_uncount_retried` AFTER UPDATE OF `round_count` ON `outbox_messages`
WHEN OLD.`round_count` > 0 AND NEW.`round_count` = 0 BEGIN
	UPDATE `dashboard_hourly_counts` SET `count` = `count` - 1
	WHERE `outcome` = 'retried' AND `department_code` = OLD.`department_code`
		AND `hour` = CAST(OLD.`accepted_at` AS INTEGER) - CAST(OLD.`accepted_at` AS INTEGER) % 3600000;
END;
--> statement-breakpoint
-- The counts kept so far held a message once per retry: counted again from the messages, once each.
DELETE FROM `dashboard_hourly_counts` WHERE `outcome` = 'retried';
--> statement-breakpoint
INSERT INTO `dashboard_hourly_counts` (`department_code`, `hour`, `outcome`, `count`)
SELECT `department_code`, CAST(`accepted_at` AS INTEGER) - CAST(`accepted_at` AS INTEGER) % 3600000, 'retried', count(*)
FROM `outbox_messages` WHERE `round_count` > 0 GROUP BY 1, 2;
