ALTER TABLE "outbox_messages" ADD COLUMN "pending_recipients" text;--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "refused_recipients" text;