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
  // A deactivated department is kept (its history, its links) but no longer sends nor is offered to servers.
  active: integer('active', { mode: 'boolean' }).notNull().default(true),
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
    authentication: text('authentication', { enum: ['none', 'password', 'oauth2-microsoft', 'oauth2-google'] }).notNull(),
    email: text('email').notNull(),
    senderName: text('sender_name').notNull(),
    username: text('username').notNull().default(''),
    // AES-256-GCM envelope "v1:<keyId>:<iv>:<tag>:<ciphertext>"; never the plaintext.
    passwordCiphertext: text('password_ciphertext'),
    // OAuth2 (XOAUTH2): the Microsoft tenant and application id, or the Google service account's address; the client
    // secret or the service account's JSON key sealed like the password.
    oauthTenant: text('oauth_tenant').notNull().default(''),
    oauthClientId: text('oauth_client_id').notNull().default(''),
    oauthSecretCiphertext: text('oauth_secret_ciphertext'),
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
    // A deactivated server is kept and shown, never used to send.
    active: integer('active', { mode: 'boolean' }).notNull().default(true),
    // « En panne » until then: skipped by the departments' routing while it lasts (set by the sending outbox).
    downUntil: integer('down_until', { mode: 'timestamp_ms' }),
    // Sending failures in a row (reset by a success): at the outbox's threshold the server goes « en panne ».
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    lastSuccessAt: integer('last_success_at', { mode: 'timestamp_ms' }),
    lastErrorAt: integer('last_error_at', { mode: 'timestamp_ms' }),
    lastError: text('last_error'),
    // Messages per minute this server may be given, across every instance; null: no limit.
    rateLimitPerMinute: integer('rate_limit_per_minute'),
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

/**
 * The order of the servers that serve a department: the first usable one sends, the next ones are its backups.
 * A serving server without a row here comes after those that have one (by id), so a server just given a department
 * is at the end of its list without a write.
 */
export const departmentServers = sqliteTable(
  'department_servers',
  {
    departmentId: integer('department_id')
      .notNull()
      .references(() => departments.id, { onDelete: 'cascade' }),
    serverId: integer('server_id')
      .notNull()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
  },
  (table) => [primaryKey({ columns: [table.departmentId, table.serverId] }), index('department_servers_server_idx').on(table.serverId)],
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
  // Alert mails (src/alerts/): asked for on the account's own page, in the language it was asked in.
  alertsOptIn: integer('alerts_opt_in', { mode: 'boolean' }).notNull().default(false),
  alertsLocale: text('alerts_locale'),
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

/** Tokens the ERP sends with (Authorization: Bearer); only the SHA-256 of each is kept, shown once at creation. */
export const apiTokens = sqliteTable('api_tokens', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  // The token's first characters (relais_Ab3x), to recognise it in the list; not enough to guess the rest.
  hint: text('hint').notNull(),
  // true: every department, those added later too; false: only those in api_token_departments.
  allDepartments: integer('all_departments', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
  // Written at most once a minute per instance, not on every request.
  lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }),
  revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
});

export const apiTokenDepartments = sqliteTable(
  'api_token_departments',
  {
    tokenId: integer('token_id')
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    departmentId: integer('department_id')
      .notNull()
      .references(() => departments.id, { onDelete: 'cascade' }),
  },
  (table) => [primaryKey({ columns: [table.tokenId, table.departmentId] })],
);

/** Requests per token and minute, counted in the database so every instance honours one limit. */
export const apiTokenRequests = sqliteTable(
  'api_token_requests',
  {
    tokenId: integer('token_id')
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    windowStart: integer('window_start', { mode: 'timestamp_ms' }).notNull(),
    count: integer('count').notNull(),
  },
  (table) => [primaryKey({ columns: [table.tokenId, table.windowStart] })],
);

