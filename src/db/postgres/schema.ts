import { sql } from 'drizzle-orm';
import { boolean, customType, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

// The same tables and columns as ../schema.ts (SQLite); test/postgres-schema.test.ts fails when they drift apart.

/** Milliseconds since 1970 in a bigint, as SQLite stores them: a copy between the stores is lossless and a row version is an integer. */
export const timestampMs = customType<{ data: Date; driverData: string | number }>({
  dataType: () => 'bigint',
  toDriver: (value) => value.getTime(),
  fromDriver: (value) => new Date(Number(value)),
});

/** Raw bytes (SQLite: blob). */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

const nowMs = sql`(floor(extract(epoch from clock_timestamp()) * 1000))::bigint`;

const timestamps = {
  createdAt: timestampMs('created_at').notNull().default(nowMs),
  updatedAt: timestampMs('updated_at').notNull().default(nowMs),
};

export const departments = pgTable('departments', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  position: integer('position').notNull().default(0),
  active: boolean('active').notNull().default(true),
});

export const smtpServers = pgTable(
  'smtp_servers',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    title: text('title').notNull(),
    titleKey: text('title_key').notNull(),
    titleSort: text('title_sort').notNull().default(''),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    security: text('security', { enum: ['none', 'starttls', 'tls'] }).notNull(),
    authentication: text('authentication', { enum: ['none', 'password', 'oauth2-microsoft', 'oauth2-google'] }).notNull(),
    email: text('email').notNull(),
    senderName: text('sender_name').notNull(),
    username: text('username').notNull().default(''),
    passwordCiphertext: text('password_ciphertext'),
    oauthTenant: text('oauth_tenant').notNull().default(''),
    oauthClientId: text('oauth_client_id').notNull().default(''),
    oauthSecretCiphertext: text('oauth_secret_ciphertext'),
    usage: text('usage', { enum: ['default', 'custom'] }).notNull().default('default'),
    verifyCertificate: boolean('verify_certificate').notNull().default(true),
    signature: text('signature').notNull().default(''),
    confirmationStatus: text('confirmation_status', { enum: ['unconfirmed', 'pending', 'confirmed', 'failed'] })
      .notNull()
      .default('unconfirmed'),
    confirmationSentAt: timestampMs('confirmation_sent_at'),
    confirmationExpiresAt: timestampMs('confirmation_expires_at'),
    confirmedAt: timestampMs('confirmed_at'),
    confirmationError: text('confirmation_error'),
    lastTestAt: timestampMs('last_test_at'),
    lastTestOk: boolean('last_test_ok'),
    lastTestSummary: text('last_test_summary'),
    // Lower-cased, accent-free copy of the searchable fields, written by the app; its trigram index is in the
    // custom migration (it needs the pg_trgm extension first).
    searchText: text('search_text').notNull().default(''),
    version: integer('version').notNull().default(1),
    active: boolean('active').notNull().default(true),
    downUntil: timestampMs('down_until'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    lastSuccessAt: timestampMs('last_success_at'),
    lastErrorAt: timestampMs('last_error_at'),
    lastError: text('last_error'),
    rateLimitPerMinute: integer('rate_limit_per_minute'),
    ...timestamps,
  },
  (table) => [
    uniqueIndex('smtp_servers_title_key_unique').on(table.titleKey),
    // Sort keys compare byte by byte ("C"), as SQLite does, so both stores list in the same order. The default
    // order's index covers the search text too (INCLUDE, so in the custom migration): a broad search reads its first
    // page from the index alone.
    index('smtp_servers_host_idx').on(sql`${table.host} collate "C"`),
    index('smtp_servers_port_idx').on(table.port),
    index('smtp_servers_authentication_idx').on(table.authentication),
    index('smtp_servers_security_idx').on(table.security),
    index('smtp_servers_email_idx').on(sql`lower(${table.email})`),
    // The case-insensitive orders fold ASCII only, as SQLite's NOCASE does: lower() under "C" leaves "É" as it is.
    index('smtp_servers_email_sort_idx').on(sql`lower(${table.email} collate "C")`),
    index('smtp_servers_sender_name_idx').on(sql`lower(${table.senderName} collate "C")`),
    index('smtp_servers_username_idx').on(sql`lower(${table.username} collate "C")`),
    index('smtp_servers_usage_idx').on(table.usage),
    index('smtp_servers_confirmation_idx').on(table.confirmationStatus),
  ],
);

