-- « Réessayés » counts a message once, when its first round ends in a retry (its round count leaves 0), so that the
-- send log's « Réessayés au moins une fois » (round_count > 0) lists the messages counted. A failed message queued
-- again by an administrator starts its rounds again (0): it leaves the count until it is retried again. Kept in the
-- statement that writes the message (only those two changes of round_count fire it); the settle no longer counts
-- each retry.
CREATE FUNCTION dashboard_count_retried() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.round_count > 0 THEN
		INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count)
		VALUES (NEW.department_code, NEW.accepted_at - NEW.accepted_at % 3600000, 'retried', 1)
		ON CONFLICT (hour, department_code, outcome) DO UPDATE SET count = dashboard_hourly_counts.count + 1;
	ELSE
		UPDATE dashboard_hourly_counts SET count = count - 1
		WHERE outcome = 'retried' AND department_code = OLD.department_code AND hour = OLD.accepted_at - OLD.accepted_at % 3600000;
	END IF;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER dashboard_count_retried AFTER UPDATE OF round_count ON outbox_messages
	FOR EACH ROW WHEN ((OLD.round_count = 0) <> (NEW.round_count = 0)) EXECUTE FUNCTION dashboard_count_retried();
--> statement-breakpoint
-- The counts kept so far held a message once per retry: counted again from the messages, once each.
DELETE FROM dashboard_hourly_counts WHERE outcome = 'retried';
--> statement-breakpoint
INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count)
SELECT department_code, accepted_at - accepted_at % 3600000, 'retried', count(*)
FROM outbox_messages WHERE round_count > 0 GROUP BY 1, 2;
