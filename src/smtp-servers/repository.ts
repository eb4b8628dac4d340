import type { Actor, FieldChanges } from '../audit/store.js';
import { envelopePrefix, keyIdOf, UndecryptableSecretError, type SecretBox } from '../crypto/secret-box.js';
import { UniqueViolation } from '../db/errors.js';
import type { Stores } from '../db/stores.js';
import { departmentsLeftWithout } from '../departments/routing.js';
import { applyLogoChange, type LogoChange } from '../signature/repository.js';
import { defaultPerPage } from './columns.js';
import { normalizeForSearch } from './search.js';
import type { Department, ExportedServer, ListedServer, ServerChanges, ServerColumns, ServerDepartment, ServerListFilter, ServerSnapshot, StoredServer } from './store.js';
import { credentialsOf, type SmtpCredentials } from '../smtp/credentials.js';
import { mismatchesOf, passwordFor, savedServerOAuthSecret, savedServerPassword, type ServerInput } from './validation.js';

export type { Department, ServerDepartment, ServerListFilter };

export interface ServerListQuery extends ServerListFilter {
  page?: number;
  perPage?: number;
}

/** A server as pages and exports see it: everything but the password, which is only "stored or not". */
export type ServerView = Omit<StoredServer, 'passwordCiphertext' | 'oauthSecretCiphertext'> & {
  hasPassword: boolean;
  /** An OAuth2 client secret or service account key is stored (never shown). */
  hasOauthSecret: boolean;
  /** …but no configured key can decrypt it. */
  oauthSecretUnreadable: boolean;
  /** A password is stored but no configured key can decrypt it: it must be typed again, or the old key restored. */
  passwordUnreadable: boolean;
  /** Port, security and authentication that do not go together (saved after an explicit confirmation). */
  unusualCombination: boolean;
};

/** What the list and the exports show of a server: no signature, no bookkeeping dates, nothing about the password. */
export type ServerListItem = ExportedServer;

/** A consistent read-only view of the registry for a long read; see openReadSnapshot. */
export type ServerReadSnapshot = ServerSnapshot;

export interface ServerPage {
  rows: (ListedServer & { unusualCombination: boolean })[];
  /** See ListedPage: past a thousand matches or so, a lower bound (`exact` false). */
  total: number;
  exact: boolean;
  page: number;
  pages: number;
  perPage: number;
}

/** Fields whose change means the mail path is no longer the one that was proven. */
const pathFields = ['host', 'port', 'security', 'email', 'username', 'authentication', 'oauthTenant', 'oauthClientId'] as const;

export function titleKeyOf(title: string): string {
  return title.normalize('NFC').trim().toLowerCase();
}

export class DuplicateTitleError extends Error {
  constructor(readonly title: string) {
    super(`A server is already titled "${title}"`);
  }
}

/** The form was filled from a reading of the server that another edit (maybe on another instance) has since replaced. */
export class StaleServerError extends Error {
  constructor(readonly current: ServerView) {
    super(`server ${current.id} was changed meanwhile (now at version ${current.version})`);
  }
}

/** What a server is found by: its own fields and the names of the departments it serves. */
export function searchTextOf(server: Pick<ServerColumns, 'title' | 'host' | 'email' | 'senderName' | 'username'>, departmentNames: readonly string[]): string {
  return normalizeForSearch([server.title, server.host, server.email, server.senderName, server.username, ...departmentNames].join(' '));
}

/** After a department was added or renamed: the servers that serve it are found by its name as it is now. */
export async function refreshSearchTexts(tx: Stores, serverIds: readonly number[]): Promise<void> {
  const all = await tx.departments.list();
  for (const id of serverIds) {
    const server = await tx.servers.find(id);
    if (!server) continue;
    const names = server.usage === 'default' ? all.map((d) => d.name) : server.departments.map((d) => d.name);
    await tx.servers.setSearchText(id, searchTextOf(server, names));
  }
}

/** The ids of the departments a server serves: every one in default usage, else those it is linked to. */
function servedIds(usage: string, linked: readonly { code: string }[], all: readonly Department[]): number[] {
  if (usage === 'default') return all.map((d) => d.id);
  return all.filter((d) => linked.some((l) => l.code === d.code)).map((d) => d.id);
}

/**
 * A server newly given a department goes to the end of its order; one that stops serving a department loses its place.
 * Inside the transaction that saves the server.
 */
