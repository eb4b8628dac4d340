CREATE TABLE "server_health_checks" (
	"server_id" integer PRIMARY KEY NOT NULL,
	"due_at" bigint NOT NULL,
	"lease_owner" text,
	"lease_until" bigint,
	"last_check_at" bigint,
	"last_ok" boolean,
	"cert_subject" text,
	"cert_issuer" text,
	"cert_valid_to" bigint,
	"cert_fingerprint" text,
	"cert_seen_at" bigint,
	"cert_previous_issuer" text,
	"cert_issuer_changed_at" bigint
);
--> statement-breakpoint
ALTER TABLE "server_health_checks" ADD CONSTRAINT "server_health_checks_server_id_smtp_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."smtp_servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "server_health_checks_due_idx" ON "server_health_checks" USING btree ("due_at");