/**
 * CSRF protection of our own forms: a signed double-submit token. A random value lives in an
 * HttpOnly cookie; the form carries HMAC(cookie key, value), which a page on another site cannot
 * produce. A value with its token can be learnt by visiting us, so the cookie must not be
 * plantable from elsewhere: over TLS its `__Host-` name forbids that (below).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { safeEqual } from '../crypto/sealed.js';

export const CSRF_COOKIE = 'jid_csrf';

/**
 * Over TLS the cookie is `__Host-jid_csrf`: the browser accepts it only Secure, for Path=/ and
 * from this very host, so a sibling sub-domain (another school's host, say) cannot plant a value
 * whose token it learnt from its own visit. Plain HTTP (development) keeps the plain name.
 */
const cookieName = (ctx: Context) => (ctx.secure ? `__Host-${CSRF_COOKIE}` : CSRF_COOKIE);
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
    value ??= ctx.cookies.get(cookieName(ctx), { signed: false });
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomBytes(32).toString('base64url');
      ctx.cookies.set(cookieName(ctx), value, { signed: false, httpOnly: true, sameSite: 'lax', path: '/', overwrite: true, secure: ctx.secure });
    }
    ctx.state.csrfValue = value;
    return sign(value);
  }

  /** Middleware for POST routes of our forms: a missing or wrong token ends the request (403). */
  async function verify(ctx: Context, next: Next): Promise<void> {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const sent = typeof body[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : '';
    const value = ctx.cookies.get(cookieName(ctx), { signed: false });
    if (!sent || !value || !safeEqual(sent, sign(value))) throw new CsrfError('CSRF token missing or invalid');
    await next();
  }

  return { token, verify };
}

export type Csrf = ReturnType<typeof createCsrf>;