/** The outbox: a message is stored here before any attempt, and its log line stays after its bodies are purged. */
export const outboxMessages = sqliteTable(
  'outbox_messages',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    // Opaque and public: the API's id.
    publicId: text('public_id').notNull().unique(),
    departmentCode: text('department_code').notNull(),
    // Only this server (a test send), not the department's routing.
    pinnedServerId: integer('pinned_server_id'),
    originKind: text('origin_kind', { enum: ['token', 'user'] }).notNull(),
    originId: integer('origin_id').notNull(),
    originName: text('origin_name').notNull(),
    // JSON arrays of addresses.
    toAddresses: text('to_addresses').notNull(),
    ccAddresses: text('cc_addresses').notNull().default('[]'),
    bccAddresses: text('bcc_addresses').notNull().default('[]'),
    replyTo: text('reply_to'),
    subject: text('subject').notNull(),
    textBody: text('text_body'),
    htmlBody: text('html_body'),
    // The Message-ID header, fixed at acceptance and kept across attempts and servers.
    messageId: text('message_id').notNull(),
    status: text('status', { enum: ['queued', 'sending', 'retry', 'sent', 'failed', 'cancelled'] }).notNull().default('queued'),
    attemptCount: integer('attempt_count').notNull().default(0),
    // Rounds in which every usable server was tried and none took it: the backoff's step.
    roundCount: integer('round_count').notNull().default(0),
    // When a worker should take it: its next attempt (queued, retry) or the end of its lease (sending); null once done.
    dueAt: integer('due_at', { mode: 'timestamp_ms' }),
    leaseOwner: text('lease_owner'),
    // JSON array of the servers already tried in the current round (a rate-limit wait resumes after them).
    triedServerIds: text('tried_server_ids').notNull().default('[]'),
    // A time-out after DATA: the next attempt goes to this server only, never to another at once.
    stickyServerId: integer('sticky_server_id'),
    // JSON array of the recipients still to send to (some took it, others were refused one by one); null: all of them.
    pendingRecipients: text('pending_recipients'),
    // JSON array of { recipient, reply } refused for good while others are still retried: the message fails once they are done.
    refusedRecipients: text('refused_recipients'),
    lastServerId: integer('last_server_id'),
    lastServerTitle: text('last_server_title'),
    lastReply: text('last_reply'),
    idempotencyKey: text('idempotency_key'),
    bodyHash: text('body_hash'),
    // Lower-cased, accent-free recipients and subject, for the log's search.
    searchText: text('search_text').notNull().default(''),
    acceptedAt: integer('accepted_at', { mode: 'timestamp_ms' }).notNull(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
    sentAt: integer('sent_at', { mode: 'timestamp_ms' }),
    // Bodies and attachments removed after the retention days; the log line stays.
    purgedAt: integer('purged_at', { mode: 'timestamp_ms' }),
  },
  (table) => [
    index('outbox_messages_due_idx').on(table.dueAt),
    index('outbox_messages_accepted_idx').on(table.acceptedAt, table.id),
    index('outbox_messages_status_idx').on(table.status, table.acceptedAt),
    index('outbox_messages_department_idx').on(table.departmentCode, table.acceptedAt),
    index('outbox_messages_server_idx').on(table.lastServerId, table.acceptedAt),
    // The alerts' cursor over messages failed for good, and /metrics' counts by status and department.
    index('outbox_messages_status_updated_idx').on(table.status, table.updatedAt, table.id),
    index('outbox_messages_status_department_idx').on(table.status, table.departmentCode),
    uniqueIndex('outbox_messages_idempotency_unique').on(table.originKind, table.originId, table.idempotencyKey),
  ],
);

export const outboxAttachments = sqliteTable(
  'outbox_attachments',
  {
    messageId: integer('message_id')
      .notNull()
      .references(() => outboxMessages.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    content: blob('content', { mode: 'buffer' }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.messageId, table.position] })],
);

export const outboxAttempts = sqliteTable(
  'outbox_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    messageId: integer('message_id')
      .notNull()
      .references(() => outboxMessages.id, { onDelete: 'cascade' }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    serverId: integer('server_id'),
    serverTitle: text('server_title').notNull(),
    outcome: text('outcome', { enum: ['sent', 'failover', 'deferred', 'failed'] }).notNull(),
    reply: text('reply'),
    durationMs: integer('duration_ms').notNull(),
  },
  (table) => [index('outbox_attempts_message_idx').on(table.messageId, table.id), index('outbox_attempts_server_outcome_idx').on(table.serverId, table.outcome)],
);

/** Messages handed to a rate-limited server per minute: a slot is reserved here, atomically, before the send. */
export const smtpSendSlots = sqliteTable(
  'smtp_send_slots',
  {
    serverId: integer('server_id')
      .notNull()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    windowStart: integer('window_start', { mode: 'timestamp_ms' }).notNull(),
    used: integer('used').notNull(),
  },
  (table) => [primaryKey({ columns: [table.serverId, table.windowStart] })],
);

/**
 * The scheduled connection test of each active server (src/health-checks/): when it is next due, which instance holds
 * it now (a lease, taken over once expired), how the last one ended, and the certificate it saw.
 */
