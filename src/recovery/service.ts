/**
 * Password recovery (FAQ «Как восстановить доступ»). A request only records «recovery was asked
 * for this address» — the same work whether the address is known or not, so neither the page nor
 * its timing tells them apart. A worker then looks the address up: for each account with that
 * confirmed address it makes a single-use link, and sends one letter with the login(s) and links
 * (a parent may have accounts in two schools). Unknown and unconfirmed addresses get no letter.
 * Setting the new password ends the person's other sessions and tells them by letter.
 */
import type { Db, Tx } from '../db/index.js';
import { rawRows } from '../db/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../server/logger.js';
import type { Mailer } from '../email/outbox.js';
import type { Locale } from '../i18n/index.js';
import { startPoller, type Poller } from '../server/poller.js';
import { issueToken } from '../email/tokens.js';
import { recordOutcome, type RecoveryResult } from '../metrics/outcomes.js';

export interface RecoveryService {
  /** Records the request (nothing else) and wakes the worker. */
  request(r: { email: string; locale: Locale; ip: string }): Promise<void>;
  /** One round of the worker: pending requests → letters. Returns how many requests it handled. */
  processDue(limit?: number): Promise<number>;
  startWorker(): { stop(): void };
}

/** An account a recovery letter is for: its confirmed address and where it belongs. */
export interface RecoveryAccount {
  id: string;
  login: string;
  email: string;
  first_name: string | null;
  school_name: string | null;
  school_slug: string | null;
}

export function createRecoveryService(deps: { db: Db; config: Config; logger: Logger; mail: Mailer }): RecoveryService {
  const { db, config, logger, mail } = deps;
  let poller: Poller | undefined;

  async function request(r: { email: string; locale: Locale; ip: string }): Promise<void> {
    await db('recovery_requests').insert({ email: r.email.toLowerCase(), locale: r.locale, ip: r.ip });
    poller?.nudge();
  }

  async function processDue(limit = 20): Promise<number> {
    const letters: RecoveryResult[] = [];
    const handled = await db.transaction(async (trx) => {
      const requests = await rawRows<{ id: number; email: string; locale: Locale }>(
        trx,
        `select id, email, locale from recovery_requests where processed_at is null order by id limit ? for update skip locked`,
        [limit],
      );
      // One letter per address per round, however many times it was asked for meanwhile.
      const byEmail = new Map(requests.map((r) => [r.email, r]));
      for (const r of byEmail.values()) {
        const accounts = (await trx('users as u')
          .leftJoin('schools as s', 's.id', 'u.school_id')
          .select('u.id', 'u.login', 'u.email', 'u.first_name', 's.name as school_name', 's.slug as school_slug')
          .whereRaw('lower(u.email) = ?', [r.email])
          .whereNotNull('u.email_verified_at')
          .whereNull('u.disabled_at')
          .orderBy(['s.name', 'u.login'])) as RecoveryAccount[];
        letters.push(accounts.length ? 'sent' : 'no_account');
        if (!accounts.length) continue;
        await sendRecoveryLetter(trx, { config, mail }, accounts, r.locale);
      }
      if (requests.length) {
        await trx('recovery_requests').whereIn('id', requests.map((r) => r.id)).update({ processed_at: trx.fn.now() });
        logger.info('recovery requests handled', { count: requests.length });
      }
      return requests.length;
    });
    // Counted once committed: a round that rolled back is done again.
    for (const outcome of letters) recordOutcome(undefined, { event: 'recovery', step: 'letter', outcome });
    return handled;
  }

  function startWorker() {
    poller = startPoller({ name: 'recovery', intervalSeconds: config.mail.pollSeconds, logger, round: () => processDue() });
    const started = poller;
    return {
      stop() {
        started.stop();
        if (poller === started) poller = undefined;
      },
    };
  }

  return { request, processDue, startWorker };
}

/**
 * One letter to the address of `accounts` (all with that confirmed address) with a single-use
 * link per account. Also the curator's «send a link» (src/curator/routes.ts): the person sets a
 * password only they know, and the old one works until then.
 */
export async function sendRecoveryLetter(trx: Tx, deps: { config: Config; mail: Mailer }, accounts: RecoveryAccount[], locale: Locale): Promise<void> {
  const links = [];
  for (const a of accounts) {
    const token = await issueToken(trx, { userId: a.id, purpose: 'recover', email: a.email, ttlSeconds: deps.config.links.recoverTtlSeconds });
    links.push({ login: a.login, school: a.school_name ?? '', url: `${deps.config.issuer}/recover/${token}` });
  }
  await deps.mail.enqueue(trx, {
    to: accounts[0]!.email,
    template: 'recovery',
    locale,
    locals: { name: accounts[0]!.first_name ?? '', accounts: links, minutes: Math.round(deps.config.links.recoverTtlSeconds / 60) },
  });
}