export const smtpServerDepartments = pgTable(
  'smtp_server_departments',
  {
    serverId: integer('server_id')
      .notNull()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    departmentId: integer('department_id')
      .notNull()
      .references(() => departments.id, { onDelete: 'restrict' }),
  },
  (table) => [primaryKey({ columns: [table.serverId, table.departmentId] }), index('smtp_server_departments_department_idx').on(table.departmentId)],
);

export const departmentServers = pgTable(
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
export const serverLogos = pgTable('server_logos', {
  serverId: integer('server_id')
    .primaryKey()
    .references(() => smtpServers.id, { onDelete: 'cascade' }),
  contentType: text('content_type', { enum: ['image/png', 'image/jpeg', 'image/gif'] }).notNull(),
  bytes: bytea('bytes').notNull(),
  width: integer('width').notNull(),
  height: integer('height').notNull(),
  size: integer('size').notNull(),
  updatedAt: timestampMs('updated_at').notNull(),
});

export const confirmationTokens = pgTable(
  'confirmation_tokens',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    serverId: integer('server_id')
      .notNull()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: timestampMs('created_at').notNull(),
    expiresAt: timestampMs('expires_at').notNull(),
    usedAt: timestampMs('used_at'),
    revokedAt: timestampMs('revoked_at'),
  },
  (table) => [index('confirmation_tokens_server_idx').on(table.serverId, table.createdAt)],
);

export const users = pgTable('users', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  email: text('email').notNull().unique(),
  displayName: text('display_name').notNull(),
  role: text('role', { enum: ['admin', 'viewer'] }).notNull().default('viewer'),
  passwordHash: text('password_hash').notNull(),
  disabled: boolean('disabled').notNull().default(false),
  alertsOptIn: boolean('alerts_opt_in').notNull().default(false),
  alertsLocale: text('alerts_locale'),
  ...timestamps,
});

export const sessions = pgTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestampMs('created_at').notNull(),
    lastSeenAt: timestampMs('last_seen_at').notNull(),
    expiresAt: timestampMs('expires_at').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (table) => [index('sessions_user_idx').on(table.userId)],
);

export const setupTokens = pgTable('setup_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  createdAt: timestampMs('created_at').notNull(),
  usedAt: timestampMs('used_at'),
});

export const loginAttempts = pgTable(
  'login_attempts',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    email: text('email').notNull(),
    ip: text('ip').notNull(),
    at: timestampMs('at').notNull(),
    success: boolean('success').notNull(),
  },
  (table) => [index('login_attempts_email_idx').on(table.email, table.at), index('login_attempts_ip_idx').on(table.ip, table.at)],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    at: timestampMs('at').notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    actor: text('actor').notNull().default(''),
    ip: text('ip'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    summary: text('summary').notNull().default(''),
    changes: text('changes'),
  },
  (table) => [index('audit_log_at_idx').on(table.at), index('audit_log_action_idx').on(table.action, table.at)],
);

export const apiTokens = pgTable('api_tokens', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  name: text('name').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  hint: text('hint').notNull(),
  allDepartments: boolean('all_departments').notNull().default(false),
  createdAt: timestampMs('created_at').notNull(),
  createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
  lastUsedAt: timestampMs('last_used_at'),
  revokedAt: timestampMs('revoked_at'),
});

