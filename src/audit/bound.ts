/**
 * Audit from the request: each request (and each CLI run, each job) gets one bound writer that
 * already knows who acts, from which address, in which request and through which client. Handlers
 * and the account library say only what happened and to whom; the actor is always who acted,
 * because only the surface that authenticated someone may name them (`actAs`).
 *
 * Modelled on Logto's koa-audit-log (a log entry bound to the request, filled by the handler).
 */
import { userInfo } from 'node:os';
import type { Context, Next } from 'koa';
import type { Queryable } from '../db/index.js';
import { writeAudit, type ActorType, type AuditEvent } from './audit.js';

export interface AuditActor {
  type: ActorType;
  id?: string;
}

/** What a handler says: the action and its subject. Who, where and through what are bound. */
export type Happened = Omit<AuditEvent, 'actor' | 'ip' | 'requestId' | 'clientId'> & {
  /** The relying party the change went through, when it is not the request's own client. */
  clientId?: string;
};

export interface AuditBinding {
  actor: AuditActor;
  ip?: string;
  requestId?: string;
  clientId?: string;
}

export interface AuditWriter {
  readonly binding: Readonly<AuditBinding>;
  /** Record one event; pass the transaction that makes the change so the record commits with it. */
  record(event: Happened, db?: Queryable): Promise<void>;
  /** The same request, another actor (once a surface has authenticated someone). */
  as(actor: AuditActor, extra?: { clientId?: string }): AuditWriter;
}

export function boundAudit(db: Queryable, binding: AuditBinding): AuditWriter {
  const frozen = Object.freeze({ ...binding, actor: Object.freeze({ ...binding.actor }) });
  return {
    binding: frozen,
    record: (event, trx) =>
      writeAudit(trx ?? db, {
        ...event,
        actor: frozen.actor,
        ip: frozen.ip,
        requestId: frozen.requestId,
        clientId: event.clientId ?? frozen.clientId,
      }),
    as: (actor, extra = {}) => boundAudit(db, { ...frozen, ...extra, actor }),
  };
}

/** The CLI's writer: the operator is the system user who ran the command. */
export function cliAudit(db: Queryable): AuditWriter {
  let operator: string | undefined;
  try {
    operator = process.env.SUDO_USER || userInfo().username;
  } catch {
    operator = undefined; // no passwd entry (a container's arbitrary uid)
  }
  return boundAudit(db, { actor: { type: 'cli', id: operator } });
}

/** Jobs and start-up: nobody acted but the service itself. */
export function systemAudit(db: Queryable, what?: string): AuditWriter {
  return boundAudit(db, { actor: { type: 'system', id: what } });
}

/**
 * The middleware: every request starts anonymous, with its address and request id (set by
 * requestContext, which runs before).
 */
export function requestAudit(db: Queryable) {
  return async function requestAuditMiddleware(ctx: Context, next: Next): Promise<void> {
    ctx.state.audit = boundAudit(db, { actor: { type: 'anonymous' }, ip: ctx.ip, requestId: ctx.state.requestId as string | undefined });
    await next();
  };
}

/** The request's writer. */
export function auditOf(ctx: Context): AuditWriter {
  const writer = ctx.state.audit as AuditWriter | undefined;
  if (!writer) throw new Error('no audit writer bound: requestAudit must run before the routes');
  return writer;
}

/** Called by the surface that authenticated the actor: from here on the request acts as them. */
export function actAs(ctx: Context, actor: AuditActor, extra?: { clientId?: string }): AuditWriter {
  const writer = auditOf(ctx).as(actor, extra);
  ctx.state.audit = writer;
  return writer;
}
