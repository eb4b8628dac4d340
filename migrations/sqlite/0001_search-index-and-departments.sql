-- Trigram full-text index over the normalised search text: substring search that stays fast at 100,000 servers.
CREATE VIRTUAL TABLE `smtp_servers_fts` USING fts5(search_text, content='smtp_servers', content_rowid='id', tokenize='trigram');
--> statement-breakpoint
CREATE TRIGGER `smtp_servers_fts_insert` AFTER INSERT ON `smtp_servers` BEGIN
  INSERT INTO smtp_servers_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;
--> statement-breakpoint
CREATE TRIGGER `smtp_servers_fts_delete` AFTER DELETE ON `smtp_servers` BEGIN
  INSERT INTO smtp_servers_fts(smtp_servers_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
--> statement-breakpoint
CREATE TRIGGER `smtp_servers_fts_update` AFTER UPDATE OF search_text ON `smtp_servers` BEGIN
  INSERT INTO smtp_servers_fts(smtp_servers_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
  INSERT INTO smtp_servers_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;
--> statement-breakpoint
INSERT INTO `departments` (`id`, `code`, `name`, `position`) VALUES (1, 'achat', 'Achat', 1), (2, 'vente', 'Vente', 2), (3, 'production', 'Production', 3);
