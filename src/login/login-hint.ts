/**
 * The login just registered, remembered for a day so that the next login form has it filled in
 * (FAQ: after registration «будет предложено войти в журнал по логину и паролю»). Signed, so
 * another site cannot plant a login into the form.
 */
import type { Context } from 'koa';

const LOGIN_COOKIE = 'jid_login';

export function rememberLogin(ctx: Context, login: string): void {
  ctx.cookies.set(LOGIN_COOKIE, encodeURIComponent(login), {
    signed: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: 24 * 3600 * 1000, overwrite: true,
  });
}

export function rememberedLogin(ctx: Context): string | undefined {
  const v = ctx.cookies.get(LOGIN_COOKIE, { signed: true });
  if (!v) return undefined;
  try {
    return decodeURIComponent(v).slice(0, 100);
  } catch {
    return undefined;
  }
}
