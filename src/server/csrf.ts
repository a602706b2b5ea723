/**
 * CSRF protection of our own forms: a signed double-submit token. A random value lives in an
 * HttpOnly cookie; the form carries HMAC(cookie key, value), which a page on another site (or a
 * cookie planted from a sibling sub-domain) cannot produce.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { safeEqual } from '../crypto/sealed.js';

export const CSRF_COOKIE = 'jid_csrf';
export const CSRF_FIELD = '_csrf';

export class CsrfError extends Error {
  override name = 'CsrfError';
  status = 403;
  expose = true;
}

export function createCsrf(key: string) {
  const sign = (value: string) => createHmac('sha256', key).update(value).digest('base64url');

  /** The token for forms on this response; sets the cookie when the browser has none. */
  function token(ctx: Context): string {
    let value = ctx.state.csrfValue as string | undefined;
    value ??= ctx.cookies.get(CSRF_COOKIE, { signed: false });
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomBytes(32).toString('base64url');
      ctx.cookies.set(CSRF_COOKIE, value, { signed: false, httpOnly: true, sameSite: 'lax', path: '/', overwrite: true });
    }
    ctx.state.csrfValue = value;
    return sign(value);
  }

  /** Middleware for POST routes of our forms: a missing or wrong token ends the request (403). */
  async function verify(ctx: Context, next: Next): Promise<void> {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const sent = typeof body[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : '';
    const value = ctx.cookies.get(CSRF_COOKIE, { signed: false });
    if (!sent || !value || !safeEqual(sent, sign(value))) throw new CsrfError('CSRF token missing or invalid');
    await next();
  }

  return { token, verify };
}

export type Csrf = ReturnType<typeof createCsrf>;
