/**
 * Certificate lifetimes (issue 21.3). ESIA replaces its token certificates about yearly, and our
 * own GOST certificate, issued by an accredited CA, lives a year: either running out stops every
 * Gosuslugi login. So at start an expired certificate of ours stops the start (one line), and at
 * start and daily any listed certificate — ours (ESIA_CERT_FILE) or ESIA's (ESIA_CERTS) — within
 * EXPIRY_WARNING_DAYS is logged as a warning; the metrics (esia_certificate_days_left) and the
 * platform health page read the same list.
 *
 * Dates come from node:crypto's X509Certificate, which reads a GOST certificate's dates though not
 * its key.
 */
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { Logger } from '../server/logger.js';
import { startPoller, type Poller } from '../server/poller.js';
import { certificateBlocks } from './certificates.js';

export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

/** client: ours, registered on ESIA's technology portal; esia: one of ESIA's token certificates. */
export type CertificateRole = 'client' | 'esia';

export interface CertificateLifetime {
  role: CertificateRole;
  file: string;
  subject: string;
  notAfter: Date;
  /** Whole days until notAfter; negative once expired. */
  daysLeft: number;
  state: 'ok' | 'expiring' | 'expired';
}

/** The files to watch: ours when at hand (openssl-gost, dev; http when ESIA_CERT_FILE is given too) and ESIA's. */
function watched(config: Config): Array<{ role: CertificateRole; file: string }> {
  const e = config.esia;
  if (!e.clientId) return [];
  return [...(e.certFile ? [{ role: 'client' as const, file: e.certFile }] : []), ...e.certFiles.map((file) => ({ role: 'esia' as const, file }))];
}

/** Every readable certificate of the watched files (unreadable ones are the start-up check's). */
export function certificateLifetimes(config: Config, now = Date.now()): CertificateLifetime[] {
  const out: CertificateLifetime[] = [];
  for (const { role, file } of watched(config)) {
    let blocks: string[];
    try {
      blocks = certificateBlocks(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    for (const pem of blocks) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(pem);
      } catch {
        continue;
      }
      const notAfter = new Date(cert.validTo);
      const daysLeft = Math.floor((notAfter.getTime() - now) / DAY_MS);
      const state = notAfter.getTime() <= now ? 'expired' : daysLeft < EXPIRY_WARNING_DAYS ? 'expiring' : 'ok';
      out.push({ role, file, subject: cert.subject.replace(/\n/g, ', '), notAfter, daysLeft, state });
    }
  }
  return out;
}

/** One line for the start when a certificate of ours has expired (ESIA refuses it: ESIA-007053). */
export function expiredOwnCertificate(config: Config, now = Date.now()): string | undefined {
  const expired = certificateLifetimes(config, now).find((c) => c.role === 'client' && c.state === 'expired');
  if (!expired) return undefined;
  return `config: ESIA_CERT_FILE ${expired.file} expired on ${expired.notAfter.toISOString().slice(0, 10)}; ESIA refuses requests signed with it — register a renewed certificate on ESIA's technology portal and set it here`;
}

/** Logs each certificate within EXPIRY_WARNING_DAYS (or past it); the number of them. */
export function warnExpiringCertificates(config: Config, logger: Logger, now = Date.now()): number {
  const soon = certificateLifetimes(config, now).filter((c) => c.state !== 'ok');
  for (const c of soon) {
    const whose = c.role === 'client' ? 'our ESIA client certificate (ESIA_CERT_FILE)' : "ESIA's token certificate (ESIA_CERTS)";
    logger.warn(c.state === 'expired' ? `${whose} has expired` : `${whose} expires in ${c.daysLeft} days`, {
      file: c.file, subject: c.subject, notAfter: c.notAfter.toISOString(),
    });
  }
  return soon.length;
}

/** The daily warning (the start logs it once already). */
export function startCertificateWatch(config: Config, logger: Logger): Poller {
  let first = true;
  return startPoller({
    name: 'ESIA certificate lifetimes',
    intervalSeconds: DAY_MS / 1000,
    logger,
    round: async () => {
      if (!first) warnExpiringCertificates(config, logger);
      first = false;
      return 0;
    },
  });
}
