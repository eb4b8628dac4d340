DROP INDEX "smtp_servers_sender_name_idx";--> statement-breakpoint
DROP INDEX "smtp_servers_username_idx";--> statement-breakpoint
CREATE INDEX "smtp_servers_email_sort_idx" ON "smtp_servers" USING btree (lower("email" collate "C"));--> statement-breakpoint
CREATE INDEX "smtp_servers_sender_name_idx" ON "smtp_servers" USING btree (lower("sender_name" collate "C"));--> statement-breakpoint
CREATE INDEX "smtp_servers_username_idx" ON "smtp_servers" USING btree (lower("username" collate "C"));