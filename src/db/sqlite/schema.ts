import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const timestamps = {
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
};

export const departments = sqliteTable('departments', {
  id: integer('id').primaryKey(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  position: integer('position').notNull().default(0),
});

export const smtpServers = sqliteTable(
  'smtp_servers',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    title: text('title').notNull(),
    // The title folded to lower case (any script), so "Vente" and "VENTE", "Été" and "ÉTÉ" cannot both exist.
    titleKey: text('title_key').notNull(),
    // The title as it sorts for a French reader: lower case and without accents ("Équipe" between "Entrepôt" and "Export").
    titleSort: text('title_sort').notNull().default(''),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    security: text('security', { enum: ['none', 'starttls', 'tls'] }).notNull(),
    authentication: text('authentication', { enum: ['none', 'password'] }).notNull(),
    email: text('email').notNull(),
    senderName: text('sender_name').notNull(),
    username: text('username').notNull().default(''),
    // AES-256-GCM envelope "v1:<keyId>:<iv>:<tag>:<ciphertext>"; never the plaintext.
    passwordCiphertext: text('password_ciphertext'),
    usage: text('usage', { enum: ['default', 'custom'] }).notNull().default('default'),
    verifyCertificate: integer('verify_certificate', { mode: 'boolean' }).notNull().default(true),
    signature: text('signature').notNull().default(''),
    confirmationStatus: text('confirmation_status', { enum: ['unconfirmed', 'pending', 'confirmed', 'failed'] })
      .notNull()
      .default('unconfirmed'),
    confirmationSentAt: integer('confirmation_sent_at', { mode: 'timestamp_ms' }),
    confirmationExpiresAt: integer('confirmation_expires_at', { mode: 'timestamp_ms' }),
    confirmedAt: integer('confirmed_at', { mode: 'timestamp_ms' }),
    confirmationError: text('confirmation_error'),
    lastTestAt: integer('last_test_at', { mode: 'timestamp_ms' }),
    lastTestOk: integer('last_test_ok', { mode: 'boolean' }),
    lastTestSummary: text('last_test_summary'),
    // Lower-cased, accent-free copy of the searchable fields, indexed by smtp_servers_fts.
    searchText: text('search_text').notNull().default(''),
    // Incremented by every update: a write based on an older reading (an edit form, a test result) is refused.
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (table) => [
    uniqueIndex('smtp_servers_title_key_unique').on(table.titleKey),
    // Covers the default order and the search text, so a broad search reads its first page in title order without a sort.
    index('smtp_servers_title_sort_search_idx').on(table.titleSort, table.id, table.searchText),
    // One index per sortable column: a broad search walks the chosen order and stops after one page.
    index('smtp_servers_host_idx').on(table.host),
    index('smtp_servers_port_idx').on(table.port),
    index('smtp_servers_authentication_idx').on(table.authentication),
    index('smtp_servers_security_idx').on(table.security),
    index('smtp_servers_email_idx').on(sql`${table.email} COLLATE NOCASE`),
    index('smtp_servers_sender_name_idx').on(sql`${table.senderName} COLLATE NOCASE`),
    index('smtp_servers_username_idx').on(sql`${table.username} COLLATE NOCASE`),
    index('smtp_servers_usage_idx').on(table.usage),
    index('smtp_servers_confirmation_idx').on(table.confirmationStatus),
  ],
);

export const smtpServerDepartments = sqliteTable(
  'smtp_server_departments',
  {
    serverId: integer('server_id')
      .notNull()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    departmentId: integer('department_id')
      .notNull()
      .references(() => departments.id, { onDelete: 'restrict' }),
  },
  (table) => [primaryKey({ columns: [table.serverId, table.departmentId] })],
);

// Apart from smtp_servers so the list never reads the images; one logo per server, gone with it.
export const serverLogos = sqliteTable('server_logos', {
  serverId: integer('server_id')
    .primaryKey()
    .references(() => smtpServers.id, { onDelete: 'cascade' }),
  contentType: text('content_type', { enum: ['image/png', 'image/jpeg', 'image/gif'] }).notNull(),
  bytes: blob('bytes', { mode: 'buffer' }).notNull(),
  width: integer('width').notNull(),
  height: integer('height').notNull(),
  size: integer('size').notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

export const confirmationTokens = sqliteTable(
  'confirmation_tokens',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    serverId: integer('server_id')
      .notNull()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    usedAt: integer('used_at', { mode: 'timestamp_ms' }),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  },
  (table) => [index('confirmation_tokens_server_idx').on(table.serverId, table.createdAt)],
);

export const users = sqliteTable('users', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  email: text('email').notNull().unique(),
  displayName: text('display_name').notNull(),
  role: text('role', { enum: ['admin', 'viewer'] }).notNull().default('viewer'),
  passwordHash: text('password_hash').notNull(),
  disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
  ...timestamps,
});

export const sessions = sqliteTable(
  'sessions',
  {
    // SHA-256 of the cookie value: a leaked database does not yield live sessions.
    idHash: text('id_hash').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
    lastSeenAt: integer('last_seen_at', { mode: 'timestamp_ms' }).notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (table) => [index('sessions_user_idx').on(table.userId)],
);

export const setupTokens = sqliteTable('setup_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  usedAt: integer('used_at', { mode: 'timestamp_ms' }),
});

export const loginAttempts = sqliteTable(
  'login_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    email: text('email').notNull(),
    ip: text('ip').notNull(),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    success: integer('success', { mode: 'boolean' }).notNull(),
  },
  (table) => [index('login_attempts_email_idx').on(table.email, table.at), index('login_attempts_ip_idx').on(table.ip, table.at)],
);

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    actor: text('actor').notNull().default(''),
    ip: text('ip'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    summary: text('summary').notNull().default(''),
    // JSON: { field: [old, new] }; secrets are recorded as "modifié", never their value.
    changes: text('changes'),
  },
  (table) => [index('audit_log_at_idx').on(table.at), index('audit_log_action_idx').on(table.action, table.at)],
);

export type SmtpServerRow = typeof smtpServers.$inferSelect;
export type NewSmtpServerRow = typeof smtpServers.$inferInsert;
export type Department = typeof departments.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
