/**
 * What a typed invite code is: usable (and for whom), or exactly what is wrong with it (FAQ
 * «Неверный код приглашения»). Guessing is throttled per address — only codes that do not exist
 * count, and the threshold is high, since a whole school registers from one NAT in September —
 * and per code: a code that is no longer usable, asked about again and again (a script polling
 * a code found on a sheet).
 */
import type { AppContext } from '../server/context.js';
import { addressPart } from '../throttle/keys.js';
import { codeHmac, normalizeCode, shapeOf, type InviteRole } from '../invites/code.js';
import { findInviteByHmac, inviteState, type Invite } from '../invites/queries.js';
import { findPersonById, type Person } from '../roster/queries.js';
import { findSchoolById, type School } from '../schools/queries.js';
import { countThrottled } from '../metrics/registry.js';

export interface UsableCode {
  ok: true;
  /** The normalised code (what the next form carries). */
  code: string;
  hmac: string;
  role: InviteRole;
  invite: Invite;
  person: Person;
  school: School;
}

export type CodeProblem =
  | { ok: false; reason: 'required' | 'unknown' | 'redeemed' | 'revoked' | 'expired'; code: string }
  | { ok: false; reason: 'foreign'; code: string; prefix: string }
  | { ok: false; reason: 'throttled'; code: string; retryAfterSeconds: number };

export type CodeCheck = UsableCode | CodeProblem;

export async function checkCode(app: AppContext, typed: string, ip: string): Promise<CodeCheck> {
  const code = normalizeCode(typed).slice(0, 64);
  if (!code) return { ok: false, reason: 'required', code };
  const shape = shapeOf(code);
  // Not one of ours by its look: no lookup, so nothing to count.
  if (shape.shape === 'foreign') return { ok: false, reason: 'foreign', code, prefix: code.slice(0, 2) };
  if (shape.shape === 'malformed') return { ok: false, reason: 'unknown', code };

  const hmac = codeHmac(app.config.secrets.invitePepper, code);
  const address = { key: `invite:ip:${addressPart(ip)}`, policy: app.config.throttle.inviteAddress };
  const perCode = { key: `invite:code:${hmac.slice(0, 40)}`, policy: app.config.throttle.inviteCode };
  // A code that answered "used" (or revoked, expired) too often waits before it answers again.
  const codeWait = await app.throttle.peek(perCode.key, perCode.policy);
  if (codeWait.blockedUntil) {
    countThrottled(perCode.key); // refused by a look at the counter, not by take(): counted here
    return throttled(code, codeWait.blockedUntil);
  }
  // The address's guessing budget is reserved before the lookup, so parallel guesses get no extra.
  const taken = await app.throttle.take([address]);
  if (!taken.allowed) return { ok: false, reason: 'throttled', code, retryAfterSeconds: taken.retryAfterSeconds };

  const invite = await findInviteByHmac(app.db, hmac);
  if (!invite) return { ok: false, reason: 'unknown', code };
  // A real code is not a guess: the address gets its attempt back.
  await app.throttle.refund(address.key, address.policy);
  const state = inviteState(invite);
  if (state !== 'usable') {
    await app.throttle.take([perCode]);
    return { ok: false, reason: state, code };
  }
  const [person, school] = await Promise.all([findPersonById(app.db, invite.person_id), findSchoolById(app.db, invite.school_id)]);
  if (!person || !school) return { ok: false, reason: 'unknown', code };
  return { ok: true, code, hmac, role: invite.role, invite, person, school };
}

function throttled(code: string, until: Date): CodeProblem {
  return { ok: false, reason: 'throttled', code, retryAfterSeconds: Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000)) };
}
