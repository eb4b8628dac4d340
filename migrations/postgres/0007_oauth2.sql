ALTER TABLE "smtp_servers" ADD COLUMN "oauth_tenant" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "smtp_servers" ADD COLUMN "oauth_client_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "smtp_servers" ADD COLUMN "oauth_secret_ciphertext" text;