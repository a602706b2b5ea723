/**
 * Known-device cookies (OWASP «Slow Down Online Guessing Attacks with Device Cookies»). After a
 * correct password the browser gets a signed, HttpOnly cookie for that account: the account id,
 * the account's password generation and a random nonce. A later attempt on that account from
 * that browser (a login, or the password asked again before a sensitive change) is counted on the
 * device's own throttle key instead of the account's and the addresses', so attackers who locked
 * the account out do not lock out its owner, and a device that fails too often locks only itself.
 * A new password (reset, recovery, change) voids every device cookie of the account: its
 * generation no longer matches. Nothing is stored server-side.
 *
 * The second factor's code step has its own cookie of the same shape, given only after a whole
 * login with the code succeeded in the browser (issue 16, item 6): whoever knows the password can
 * mint password-device cookies at will, so those must not earn fresh code counters.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import type { Queryable } from '../db/index.js';
import { rawRows } from '../db/index.js';

/** The whole site: the login forms (/interaction) and the password asked again (/account) read it. */
const COOKIE_PATH = '/';
const NONCE = /^[A-Za-z0-9_-]{22}$/;

/**
 * What a device cookie says about the browser: `password` — a correct password was typed in it;
 * `second-factor` — a whole login with the second factor succeeded in it (issue 16, item 6). The
 * second is needed for the code step: anyone who knows the password gets the first.
 */
export type DeviceProof = 'password' | 'second-factor';
const PREFIX: Record<DeviceProof, string> = { password: 'jid_dev_', 'second-factor': 'jid_2fa_' };

/** One cookie per account, so a family computer knows the parent and the child. */
function cookieName(accountId: string, proof: DeviceProof): string {
  return `${PREFIX[proof]}${createHash('sha256').update(accountId).digest('hex').slice(0, 16)}`;
}

export function deviceKey(nonce: string): string {
  return `login:device:${nonce}`;
}

/** The code step's throttle key of a browser where the account's second factor succeeded before. */
export function secondFactorDeviceKey(nonce: string): string {
  return `mfa:device:${nonce}`;
}

/** When the password was last set, to the microsecond; undefined when there is no such account. */
async function passwordGeneration(db: Queryable, accountId: string): Promise<string | undefined> {
  const [row] = await rawRows<{ gen: string | number }>(
    db,
    `select coalesce(cast(cast(extract(epoch from password_changed_at) * 1000000 as bigint) as text), '0') as gen
       from users where id = ?`,
    [accountId],
  );
  return row ? String(row.gen) : undefined;
}

/**
 * The nonce of this browser's device cookie for the account when it is valid (signed by one of
 * the cookie keys, for this account, issued under its current password); else undefined.
 */
export async function knownDevice(app: AppContext, ctx: Context, accountId: string, proof: DeviceProof = 'password'): Promise<string | undefined> {
  const raw = ctx.cookies.get(cookieName(accountId, proof), { signed: true });
  const [id, gen, nonce, extra] = raw?.split('.') ?? [];
  if (id !== accountId || !gen || !nonce || extra !== undefined || !NONCE.test(nonce)) return undefined;
  return gen === (await passwordGeneration(app.db, accountId)) ? nonce : undefined;
}

/**
 * Makes (or renews) this browser a known device of the account; call after the password was right
 * (`password`), or after the second factor was right too (`second-factor`).
 */
export async function rememberDevice(app: AppContext, ctx: Context, accountId: string, proof: DeviceProof = 'password'): Promise<void> {
  const gen = await passwordGeneration(app.db, accountId);
  if (gen === undefined) return;
  const nonce = randomBytes(16).toString('base64url');
  // Secure follows the request (https, or https at a trusted proxy): Koa refuses Secure over http.
  ctx.cookies.set(cookieName(accountId, proof), `${accountId}.${gen}.${nonce}`, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    path: COOKIE_PATH,
    maxAge: app.config.deviceCookieDays * 24 * 3600 * 1000,
    overwrite: true,
  });
}
