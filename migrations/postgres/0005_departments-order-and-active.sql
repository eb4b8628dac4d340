CREATE TABLE "department_servers" (
	"department_id" integer NOT NULL,
	"server_id" integer NOT NULL,
	"position" integer NOT NULL,
	CONSTRAINT "department_servers_department_id_server_id_pk" PRIMARY KEY("department_id","server_id")
);
--> statement-breakpoint
ALTER TABLE "departments" ADD COLUMN "active" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "smtp_servers" ADD COLUMN "active" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "smtp_servers" ADD COLUMN "down_until" bigint;--> statement-breakpoint
ALTER TABLE "department_servers" ADD CONSTRAINT "department_servers_department_id_departments_id_fk" FOREIGN KEY ("department_id") REFERENCES "public"."departments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "department_servers" ADD CONSTRAINT "department_servers_server_id_smtp_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."smtp_servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "department_servers_server_idx" ON "department_servers" USING btree ("server_id");