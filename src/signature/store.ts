export const logoContentTypes = ['image/png', 'image/jpeg', 'image/gif'] as const;
export type LogoContentType = (typeof logoContentTypes)[number];

/** What is known of a server's logo without its bytes: enough for the form and the audit trail. */
export interface LogoFacts {
  contentType: LogoContentType;
  width: number;
  height: number;
  /** In bytes. */
  size: number;
}

/** A server's logo as stored beside it (table server_logos), for the signature of its mails. */
export interface StoredLogo extends LogoFacts {
  serverId: number;
  bytes: Buffer;
  updatedAt: Date;
}

export type LogoDescription = Omit<StoredLogo, 'bytes'>;

/** The logos, one per server, apart from the servers' rows so the list never reads them. */
export interface LogoStore {
  find(serverId: number): Promise<StoredLogo | null>;
  /** The logo without its bytes. */
  describe(serverId: number): Promise<LogoDescription | null>;
  /** Stores or replaces the server's logo. */
  put(logo: StoredLogo): Promise<void>;
  /** true when there was one. */
  remove(serverId: number): Promise<boolean>;
}