async function placeInOrders(tx: Stores, serverId: number, before: readonly number[], after: readonly number[]) {
  for (const departmentId of after) if (!before.includes(departmentId)) await tx.departments.appendServer(departmentId, serverId);
  await tx.departments.dropServer(serverId, before.filter((departmentId) => !after.includes(departmentId)));
}

/** The administrator confirmed that these departments are left with no usable server: said in the same transaction. */
/** Whether the server, saved with this usage, still serves a department. */
function stillServesWith(input: Pick<ServerInput, 'usage' | 'departmentCodes'>): (d: Department) => boolean {
  return (d) => input.usage === 'default' || input.departmentCodes.includes(d.code);
}

/** The change would leave a department without a usable server, and that was not confirmed (or no longer holds). */
export class LastUsableServerError extends Error {
  constructor(readonly departments: Department[]) {
    super(`the last usable server of ${departments.map((d) => d.code).join(', ')}`);
  }
}

/**
 * Inside the change's transaction and before its write: the departments it would leave without a usable server,
 * with every department's order locked, so two admins cannot each take away the other's backup at the same time.
 * Throws LastUsableServerError for a department the admin did not confirm.
 */
async function guardLastUsable(tx: Stores, serverId: number, stillServes: ((d: Department) => boolean) | undefined, confirmed: readonly Department[] | undefined): Promise<Department[]> {
  for (const department of await tx.departments.list()) await tx.departments.lockOrder(department.id);
  const left = await departmentsLeftWithout(tx.departments, serverId, stillServes);
  if (left.some((d) => !confirmed?.some((c) => c.code === d.code))) throw new LastUsableServerError(left);
  return left;
}

async function recordLastUsable(tx: Stores, actor: Actor, server: { id: number; title: string }, departments: readonly Department[] | undefined) {
  if (!departments?.length) return;
  await tx.audit.append(actor, {
    action: 'server.lastUsableConfirmed',
    targetType: 'smtp_server',
    targetId: server.id,
    summary: server.title,
    changes: { departments: [null, departments.map((d) => d.code).join(',')] },
  });
}

/** Rows written before the title_sort column existed (migration 0004) get their sort key, once. */
export async function fillMissingSortKeys(stores: Stores): Promise<void> {
  const missing = await stores.servers.missingSortKeys();
  if (missing.length === 0) return;
  await stores.transaction(async (tx) => {
    for (const row of missing) await tx.servers.setSortKey(row.id, normalizeForSearch(row.title));
  });
}

function withUniqueTitle<T>(title: string, write: () => Promise<T>): Promise<T> {
  return write().catch((err: unknown) => {
    if (err instanceof UniqueViolation) throw new DuplicateTitleError(title);
    throw err;
  });
}

/** What the audit trail compares between two states of a server; the password is never among them. */
function describe(
  view: Pick<ServerView, 'departments'> &
    Omit<ServerInput, 'password' | 'departmentCodes' | 'confirmedMismatches' | 'oauthSecret' | 'rateLimitPerMinute'> & { rateLimitPerMinute?: number | null },
): Record<string, unknown> {
  return {
    title: view.title,
    host: view.host,
    port: view.port,
    security: view.security,
    authentication: view.authentication,
    email: view.email,
    senderName: view.senderName,
    username: view.username,
    usage: view.usage,
    departments: view.departments.map((d) => d.code).join(','),
    verifyCertificate: view.verifyCertificate,
    rateLimitPerMinute: view.rateLimitPerMinute ?? null,
    signature: view.signature,
    oauthTenant: view.oauthTenant,
    oauthClientId: view.oauthClientId,
  };
}

/** The rules of the registry over `stores.servers`: unique titles, encryption, what an edit resets, the audit. */
export interface ServerHooks {
  /** After an edit or a deletion is committed: what holds connections to the server (the outbox's pool) lets them go. */
  serverChanged?(serverId: number): void;
}

