/**
 * The one mailer: a letter is written to `mail_outbox` in the caller's transaction (it exists if
 * and only if the change that caused it committed), then a worker on any node sends it. A node
 * claims one due letter at a time with FOR UPDATE SKIP LOCKED and pushes it ahead by a lease, so
 * two nodes never send the same letter and a crashed node's letter is taken over after the lease.
 * The claim is the (id, attempts) pair: a node whose lease ran out cannot overwrite the outcome of
 * the node that took over. Failures wait base · 2^(n−1) (capped) and, after the last attempt, stay
 * `failed` with the error for operators. Logs never carry bodies (they hold links that log people
 * in) nor whole addresses: id, letter name, domain only.
 */
import type { Db, Queryable, Tx } from '../db/index.js';
import { affected, rawRows } from '../db/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../server/logger.js';
import type { Locale } from '../i18n/index.js';
import { renderLetter, type LetterName } from './templates.js';
import { createTransport, type Letter, type Transport } from './transport.js';
import { startPoller } from '../server/poller.js';

export interface OutgoingLetter {
  to: string;
  template: LetterName;
  locals: Record<string, unknown>;
  locale: Locale;
}

export interface OutboxEntry {
  id: number;
  to_address: string;
  template: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  sent_at: Date | null;
}

export interface Mailer {
  /** Queues a letter inside the caller's transaction; sending starts once it commits. */
  enqueue(trx: Tx, letter: OutgoingLetter): Promise<{ id: number }>;
  /** Sends what is due now; returns how many letters were tried. */
  deliverDue(limit?: number): Promise<number>;
  list(filter?: { status?: OutboxEntry['status']; limit?: number }): Promise<OutboxEntry[]>;
  /** A failed letter gets a fresh set of attempts (operator's retry). */
  retry(id: number): Promise<boolean>;
  startWorker(): { stop(): void };
  describe: string;
}

interface Claimed {
  id: number;
  from_address: string;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string;
  template: string;
  attempts: number;
}

const domainOf = (address: string) => address.split('@').pop()?.replace(/>$/, '') ?? '';

/** `elena@mail.ru` → `e***@mail.ru`: operators need the domain, not the person. */
export const maskAddress = (address: string) => {
  const at = address.lastIndexOf('@');
  return at < 0 ? '***' : `${address.charAt(0)}***${address.slice(at)}`;
};

/** SMTP replies often quote the recipient (`550 <elena@mail.ru>: no such user`). */
const maskAddresses = (text: string) => text.replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, maskAddress);