export const apiTokenDepartments = pgTable(
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

export const apiTokenRequests = pgTable(
  'api_token_requests',
  {
    tokenId: integer('token_id')
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    windowStart: timestampMs('window_start').notNull(),
    count: integer('count').notNull(),
  },
  (table) => [primaryKey({ columns: [table.tokenId, table.windowStart] })],
);

export const outboxMessages = pgTable(
  'outbox_messages',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    publicId: text('public_id').notNull().unique(),
    departmentCode: text('department_code').notNull(),
    pinnedServerId: integer('pinned_server_id'),
    originKind: text('origin_kind', { enum: ['token', 'user'] }).notNull(),
    originId: integer('origin_id').notNull(),
    originName: text('origin_name').notNull(),
    toAddresses: text('to_addresses').notNull(),
    ccAddresses: text('cc_addresses').notNull().default('[]'),
    bccAddresses: text('bcc_addresses').notNull().default('[]'),
    replyTo: text('reply_to'),
    subject: text('subject').notNull(),
    textBody: text('text_body'),
    htmlBody: text('html_body'),
    messageId: text('message_id').notNull(),
    status: text('status', { enum: ['queued', 'sending', 'retry', 'sent', 'failed', 'cancelled'] }).notNull().default('queued'),
    attemptCount: integer('attempt_count').notNull().default(0),
    roundCount: integer('round_count').notNull().default(0),
    dueAt: timestampMs('due_at'),
    leaseOwner: text('lease_owner'),
    triedServerIds: text('tried_server_ids').notNull().default('[]'),
    stickyServerId: integer('sticky_server_id'),
    pendingRecipients: text('pending_recipients'),
    refusedRecipients: text('refused_recipients'),
    lastServerId: integer('last_server_id'),
    lastServerTitle: text('last_server_title'),
    lastReply: text('last_reply'),
    idempotencyKey: text('idempotency_key'),
    bodyHash: text('body_hash'),
    searchText: text('search_text').notNull().default(''),
    acceptedAt: timestampMs('accepted_at').notNull(),
    updatedAt: timestampMs('updated_at').notNull(),
    sentAt: timestampMs('sent_at'),
    purgedAt: timestampMs('purged_at'),
  },
  (table) => [
    index('outbox_messages_due_idx').on(table.dueAt),
    index('outbox_messages_accepted_idx').on(table.acceptedAt, table.id),
    index('outbox_messages_status_idx').on(table.status, table.acceptedAt),
    index('outbox_messages_department_idx').on(table.departmentCode, table.acceptedAt),
    index('outbox_messages_server_idx').on(table.lastServerId, table.acceptedAt),
    index('outbox_messages_status_updated_idx').on(table.status, table.updatedAt, table.id),
    index('outbox_messages_status_department_idx').on(table.status, table.departmentCode),
    uniqueIndex('outbox_messages_idempotency_unique').on(table.originKind, table.originId, table.idempotencyKey),
  ],
);

export const outboxAttachments = pgTable(
  'outbox_attachments',
  {
    messageId: integer('message_id')
      .notNull()
      .references(() => outboxMessages.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    content: bytea('content').notNull(),
  },
  (table) => [primaryKey({ columns: [table.messageId, table.position] })],
);

export const outboxAttempts = pgTable(
  'outbox_attempts',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    messageId: integer('message_id')
      .notNull()
      .references(() => outboxMessages.id, { onDelete: 'cascade' }),
    at: timestampMs('at').notNull(),
    serverId: integer('server_id'),
    serverTitle: text('server_title').notNull(),
    outcome: text('outcome', { enum: ['sent', 'failover', 'deferred', 'failed'] }).notNull(),
    reply: text('reply'),
    durationMs: integer('duration_ms').notNull(),
  },
  (table) => [index('outbox_attempts_message_idx').on(table.messageId, table.id), index('outbox_attempts_server_outcome_idx').on(table.serverId, table.outcome)],
);

