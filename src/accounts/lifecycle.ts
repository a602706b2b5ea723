/**
 * The accounts' life after school (152-ФЗ: no longer than needed), run on every node like the
 * other queues: an account whose roster entry left the school more than LEAVER_GRACE_DAYS ago is
 * disabled (its sessions end; the curator can enable it again), and audit entries older than
 * AUDIT_ADDRESS_DAYS keep a keyed pseudonym instead of the client address (the same address
 * gives the same pseudonym, so patterns stay visible; without the key it cannot be reversed).
 */
import { pseudonymizeAuditAddresses as pseudonymizeOldAddresses } from '../audit/audit.js';
import { createHmac } from 'node:crypto';
import type { AppContext } from '../server/context.js';
import { systemAudit } from '../audit/bound.js';
import { findAccountById } from './queries.js';
import { disableAccount } from './status.js';
import { startPoller, type Poller } from '../server/poller.js';

const BATCH = 200;

export async function disableLeavers(app: AppContext): Promise<number> {
  const { db } = app;
  const due = (await db('users')
    .whereNull('disabled_at')
    .whereIn('person_id', db('people').select('id').whereRaw('left_at < clock_timestamp() - make_interval(days => ?)', [app.config.retention.leaverGraceDays]))
    .limit(BATCH)
    .select('id')) as { id: string }[];
  const by = systemAudit(db);
  for (const u of due) {
    const account = await findAccountById(db, u.id);
    if (account) await disableAccount(app, account, by, { reason: 'left the school', details: { reason: 'left the school' } });
  }
  return due.length;
}

export function addressPseudonym(key: Buffer, ip: string): string {
  return `anon-${createHmac('sha256', key).update(ip).digest('hex').slice(0, 16)}`;
}

export async function pseudonymizeAuditAddresses(app: AppContext): Promise<number> {
  const key = createHmac('sha256', app.config.secrets.keyEncryptionKey).update('audit address pseudonyms').digest();
  return app.db.transaction((trx) => pseudonymizeOldAddresses(trx, app.config.retention.auditAddressDays, BATCH * 5, (ip) => addressPseudonym(key, ip)));
}

export function startLifecycle(app: AppContext): Poller {
  return startPoller({
    name: 'account lifecycle',
    intervalSeconds: app.config.retention.pollSeconds,
    logger: app.logger,
    round: async () => (await disableLeavers(app)) + (await pseudonymizeAuditAddresses(app)),
  });
}