export function createMailer(deps: { db: Db; config: Config; logger: Logger; transport?: Transport }): Mailer {
  const { db, config, logger } = deps;
  const settings = config.mail;
  const transport = deps.transport ?? createTransport(config);
  let nudge: (() => void) | undefined;

  const backoff = (attempts: number) => Math.min(settings.backoffMaxSeconds, settings.backoffBaseSeconds * 2 ** Math.max(0, attempts - 1));

  async function enqueue(trx: Tx, l: OutgoingLetter): Promise<{ id: number }> {
    const rendered = renderLetter(l.template, l.locals, l.locale);
    const [row] = (await trx('mail_outbox')
      .insert({
        to_address: l.to,
        from_address: settings.from,
        subject: rendered.subject,
        text_body: rendered.text,
        html_body: rendered.html,
        template: l.template,
      })
      .returning('id')) as { id: number }[];
    // Send soon after the commit instead of at the next poll.
    void trx.executionPromise?.then(() => nudge?.(), () => undefined);
    return { id: row!.id };
  }

  /**
   * Claims the next letter due by `cutoff` for this node (attempt counted, pushed ahead by the
   * lease). The cutoff keeps a letter that just failed with no backoff out of the same round.
   */
  async function claim(cutoff: string): Promise<Claimed | undefined> {
    const [letter] = await rawRows<Claimed>(
      db,
      `update mail_outbox set attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ?)
       where id = (select id from mail_outbox where status = 'pending' and next_attempt_at <= least(now(), ?::timestamptz)
                   order by next_attempt_at, id limit 1 for update skip locked)
       returning id, from_address, to_address, subject, text_body, html_body, template, attempts`,
      [settings.leaseSeconds, cutoff],
    );
    return letter;
  }

  // One letter per claim: the lease has to cover one SMTP exchange, not a whole batch.
  async function deliverDue(limit = 20): Promise<number> {
    // The database's clock, as text: a JS Date would drop the microseconds (a letter made due in
    // the same millisecond would be skipped) and another host's clock may be skewed.
    const [{ cutoff }] = await rawRows<{ cutoff: string }>(db, 'select clock_timestamp()::text as cutoff');
    let tried = 0;
    for (let l: Claimed | undefined; tried < limit && (l = await claim(cutoff)); tried++) await deliver(l);
    return tried;
  }

  async function deliver(l: Claimed) {
    const letter: Letter = { id: l.id, from: l.from_address, to: l.to_address, subject: l.subject, text: l.text_body, html: l.html_body };
    // A fresh builder each time: knex builders are mutable, and the error path may follow a failed update.
    const ours = () => db('mail_outbox').where({ id: l.id, attempts: l.attempts, status: 'pending' });
    const about = { id: l.id, template: l.template, domain: domainOf(l.to_address) };
    try {
      await transport.send(letter);
      if (affected(await ours().update({ status: 'sent', sent_at: db.fn.now(), last_error: null }))) logger.info('mail sent', { ...about, via: transport.describe });
      else logger.warn('mail sent after its lease ran out: another node took it over and may send it too', about);
    } catch (err) {
      const final = l.attempts >= settings.maxAttempts;
      const message = maskAddresses(String((err as Error).message ?? err)).slice(0, 500);
      await ours().update({
        status: final ? 'failed' : 'pending',
        last_error: message,
        next_attempt_at: db.raw(`now() + make_interval(secs => ?)`, [backoff(l.attempts)]),
      });
      logger.warn('mail not sent', { ...about, attempts: l.attempts, final, error: message });
    }
  }

  async function list(filter: { status?: OutboxEntry['status']; limit?: number } = {}): Promise<OutboxEntry[]> {
    const q = db('mail_outbox')
      .select('id', 'to_address', 'template', 'status', 'attempts', 'next_attempt_at', 'last_error', 'created_at', 'sent_at')
      .orderBy('id', 'desc')
      .limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.status) q.where({ status: filter.status });
    return (await q) as OutboxEntry[];
  }

  async function retry(id: number): Promise<boolean> {
    return affected(await db('mail_outbox').where({ id, status: 'failed' }).update({ status: 'pending', attempts: 0, next_attempt_at: db.fn.now() })) > 0;
  }

  function startWorker() {
    const poller = startPoller({ name: 'mail', intervalSeconds: settings.pollSeconds, logger, round: () => deliverDue() });
    nudge = poller.nudge;
    return {
      stop() {
        nudge = undefined;
        poller.stop();
        transport.close();
      },
    };
  }

  return { enqueue, deliverDue, list, retry, startWorker, describe: transport.describe };
}

/**
 * The letters still to send and how long the oldest has waited (by the database's clock), for
 * the metrics. Only pending rows are read (the partial index `mail_outbox_due`): sent letters
 * stay in the table, and a scrape every few seconds must not read them all.
 */
export async function pendingBacklog(db: Queryable): Promise<{ pending: number; oldestSeconds: number }> {
  const [row] = await rawRows<{ pending: number | string; oldest: number | string | null }>(
    db,
    `select count(*) as pending, extract(epoch from clock_timestamp() - min(created_at)) as oldest
       from mail_outbox where status = 'pending'`,
  );
  return { pending: Number(row?.pending ?? 0), oldestSeconds: Math.max(0, Number(row?.oldest ?? 0)) };
}
