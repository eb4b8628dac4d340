CREATE TABLE "server_logos" (
	"server_id" integer PRIMARY KEY NOT NULL,
	"content_type" text NOT NULL,
	"bytes" "bytea" NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"size" integer NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "server_logos" ADD CONSTRAINT "server_logos_server_id_smtp_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."smtp_servers"("id") ON DELETE cascade ON UPDATE no action;