CREATE TABLE "dashboard_hourly_counts" (
	"department_code" text NOT NULL,
	"hour" bigint NOT NULL,
	"outcome" text NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "dashboard_hourly_counts_hour_department_code_outcome_pk" PRIMARY KEY("hour","department_code","outcome")
);
--> statement-breakpoint
CREATE TABLE "dashboard_latency_counts" (
	"department_code" text NOT NULL,
	"day" bigint NOT NULL,
	"bucket" integer NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "dashboard_latency_counts_day_department_code_bucket_pk" PRIMARY KEY("day","department_code","bucket")
);
--> statement-breakpoint
-- Accepted messages are counted in the statement that inserts them, grouped (one upsert per department and hour);
-- settled ones by the outbox store (src/db/postgres/dashboard.ts). A copy from SQLite brings its own counts (relais.copying).
CREATE FUNCTION dashboard_count_accepted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('relais.copying', true) = 'on' THEN RETURN NULL; END IF;
	INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count)
	SELECT department_code, accepted_at - accepted_at % 3600000, 'accepted', count(*) FROM inserted GROUP BY 1, 2
	ON CONFLICT (hour, department_code, outcome) DO UPDATE SET count = dashboard_hourly_counts.count + excluded.count;
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER dashboard_count_accepted AFTER INSERT ON outbox_messages REFERENCING NEW TABLE AS inserted
	FOR EACH STATEMENT EXECUTE FUNCTION dashboard_count_accepted();
--> statement-breakpoint
-- The messages already logged, counted once: by status (a message waiting for a retry counts as retried once).
INSERT INTO dashboard_hourly_counts (department_code, hour, outcome, count)
SELECT department_code, accepted_at - accepted_at % 3600000, 'accepted', count(*) FROM outbox_messages GROUP BY 1, 2
UNION ALL
SELECT department_code, accepted_at - accepted_at % 3600000, CASE status WHEN 'sent' THEN 'sent' WHEN 'retry' THEN 'retried' ELSE 'failed' END, count(*)
FROM outbox_messages WHERE status IN ('sent', 'retry', 'failed') GROUP BY 1, 2, 3;
--> statement-breakpoint
INSERT INTO dashboard_latency_counts (department_code, day, bucket, count)
SELECT department_code, accepted_at - accepted_at % 86400000, floor(ln(greatest(sent_at - accepted_at, 1)) * 20)::int, count(*)
FROM outbox_messages WHERE status = 'sent' AND sent_at IS NOT NULL GROUP BY 1, 2, 3;
