-- Substring search ignoring case and accents, as SQLite's trigram FTS gives: pg_trgm indexes LIKE '%…%' over the
-- normalised search_text the app writes. Both extensions are trusted: the database owner may create them.
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
--> statement-breakpoint
-- unaccent() is only STABLE (its dictionary could change), so an index cannot use it; naming the dictionary makes
-- the result depend on the argument alone.
CREATE OR REPLACE FUNCTION public.relais_unaccent(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;
--> statement-breakpoint
CREATE INDEX "smtp_servers_search_trgm_idx" ON "smtp_servers" USING gin ("search_text" gin_trgm_ops);
--> statement-breakpoint
-- The default order, covering the search text: a broad search walks it and stops after one page, without the table.
CREATE INDEX "smtp_servers_title_sort_search_idx" ON "smtp_servers" USING btree ("title_sort" COLLATE "C", "id") INCLUDE ("search_text");
--> statement-breakpoint
-- The audit page searches summary, actor and changes by substring, whatever the case and accents.
CREATE INDEX "audit_log_search_trgm_idx" ON "audit_log" USING gin (
  lower(public.relais_unaccent(coalesce("summary", '') || ' ' || coalesce("actor", '') || ' ' || coalesce("changes", ''))) gin_trgm_ops
);
--> statement-breakpoint
INSERT INTO "departments" ("id", "code", "name", "position") VALUES (1, 'achat', 'Achat', 1), (2, 'vente', 'Vente', 2), (3, 'production', 'Production', 3);
--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('departments', 'id'), (SELECT max("id") FROM "departments"));
