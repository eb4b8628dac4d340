import type { ProbeReport } from '../smtp/report.js';
import type { KeptCertificate, SeenCertificate } from './store.js';

/** Days before expiry at which a certificate is flagged, most urgent last. */
export const certificateThresholds = [30, 14, 7] as const;
export type CertificateThreshold = (typeof certificateThresholds)[number] | 'expired';

/** How long an issuer change stays flagged after it was seen. */
export const issuerChangeFlagMs = 7 * 24 * 3_600_000;

export interface CertificateWarning {
  /** The tightest threshold reached (7 within 7 days…), 'expired', or null when further than 30 days away. */
  threshold: CertificateThreshold | null;
  /** Whole days left, rounded up (a certificate expiring in 9 days and 23 hours has 10); 0 or less once expired. */
  daysLeft: number | null;
  /** The issuer differs from the one seen before, and the change is recent (issuerChangeFlagMs). */
  issuerChanged: boolean;
}

const dayMs = 24 * 3_600_000;

/** What to flag about a kept certificate now; null when there is nothing to say (or no certificate). */
export function certificateWarningOf(certificate: KeptCertificate | null | undefined, now: Date): CertificateWarning | null {
  if (!certificate) return null;
  const left = certificate.validTo ? certificate.validTo.getTime() - now.getTime() : null;
  const daysLeft = left === null ? null : Math.ceil(left / dayMs);
  let threshold: CertificateThreshold | null = null;
  if (left !== null && left <= 0) threshold = 'expired';
  else if (daysLeft !== null) for (const days of certificateThresholds) if (daysLeft <= days) threshold = days;
  const issuerChanged =
    certificate.previousIssuer !== null &&
    certificate.previousIssuer !== certificate.issuer &&
    certificate.issuerChangedAt !== null &&
    now.getTime() - certificate.issuerChangedAt.getTime() < issuerChangeFlagMs;
  if (threshold === null && !issuerChanged) return null;
  return { threshold, daysLeft, issuerChanged };
}

/** The certificate a probe report saw, if its conversation reached TLS. */
export function seenCertificateOf(report: ProbeReport): SeenCertificate | null {
  const tls = report.tls;
  if (!tls || !tls.issuer) return null;
  return { subject: tls.subject, issuer: tls.issuer, validTo: tls.validTo ? new Date(tls.validTo) : null, fingerprint: tls.fingerprint256 };
}
