/**
 * The throttle around one password check — one way for the login forms (authenticate.ts) and the
 * password asked again before a sensitive change (accounts/reauth.ts), so neither can be guessed
 * more often than the other and a known device gets past an attackers' lockout in both.
 *
 * A browser with a valid device cookie for the account (known-device.ts) is counted only on that
 * device's key; any other per account, per (address, login) and per address. A refusal is audited
 * once per wait of the key that refused (`login.throttled`; hammering adds no rows), and a wrong
 * password that starts a wait on the account is audited as its lockout (`login.locked`) for the
 * school's curators.
 */
import type { AppContext } from '../server/context.js';
import { loginKeys, type ThrottleCheck, type TakeResult } from '../throttle/throttle.js';
import type { AuditWriter } from '../audit/bound.js';
import { deviceKey } from './known-device.js';

export interface PasswordAttempt {
  schoolId: string | null;
  /** As typed at the login form; the account's own login for a re-entered password. */
  login: string;
  ip: string;
  /** This browser's known-device nonce for the account (knownDevice()), if it has one. */
  device?: string;
  /** The request's writer: the login form's is anonymous, /account's the signed-in person's. */
  audit: AuditWriter;
}

export interface PasswordGate {
  /** Reserves the attempt before the costly hash check. */
  take(): Promise<TakeResult>;
  /**
   * The password was wrong: the lockout is audited when this attempt started the account's wait;
   * true when it did.
   */
  failed(taken: TakeResult & { allowed: true }, target?: { type: string; id: string }): Promise<boolean>;
  /** The password was right: the keys it was counted on start again (a known device: only its own). */
  succeeded(): Promise<void>;
}

export function passwordGate(app: AppContext, attempt: PasswordAttempt): PasswordGate {
  const { db, throttle, config } = app;
  const keys = loginKeys(attempt.schoolId, attempt.login, attempt.ip);
  const login = attempt.login.slice(0, 100);
  const { audit } = attempt;
  const checks: ThrottleCheck[] = attempt.device
    ? [{ key: deviceKey(attempt.device), policy: config.throttle.device }]
    : [
        { key: keys.account, policy: config.throttle.account },
        { key: keys.addressLogin, policy: config.throttle.addressLogin },
        { key: keys.address, policy: config.throttle.address },
      ];
  return {
    async take() {
      const taken = await throttle.take(checks);
      if (!taken.allowed && taken.first) {
        await audit.record({
          action: 'login.throttled',
          outcome: 'denied',
          schoolId: attempt.schoolId,
          details: { login, key: taken.key.split(':').slice(0, 2).join(':'), retryAfterSeconds: taken.retryAfterSeconds },
        }, db);
      }
      return taken;
    },

    async failed(taken, target) {
      const locked = taken.waits?.find((w) => w.key === keys.account);
      if (!locked) return false;
      await audit.record({
        action: 'login.locked',
        outcome: 'denied',
        schoolId: attempt.schoolId,
        target,
        details: { login, failures: locked.count, waitSeconds: locked.seconds },
      }, db);
      return true;
    },

    async succeeded() {
      if (attempt.device) {
        await throttle.succeed(deviceKey(attempt.device));
        return;
      }
      await throttle.succeed(keys.account);
      await throttle.succeed(keys.addressLogin);
      await throttle.refund(keys.address, config.throttle.address);
    },
  };
}
