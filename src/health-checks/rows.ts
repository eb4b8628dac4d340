import type { KeptCertificate } from './store.js';

/** A check row's certificate columns, as both stores read them. */
export interface CertificateColumns {
  serverId: number;
  certSubject: string | null;
  certIssuer: string | null;
  certValidTo: Date | null;
  certFingerprint: string | null;
  certSeenAt: Date | null;
  certPreviousIssuer: string | null;
  certIssuerChangedAt: Date | null;
}

export function keptCertificateOf(row: CertificateColumns): KeptCertificate | null {
  if (row.certIssuer === null || row.certSeenAt === null) return null;
  return {
    serverId: row.serverId,
    subject: row.certSubject ?? '',
    issuer: row.certIssuer,
    validTo: row.certValidTo,
    fingerprint: row.certFingerprint,
    seenAt: row.certSeenAt,
    previousIssuer: row.certPreviousIssuer,
    issuerChangedAt: row.certIssuerChangedAt,
  };
}