export const serverHealthChecks = sqliteTable(
  'server_health_checks',
  {
    serverId: integer('server_id')
      .primaryKey()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    dueAt: integer('due_at', { mode: 'timestamp_ms' }).notNull(),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until', { mode: 'timestamp_ms' }),
    lastCheckAt: integer('last_check_at', { mode: 'timestamp_ms' }),
    lastOk: integer('last_ok', { mode: 'boolean' }),
    certSubject: text('cert_subject'),
    certIssuer: text('cert_issuer'),
    certValidTo: integer('cert_valid_to', { mode: 'timestamp_ms' }),
    certFingerprint: text('cert_fingerprint'),
    certSeenAt: integer('cert_seen_at', { mode: 'timestamp_ms' }),
    // The issuer before the current one, and when the change was seen.
    certPreviousIssuer: text('cert_previous_issuer'),
    certIssuerChangedAt: integer('cert_issuer_changed_at', { mode: 'timestamp_ms' }),
  },
  (table) => [index('server_health_checks_due_idx').on(table.dueAt)],
);

/**
 * The alert pass's one row (id 1): its lease across instances, its cursor over failed messages, the server chosen for
 * alert mails (null: automatic).
 */
export const alertControl = sqliteTable('alert_control', {
  id: integer('id').primaryKey(),
  leaseOwner: text('lease_owner'),
  leaseUntil: integer('lease_until', { mode: 'timestamp_ms' }),
  failedCursorAt: integer('failed_cursor_at', { mode: 'timestamp_ms' }).notNull(),
  failedCursorId: integer('failed_cursor_id').notNull().default(0),
  alertServerId: integer('alert_server_id').references(() => smtpServers.id, { onDelete: 'set null' }),
});

/** What the last alert pass saw of each subject (server:<id>, department:<code>): a change against it is an alert. */
export const alertSnapshot = sqliteTable('alert_snapshot', {
  subject: text('subject').primaryKey(),
  state: text('state').notNull(),
});

/** One change seen by an alert pass, until it is mailed and posted to the webhook. */
export const alertEvents = sqliteTable(
  'alert_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    kind: text('kind', { enum: ['serverDown', 'serverUp', 'departmentNoServer', 'departmentRestored', 'messageFailed', 'certificate'] }).notNull(),
    subject: text('subject').notNull(),
    // JSON: the names and ids the mail and the webhook show (server title, department name, message id, last reply).
    params: text('params').notNull().default('{}'),
    // pending: not mailed yet; held: kept back by the one-mail-per-subject-per-hour limit; sent; unsent: nobody had opted in.
    mailState: text('mail_state', { enum: ['pending', 'held', 'sent', 'unsent'] }).notNull().default('pending'),
    mailedAt: integer('mailed_at', { mode: 'timestamp_ms' }),
    // off: no webhook configured when it happened; failed: given up after the retries.
    webhookState: text('webhook_state', { enum: ['pending', 'sent', 'failed', 'off'] }).notNull().default('pending'),
    webhookAttempts: integer('webhook_attempts').notNull().default(0),
  },
  (table) => [index('alert_events_mail_idx').on(table.mailState, table.id), index('alert_events_webhook_idx').on(table.webhookState, table.id)],
);

/** The last alert mail per subject: reserved here, atomically, before a mail is sent (one per subject per hour). */
export const alertSubjectMails = sqliteTable('alert_subject_mails', {
  subject: text('subject').primaryKey(),
  lastMailAt: integer('last_mail_at', { mode: 'timestamp_ms' }),
});

export type SmtpServerRow = typeof smtpServers.$inferSelect;
export type NewSmtpServerRow = typeof smtpServers.$inferInsert;
export type Department = typeof departments.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;

/**
 * The dashboard's counts, kept by the outbox as messages change state (never recomputed from the log): messages per
 * department, hour of acceptance and outcome (accepted, sent, retried, failed).
 */
export const dashboardHourlyCounts = sqliteTable(
  'dashboard_hourly_counts',
  {
    departmentCode: text('department_code').notNull(),
    hour: integer('hour', { mode: 'timestamp_ms' }).notNull(),
    outcome: text('outcome', { enum: ['accepted', 'sent', 'retried', 'failed'] }).notNull(),
    count: integer('count').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.hour, table.departmentCode, table.outcome] }),
    // Covering: the dashboard's reads walk this index alone (the primary key's index would need each row's count from the table).
    index('dashboard_hourly_counts_covering_idx').on(table.hour, table.departmentCode, table.outcome, table.count),
  ],
);

/** Delivered messages per department, day of acceptance and latency bucket (accepted → sent, log scale: src/dashboard/latency.ts). */
export const dashboardLatencyCounts = sqliteTable(
  'dashboard_latency_counts',
  {
    departmentCode: text('department_code').notNull(),
    day: integer('day', { mode: 'timestamp_ms' }).notNull(),
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.day, table.departmentCode, table.bucket] }),
    // Covering, in the order the percentiles are read (day, then bucket, over every department).
    index('dashboard_latency_counts_covering_idx').on(table.day, table.bucket, table.count),
  ],
);
