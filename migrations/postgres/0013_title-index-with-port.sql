-- The list's page walks this index in title order: with the port in it, a word that may name a port ("77", "465")
-- is tested from the index alone, without a read of each wide row (production 77 over 100,000 servers: 7.4 → 1.2 ms).
DROP INDEX IF EXISTS "smtp_servers_title_sort_search_idx";
--> statement-breakpoint
CREATE INDEX "smtp_servers_title_sort_search_idx" ON "smtp_servers" USING btree ("title_sort" COLLATE "C", "id") INCLUDE ("search_text", "port");
