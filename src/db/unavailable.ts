/**
 * The database away (restarting, failing over, refusing connections, out of connection slots):
 * not a bug of ours, and the request may simply be retried — people get 503 with Retry-After,
 * not 500 (issue 16.10). The one classifier, used by our error boundary (server/errors.ts) and
 * by the provider's error rendering (oidc/unavailable.ts).
 *
 * knex puts the SQL before the driver's message ("select … - Connection terminated
 * unexpectedly") and keeps the driver's `code`; a refused connection may come as an
 * AggregateError (one per address tried) or as the `cause` of another error.
 */

/** Seconds a client is asked to wait (Retry-After) before trying again. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/**
 * SQLSTATE: 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up,
 * shutting down, in recovery), 53300 too many connections; class 08 connection exceptions.
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const MESSAGES = /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed and is not queryable|the database system is (starting up|shutting down|in recovery)/i;

export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || SQLSTATES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
  // The pool found no connection in time: every one busy or none could be opened.
  if (e.name === 'KnexTimeoutError') return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}