export const smtpSendSlots = pgTable(
  'smtp_send_slots',
  {
    serverId: integer('server_id')
      .notNull()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    windowStart: timestampMs('window_start').notNull(),
    used: integer('used').notNull(),
  },
  (table) => [primaryKey({ columns: [table.serverId, table.windowStart] })],
);

export const serverHealthChecks = pgTable(
  'server_health_checks',
  {
    serverId: integer('server_id')
      .primaryKey()
      .references(() => smtpServers.id, { onDelete: 'cascade' }),
    dueAt: timestampMs('due_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseUntil: timestampMs('lease_until'),
    lastCheckAt: timestampMs('last_check_at'),
    lastOk: boolean('last_ok'),
    certSubject: text('cert_subject'),
    certIssuer: text('cert_issuer'),
    certValidTo: timestampMs('cert_valid_to'),
    certFingerprint: text('cert_fingerprint'),
    certSeenAt: timestampMs('cert_seen_at'),
    certPreviousIssuer: text('cert_previous_issuer'),
    certIssuerChangedAt: timestampMs('cert_issuer_changed_at'),
  },
  (table) => [index('server_health_checks_due_idx').on(table.dueAt)],
);

export const alertControl = pgTable('alert_control', {
  id: integer('id').primaryKey(),
  leaseOwner: text('lease_owner'),
  leaseUntil: timestampMs('lease_until'),
  failedCursorAt: timestampMs('failed_cursor_at').notNull(),
  failedCursorId: integer('failed_cursor_id').notNull().default(0),
  alertServerId: integer('alert_server_id').references(() => smtpServers.id, { onDelete: 'set null' }),
});

export const alertSnapshot = pgTable('alert_snapshot', {
  subject: text('subject').primaryKey(),
  state: text('state').notNull(),
});

export const alertEvents = pgTable(
  'alert_events',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    at: timestampMs('at').notNull(),
    kind: text('kind', { enum: ['serverDown', 'serverUp', 'departmentNoServer', 'departmentRestored', 'messageFailed', 'certificate'] }).notNull(),
    subject: text('subject').notNull(),
    params: text('params').notNull().default('{}'),
    mailState: text('mail_state', { enum: ['pending', 'held', 'sent', 'unsent'] }).notNull().default('pending'),
    mailedAt: timestampMs('mailed_at'),
    webhookState: text('webhook_state', { enum: ['pending', 'sent', 'failed', 'off'] }).notNull().default('pending'),
    webhookAttempts: integer('webhook_attempts').notNull().default(0),
  },
  (table) => [index('alert_events_mail_idx').on(table.mailState, table.id), index('alert_events_webhook_idx').on(table.webhookState, table.id)],
);

export const alertSubjectMails = pgTable('alert_subject_mails', {
  subject: text('subject').primaryKey(),
  lastMailAt: timestampMs('last_mail_at'),
});

/**
 * The dashboard's counts, kept by the outbox as messages change state (never recomputed from the log): messages per
 * department, hour of acceptance and outcome (accepted, sent, retried, failed).
 */
export const dashboardHourlyCounts = pgTable(
  'dashboard_hourly_counts',
  {
    departmentCode: text('department_code').notNull(),
    hour: timestampMs('hour').notNull(),
    outcome: text('outcome', { enum: ['accepted', 'sent', 'retried', 'failed'] }).notNull(),
    count: integer('count').notNull(),
  },
  (table) => [primaryKey({ columns: [table.hour, table.departmentCode, table.outcome] })],
);

/** Delivered messages per department, day of acceptance and latency bucket (accepted → sent, log scale: src/dashboard/latency.ts). */
export const dashboardLatencyCounts = pgTable(
  'dashboard_latency_counts',
  {
    departmentCode: text('department_code').notNull(),
    day: timestampMs('day').notNull(),
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull(),
  },
  (table) => [primaryKey({ columns: [table.day, table.departmentCode, table.bucket] })],
);