export function createSmtpServerRepository(stores: Stores, secrets: SecretBox, hooks: ServerHooks = {}) {
  // Read each time (3 to 20 rows): administrators add and rename departments, maybe on another instance.
  const allDepartments = (): Promise<Department[]> => stores.departments.list();

  const unreadable = (envelope: string | null) => envelope !== null && !secrets.keyIds.some((keyId) => envelope.startsWith(envelopePrefix(keyId)));

  function viewOf(server: StoredServer): ServerView {
    const { passwordCiphertext, oauthSecretCiphertext, ...rest } = server;
    return {
      ...rest,
      hasPassword: passwordCiphertext !== null,
      passwordUnreadable: unreadable(passwordCiphertext),
      hasOauthSecret: oauthSecretCiphertext !== null,
      oauthSecretUnreadable: unreadable(oauthSecretCiphertext),
      unusualCombination: mismatchesOf(server).length > 0,
    };
  }

  async function read(tx: Stores, id: number): Promise<ServerView | null> {
    const server = await tx.servers.find(id);
    return server ? viewOf(server) : null;
  }

  /** Every column a form writes, but the password, whose three cases (keep, clear, replace) differ. */
  async function columnsOf(input: ServerInput, served: Department[]): Promise<ServerColumns> {
    // A server for every department is found by any department's name.
    const named = input.usage === 'default' ? await allDepartments() : served;
    return {
      title: input.title,
      titleKey: titleKeyOf(input.title),
      titleSort: normalizeForSearch(input.title),
      host: input.host,
      port: input.port,
      security: input.security,
      authentication: input.authentication,
      email: input.email,
      senderName: input.senderName,
      username: input.username,
      usage: input.usage,
      verifyCertificate: input.verifyCertificate,
      rateLimitPerMinute: input.rateLimitPerMinute,
      signature: input.signature,
      oauthTenant: input.oauthTenant,
      oauthClientId: input.oauthClientId,
      searchText: searchTextOf(input, named.map((d) => d.name)),
    };
  }

  async function servedBy(input: ServerInput): Promise<Department[]> {
    const codes = input.usage === 'custom' ? input.departmentCodes : [];
    return (await allDepartments()).filter((d) => codes.includes(d.code));
  }

  /** The administrator ticked « Je confirme cette combinaison »: which mismatches, as codes, for the audit trail. */
  async function recordConfirmedCombination(tx: Stores, actor: Actor, serverId: number, input: ServerInput) {
    if (input.confirmedMismatches.length === 0) return;
    await tx.audit.append(actor, {
      action: 'server.unusualCombination',
      targetType: 'smtp_server',
      targetId: serverId,
      summary: input.title,
      changes: { combination: [null, input.confirmedMismatches.join(',')], port: [null, input.port], security: [null, input.security] },
    });
  }

  return {
    async listDepartments(): Promise<Department[]> {
      return allDepartments();
    },

    async listServers(query: ServerListQuery = {}): Promise<ServerPage> {
      const result = await stores.servers.page(query, query.page ?? 1, query.perPage ?? defaultPerPage, secrets.keyIds);
      return { ...result, rows: result.rows.map((row) => ({ ...row, unusualCombination: mismatchesOf(row).length > 0 })) };
    },

    /**
     * A consistent, read-only view of the registry for a long read (an export): every pass over it (the PDF makes
     * two) sees the same rows. Close it when done.
     */
    openReadSnapshot(): ServerReadSnapshot {
      return stores.servers.openSnapshot();
    },

    /** Every matching server in display order, as the list shows it, one at a time (from a snapshot of its own). */
    async *iterateServers(query: ServerListFilter = {}): AsyncGenerator<ServerListItem> {
      const snapshot = stores.servers.openSnapshot();
      try {
        for await (const batch of snapshot.batches(query)) yield* batch;
      } finally {
        snapshot.close();
      }
    },

    async findServer(id: number): Promise<ServerView | null> {
      return read(stores, id);
    },

    async titleTaken(title: string, exceptId?: number): Promise<boolean> {
      return stores.servers.titleKeyTaken(titleKeyOf(title), exceptId);
    },

    /** The plaintext password, for connecting to the server. Never for a page, a log or an export. Throws UndecryptableSecretError. */
    async revealPassword(id: number): Promise<string | null> {
      const ciphertext = (await stores.servers.find(id))?.passwordCiphertext;
      if (!ciphertext) return null;
      if (!secrets.canDecrypt(ciphertext)) throw new UndecryptableSecretError(keyIdOf(ciphertext), id);
      return secrets.decrypt(ciphertext);
    },

    /** The plaintext OAuth2 secret (client secret or service account key), for a token request only. Throws UndecryptableSecretError. */
    async revealOauthSecret(id: number): Promise<string | null> {
      const ciphertext = (await stores.servers.find(id))?.oauthSecretCiphertext;
      if (!ciphertext) return null;
      if (!secrets.canDecrypt(ciphertext)) throw new UndecryptableSecretError(keyIdOf(ciphertext), id);
      return secrets.decrypt(ciphertext);
    },

    /**
     * What a saved server authenticates with, its secret revealed (the « typed or stored » rule, towards itself): what
     * smtpAuthFor (src/smtp/credentials.ts) turns into nodemailer's `auth`. Throws UndecryptableSecretError.
     */
    async revealCredentials(server: ServerView): Promise<SmtpCredentials> {
      const password = await passwordFor(savedServerPassword(server), () => this.revealPassword(server.id));
      const oauthSecret = await passwordFor(savedServerOAuthSecret(server), () => this.revealOauthSecret(server.id));
      return credentialsOf(server, { password, oauthSecret });
    },

    /**
     * `copyOf`: the server this one duplicates. A password left blank (`input.password` undefined) then takes the
     * source's stored password: the caller has checked it goes to the same server (storedPasswordStillApplies).
     */
    async createServer(input: ServerInput, actor: Actor, options: { copyOf?: number; logo?: LogoChange } = {}): Promise<ServerView> {
      const all = await allDepartments();
      const served = await servedBy(input);
      const id = await withUniqueTitle(input.title, () =>
        stores.transaction(async (tx) => {
          if (await tx.servers.titleKeyTaken(titleKeyOf(input.title))) throw new DuplicateTitleError(input.title);
          const source = options.copyOf === undefined ? null : await tx.servers.find(options.copyOf);
          const copiedPassword = input.password === undefined && source?.passwordCiphertext ? secrets.decrypt(source.passwordCiphertext) : null;
          const password = input.password ?? copiedPassword;
          // The OAuth2 secret is copied sealed as it is, like an unreadable password would be: the same key opens both.
          const oauthSecretCiphertext = input.oauthSecret === undefined ? source?.oauthSecretCiphertext ?? null : input.oauthSecret === null ? null : secrets.encrypt(input.oauthSecret);
          const id = await tx.servers.insert({ ...(await columnsOf(input, served)), passwordCiphertext: password ? secrets.encrypt(password) : null, oauthSecretCiphertext });
          await tx.servers.setDepartments(id, served.map((d) => d.id));
          await placeInOrders(tx, id, [], servedIds(input.usage, served, all));
          const logo = await applyLogoChange(tx, id, options.logo ?? null);
          const changes = logo ? { logo } : undefined;
          if (source) {
            await tx.audit.append(actor, { action: 'server.duplicate', targetType: 'smtp_server', targetId: id, summary: `${source.title} → ${input.title}`, changes });
          } else {
            await tx.audit.append(actor, { action: 'server.create', targetType: 'smtp_server', targetId: id, summary: input.title, changes });
          }
          await recordConfirmedCombination(tx, actor, id, input);
          return id;
        }),
      );
      return (await read(stores, id))!;
    },

    /**
     * Returns null when the server no longer exists. `expectedVersion`: the version the form was filled from; when the
     * server has changed since (another administrator, another instance), throws StaleServerError and changes nothing.
     */
    async updateServer(
      id: number,
      input: ServerInput,
      actor: Actor,
      options: { expectedVersion?: number; confirmedLastUsable?: Department[]; logo?: LogoChange } = {},
    ): Promise<{ server: ServerView; changes: FieldChanges } | null> {
      const served = await servedBy(input);
      const all = await allDepartments();
      const result = await withUniqueTitle(input.title, () =>
        stores.transaction(async (tx) => {
          const before = await read(tx, id);
          if (!before) return null;
          if (options.expectedVersion !== undefined && options.expectedVersion !== before.version) throw new StaleServerError(before);
          if (await tx.servers.titleKeyTaken(titleKeyOf(input.title), id)) throw new DuplicateTitleError(input.title);
          const leftWithout = await guardLastUsable(tx, id, stillServesWith(input), options.confirmedLastUsable);
          const changes: FieldChanges = {};
          const old = describe(before);
          const next = describe({ ...input, departments: served });
          for (const key of Object.keys(next)) if (old[key] !== next[key]) changes[key] = [old[key], next[key]];
          if (input.password !== undefined && (input.password !== null || before.hasPassword)) {
            changes.password = [before.hasPassword ? 'modifié' : '', input.password === null ? 'effacé' : 'modifié'];
          }
          if (input.oauthSecret !== undefined && (input.oauthSecret !== null || before.hasOauthSecret)) {
            changes.oauthSecret = [before.hasOauthSecret ? 'modifié' : '', input.oauthSecret === null ? 'effacé' : 'modifié'];
          }
          const pathChanged = pathFields.some((field) => field in changes) || 'password' in changes || 'oauthSecret' in changes;
          // The last connection test speaks of the old settings: it no longer says anything about these.
          const testOutdated = pathChanged || 'verifyCertificate' in changes;
          const row: ServerChanges = {
            ...(await columnsOf(input, served)),
            ...(input.password === undefined ? {} : { passwordCiphertext: input.password === null ? null : secrets.encrypt(input.password) }),
            ...(input.oauthSecret === undefined ? {} : { oauthSecretCiphertext: input.oauthSecret === null ? null : secrets.encrypt(input.oauthSecret) }),
            ...(pathChanged
              ? { confirmationStatus: 'unconfirmed', confirmationSentAt: null, confirmationExpiresAt: null, confirmedAt: null, confirmationError: null }
              : {}),
            ...(testOutdated ? { lastTestAt: null, lastTestOk: null, lastTestSummary: null } : {}),
          };
          // Compared with the version just read: a write that slipped in between (another instance) is not overwritten.
          const outcome = await tx.servers.update(id, row, before.version);
          if (outcome === 'missing') return null;
          if (outcome === 'stale') throw new StaleServerError((await read(tx, id))!);
          if (pathChanged) await tx.confirmations.revokeOpen(id, new Date());
          await tx.servers.setDepartments(id, served.map((d) => d.id));
          await placeInOrders(tx, id, servedIds(before.usage, before.departments, all), servedIds(input.usage, served, all));
          const logo = await applyLogoChange(tx, id, options.logo ?? null);
          if (logo) changes.logo = logo;
          if (Object.keys(changes).length) {
            await tx.audit.append(actor, { action: 'server.update', targetType: 'smtp_server', targetId: id, summary: input.title, changes });
          }
          await recordConfirmedCombination(tx, actor, id, input);
          await recordLastUsable(tx, actor, { id, title: input.title }, leftWithout);
          return changes;
        }),
      );
      if (result === null) return null;
      hooks.serverChanged?.(id);
      return { server: (await read(stores, id))!, changes: result };
    },

    /**
     * The departments this server alone would send for now and that the change would leave with none: all of them
     * for a deactivation or a deletion; with `input`, those an edit of its usage would stop it serving.
     */
    async departmentsLeftWithout(id: number, input?: Pick<ServerInput, 'usage' | 'departmentCodes'>): Promise<Department[]> {
      return departmentsLeftWithout(stores.departments, id, input ? stillServesWith(input) : undefined);
    },

    /** A deactivated server is kept and shown, never used to send. null when it no longer exists. */
    async setServerActive(id: number, active: boolean, actor: Actor, options: { confirmedLastUsable?: Department[] } = {}): Promise<ServerView | null> {
      const changed = await stores.transaction(async (tx) => {
        const before = await read(tx, id);
        if (!before) return null;
        if (before.active === active) return before;
        const leftWithout = active ? [] : await guardLastUsable(tx, id, undefined, options.confirmedLastUsable);
        if ((await tx.servers.update(id, { active })) !== 'updated') return null;
        await tx.audit.append(actor, {
          action: active ? 'server.activate' : 'server.deactivate',
          targetType: 'smtp_server',
          targetId: id,
          summary: before.title,
          changes: { active: [before.active, active] },
        });
        await recordLastUsable(tx, actor, before, leftWithout);
        return read(tx, id);
      });
      // A deactivated server's pooled connections are let go: it sends nothing more.
      if (changed && !active) hooks.serverChanged?.(id);
      return changed;
    },

    /** Its departments' links and its confirmation links go with it. */
    async deleteServer(id: number, actor: Actor, options: { confirmedLastUsable?: Department[] } = {}): Promise<ServerView | null> {
      const deleted = await stores.transaction(async (tx) => {
        const existing = await read(tx, id);
        if (!existing) return null;
        const leftWithout = await guardLastUsable(tx, id, undefined, options.confirmedLastUsable);
        await recordLastUsable(tx, actor, existing, leftWithout);
        if (!(await tx.servers.delete(id))) return null;
        await tx.audit.append(actor, { action: 'server.delete', targetType: 'smtp_server', targetId: id, summary: existing.title });
        return existing;
      });
      if (deleted) hooks.serverChanged?.(id);
      return deleted;
    },
  };
}

export type SmtpServerRepository = ReturnType<typeof createSmtpServerRepository>;
