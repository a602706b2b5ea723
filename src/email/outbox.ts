/**
 * The one mailer: a letter is written to `mail_outbox` in the caller's transaction (it exists if
 * and only if the change that caused it committed), then a worker on any node sends it. A node
 * claims due letters with FOR UPDATE SKIP LOCKED and pushes them ahead by a lease, so two nodes
 * never send the same letter and a crashed node's letters are taken over later. Failures wait
 * base · 2^(n−1) (capped) and, after the last attempt, stay `failed` with the error for operators.
 * Logs never carry bodies (they hold links that log people in): id, letter name, domain only.
 */
import type { Db, Tx } from '../db/index.js';
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

const domainOf = (address: string) => address.split('@').pop()?.replace(/>$/, '') ?? '';

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

  async function deliverDue(limit = 20): Promise<number> {
    const letters = await rawRows<{ id: number; from_address: string; to_address: string; subject: string; text_body: string; html_body: string; template: string; attempts: number }>(
      db,
      `update mail_outbox set attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ?)
       where id in (select id from mail_outbox where status = 'pending' and next_attempt_at <= now()
                    order by next_attempt_at, id limit ? for update skip locked)
       returning id, from_address, to_address, subject, text_body, html_body, template, attempts`,
      [settings.leaseSeconds, limit],
    );
    for (const l of letters) await deliver(l);
    return letters.length;
  }

  async function deliver(l: { id: number; from_address: string; to_address: string; subject: string; text_body: string; html_body: string; template: string; attempts: number }) {
    const letter: Letter = { id: l.id, from: l.from_address, to: l.to_address, subject: l.subject, text: l.text_body, html: l.html_body };
    try {
      await transport.send(letter);
      await db('mail_outbox').where({ id: l.id }).update({ status: 'sent', sent_at: db.fn.now(), last_error: null });
      logger.info('mail sent', { id: l.id, template: l.template, domain: domainOf(l.to_address), via: transport.describe });
    } catch (err) {
      const final = l.attempts >= settings.maxAttempts;
      const message = String((err as Error).message ?? err).slice(0, 500);
      await db('mail_outbox')
        .where({ id: l.id })
        .update({
          status: final ? 'failed' : 'pending',
          last_error: message,
          next_attempt_at: db.raw(`now() + make_interval(secs => ?)`, [backoff(l.attempts)]),
        });
      logger.warn('mail not sent', { id: l.id, template: l.template, domain: domainOf(l.to_address), attempts: l.attempts, final, error: message });
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
