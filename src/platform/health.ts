/**
 * What support looks at first: does the database answer (the readiness check of /readyz), is
 * mail leaving (the outbox's backlog, its oldest waiting letter, failed letters), and are the
 * signing keys in order (one active key per algorithm, what comes next), and when the Gosuslugi
 * certificates expire (ours and ESIA's; esia/lifetimes.ts). Counts and times only:
 * no address, subject or error text of a letter (those may name a person).
 */
import type { AppContext } from '../server/context.js';
import { databaseReachable } from '../server/health.js';
import { listKeys, SIGNING_ALGS, type KeyInfo } from '../oidc/keys.js';
import { keyRetainSeconds } from '../oidc/provider.js';
import { certificateLifetimes, type CertificateLifetime } from '../esia/lifetimes.js';

export interface PlatformHealth {
  database: boolean;
  mail?: { pending: number; failed: number; oldestPendingMinutes: number | null };
  keys?: { active: KeyInfo[]; next: KeyInfo[]; retired: number; algsWithoutActive: string[] };
  /**
   * With Gosuslugi on: every readable certificate, the soonest to expire first. The page shows
   * its file, not its subject: a qualified certificate's subject may name an official.
   */
  esiaCertificates?: CertificateLifetime[];
}

export async function platformHealth(app: AppContext): Promise<PlatformHealth> {
  const esiaCertificates = app.esia ? certificateLifetimes(app.config).sort((a, b) => a.daysLeft - b.daysLeft) : undefined;
  if (!(await databaseReachable(app))) return { database: false, esiaCertificates };
  const [mail, keys] = await Promise.all([mailBacklog(app), keyState(app)]);
  return { database: true, mail, keys, esiaCertificates };
}

async function mailBacklog(app: AppContext): Promise<PlatformHealth['mail']> {
  const row = (await app.db('mail_outbox')
    .select(app.db.raw(`count(*) filter (where status = 'pending') as pending`))
    .select(app.db.raw(`count(*) filter (where status = 'failed') as failed`))
    .select(app.db.raw(`min(created_at) filter (where status = 'pending') as oldest`))
    .first()) as { pending: string | number; failed: string | number; oldest: Date | string | null } | undefined;
  const oldest = row?.oldest ? new Date(row.oldest) : null;
  return {
    pending: Number(row?.pending ?? 0),
    failed: Number(row?.failed ?? 0),
    oldestPendingMinutes: oldest ? Math.max(0, Math.floor((Date.now() - oldest.getTime()) / 60_000)) : null,
  };
}

async function keyState(app: AppContext): Promise<PlatformHealth['keys']> {
  const keys = await listKeys(app.db, { retainSeconds: keyRetainSeconds(app.config) });
  const active = keys.filter((k) => k.state === 'active');
  return {
    active,
    next: keys.filter((k) => k.state === 'next'),
    retired: keys.filter((k) => k.state === 'retired').length,
    // ES256 signs every ID token: a missing active key is an outage in waiting.
    algsWithoutActive: SIGNING_ALGS.filter((alg) => !active.some((k) => k.alg === alg)),
  };
}
