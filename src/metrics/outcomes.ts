/**
 * The one place where the outcome of a login, a registration, a recovery step or a token request
 * is recorded: it moves the counter and puts the outcome (with the school and the relying party)
 * on the request, whose access-log line (server/request-context.ts) prints it. Values are from
 * the closed sets of registry.ts: never a login, an address or a code.
 */
import type { Context } from 'koa';
import {
  countLogin,
  countRecovery,
  countRegistration,
  countTokenIssued,
  GRANT_TYPES,
  oneOf,
  type LOGIN_METHODS,
  type LOGIN_OUTCOMES,
  type RECOVERY_OUTCOMES,
  type RECOVERY_STEPS,
  type REGISTRATION_METHODS,
  type REGISTRATION_OUTCOMES,
} from './registry.js';

export type LoginMethod = (typeof LOGIN_METHODS)[number];
export type LoginResult = (typeof LOGIN_OUTCOMES)[number];
export type RegistrationMethod = (typeof REGISTRATION_METHODS)[number];
export type RegistrationResult = (typeof REGISTRATION_OUTCOMES)[number];
export type RecoveryStep = (typeof RECOVERY_STEPS)[number];
export type RecoveryResult = (typeof RECOVERY_OUTCOMES)[number];

interface Where {
  /** The school's id (never a person's). */
  schoolId?: string | null;
  /** The relying party the person came from. */
  clientId?: string;
}

export type Outcome = Where &
  (
    | { event: 'login'; method: LoginMethod; outcome: LoginResult }
    | { event: 'registration'; method: RegistrationMethod; outcome: RegistrationResult }
    | { event: 'recovery'; step: RecoveryStep; outcome: RecoveryResult }
    /** A token endpoint answer: `success` (counted as issued) or the OAuth error code. */
    | { event: 'token'; grantType: unknown; outcome: string }
  );

/** What the access log prints of an outcome (request-context.ts). */
export interface LoggedOutcome {
  event?: string;
  outcome?: string;
  school?: string;
  clientId?: string;
}

/** Counts the outcome and, with a request, leaves it for the request's log line. `ctx` is absent in background workers. */
export function recordOutcome(ctx: Pick<Context, 'state'> | undefined, o: Outcome): void {
  let event: string;
  switch (o.event) {
    case 'login':
      countLogin(o.method, o.outcome);
      event = `login.${o.method}`;
      break;
    case 'registration':
      countRegistration(o.method, o.outcome);
      event = `registration.${o.method}`;
      break;
    case 'recovery':
      countRecovery(o.step, o.outcome);
      event = `recovery.${o.step}`;
      break;
    case 'token':
      if (o.outcome === 'success') countTokenIssued(o.grantType);
      event = `token.${oneOf(GRANT_TYPES, o.grantType)}`;
      break;
  }
  if (!ctx) return;
  const state = ctx.state as LoggedOutcome;
  state.event = event;
  // OAuth error codes are a closed set of short words; anything else is cut, never echoed whole.
  state.outcome = /^[a-z_]{1,40}$/.test(o.outcome) ? o.outcome : 'other';
  if (o.schoolId) state.school = o.schoolId;
  if (o.clientId) state.clientId = o.clientId;
}
