/**
 * Ending every session of an account (password set by a curator, account disabled, "log out
 * everywhere"): its sessions, grants, tokens and console sessions are deleted in one transaction, and each relying
 * party that was signed in gets a back-channel logout through a queue with retries — oidc-provider
 * itself sends one only from /session/end, inline and once.
 */
import { startPoller } from '../server/poller.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../server/logger.js';
import type { OidcService } from './provider.js';
import { destroyByAccountId } from './adapter-queries.js';
import type { Context } from 'koa';
import type { AuditWriter } from '../audit/bound.js';
import { endConsoleSessionsOf } from '../curator/console-sessions.js';

export interface EndSessionsResult {
  sessions: number;
  grants: number;
  tokens: number;
  /** Sessions of the curator / platform console (console-sessions.ts). */
  consoleSessions: number;
  logoutsQueued: number;
}

export interface EndSessionsWhy {
  reason: string;
  /** Who ended them: the request's (or the CLI's, a job's) bound writer records `sessions.ended`. */
  by: AuditWriter;
  /** All but this browser: its SSO session and its apps' grants and tokens stay (a person who just proved the password). */
  keepSessionOf?: Context;
}

export interface SessionService {
  endSessions(accountId: string, why: EndSessionsWhy): Promise<EndSessionsResult>;
  /** Only the curator/platform console sessions (a revoked role). */
  endConsoleSessions(accountId: string, why: EndSessionsWhy): Promise<number>;
  /** Sends the back-channel logouts that are due; returns how many were attempted. */
  deliverDue(limit?: number): Promise<number>;
  startWorker(): { stop(): void };
}

interface Job {
  id: number;
  client_id: string;
  account_id: string;
  sid: string | null;
  attempts: number;
}

/** Seconds to wait before attempt n+1: 10 s, 40 s, 2.7 min, 10.7 min, 43 min… */
const backoff = (attempts: number) => Math.min(6 * 3600, 10 * 4 ** (attempts - 1));

export function createSessionService(deps: {
  db: Db;
  oidc: OidcService;
  logger: Logger;
  maxAttempts: number;
  pollSeconds: number;
}): SessionService {
  const { db, oidc, logger } = deps;

  /** This browser's session of the account, to keep: its storage id and its apps' grants. */
  async function browserSession(ctx: Context, accountId: string) {
    const session = await oidc.provider.Session.get(ctx as never);
    if (session.accountId !== accountId) return undefined;
    const auths = (session.authorizations ?? {}) as Record<string, { grantId?: string }>;
    return { sessionId: session.jti, grantIds: Object.values(auths).flatMap((a) => (a.grantId ? [a.grantId] : [])) };
  }

  async function endSessions(accountId: string, why: EndSessionsWhy) {
    const keep = why.keepSessionOf ? await browserSession(why.keepSessionOf, accountId) : undefined;
    return db.transaction(async (trx) => {
      const rows = await destroyByAccountId(trx, accountId, keep);
      const consoleSessions = await endConsoleSessionsOf(trx, accountId);
      const pairs = new Map<string, { clientId: string; sid: string | null }>();
      for (const row of rows.filter((r) => r.model === 'Session')) {
        const auths = (row.payload.authorizations ?? {}) as Record<string, { sid?: string }>;
        for (const [clientId, auth] of Object.entries(auths)) {
          pairs.set(`${clientId} ${auth.sid}`, { clientId, sid: auth.sid ?? null });
        }
      }
      if (pairs.size) {
        await trx('backchannel_logouts').insert(
          [...pairs.values()].map((p) => ({ client_id: p.clientId, account_id: accountId, sid: p.sid })),
        );
      }
      const result: EndSessionsResult = {
        sessions: rows.filter((r) => r.model === 'Session').length,
        grants: rows.filter((r) => r.model === 'Grant').length,
        tokens: rows.filter((r) => /Token$|Code$/.test(r.model)).length,
        consoleSessions,
        logoutsQueued: pairs.size,
      };
      await why.by.record({
        action: 'sessions.ended',
        target: { type: 'user', id: accountId },
        details: { reason: why.reason, ...result, ...(keep ? { keptThisBrowser: true } : {}) },
      }, trx);
      return result;
    });
  }

  async function endConsoleSessions(accountId: string, why: EndSessionsWhy) {
    return db.transaction(async (trx) => {
      const consoleSessions = await endConsoleSessionsOf(trx, accountId);
      await why.by.record({
        action: 'sessions.ended',
        target: { type: 'user', id: accountId },
        details: { reason: why.reason, consoleSessions },
      }, trx);
      return consoleSessions;
    });
  }

  /** Claims due jobs with a lease (so several nodes never send the same one), then sends them. */
  async function deliverDue(limit = 20): Promise<number> {
    const res = await db.raw(
      `update backchannel_logouts set attempts = attempts + 1, next_attempt_at = now() + interval '5 minutes'
       where id in (select id from backchannel_logouts where status = 'pending' and next_attempt_at <= now()
                    order by next_attempt_at limit ? for update skip locked)
       returning id, client_id, account_id, sid, attempts`,
      [limit],
    );
    const jobs = (res.rows ?? res) as Job[];
    for (const job of jobs) await deliver(job);
    return jobs.length;
  }

  async function deliver(job: Job): Promise<void> {
    const client = await oidc.provider.Client.find(job.client_id).catch(() => undefined);
    if (!client?.backchannelLogoutUri) {
      await db('backchannel_logouts').where({ id: job.id }).update({ status: 'sent', last_error: 'client has no back-channel logout' });
      return;
    }
    try {
      const send = (client as unknown as { backchannelLogout(sub: string, sid?: string): Promise<void> }).backchannelLogout;
      await send.call(client, job.account_id, job.sid ?? undefined);
      await db('backchannel_logouts').where({ id: job.id }).update({ status: 'sent', sent_at: db.fn.now(), last_error: null });
    } catch (err) {
      const failed = job.attempts >= deps.maxAttempts;
      const message = String((err as Error).message).slice(0, 500);
      await db('backchannel_logouts')
        .where({ id: job.id })
        .update({
          status: failed ? 'failed' : 'pending',
          last_error: message,
          next_attempt_at: db.raw(`now() + make_interval(secs => ?)`, [backoff(job.attempts)]),
        });
      logger.warn('back-channel logout failed', { clientId: job.client_id, attempts: job.attempts, final: failed, error: message });
    }
  }

  function startWorker() {
    return startPoller({ name: 'back-channel logout', intervalSeconds: deps.pollSeconds, logger, round: () => deliverDue() });
  }

  return { endSessions, endConsoleSessions, deliverDue, startWorker };
}
