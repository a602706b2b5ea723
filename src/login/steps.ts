/**
 * One path through a login (issue 17.3): the table of interaction steps, the one place that
 * finishes the identification (`completeLogin`: `amr`/`acr`, the second factor), and the one
 * question every surface that trusts the SSO session asks (`firstStepLeft`).
 *
 *   identify → second factor where required → forced password change → email prompt → consent
 *
 * The steps ride on oidc-provider's interaction model: `identify` and `second_factor` are its
 * `login` prompt (the session exists only once both are done), the journal's own prompts
 * (`change_password`, `confirm_email`, src/oidc/policy.ts) ask this table whether they are left,
 * `consent` is oidc-provider's per-app prompt. The OIDC flows therefore stop at the first step
 * left by themselves; /account and /console ask `firstStepLeft` and, when a step is left, start
 * their own authorization request, which oidc-provider resumes at that step's prompt and which
 * comes back to where the person was going.
 *
 * Adding a step (passkeys, later) is one row here and one handler in step-pages.ts (typed by
 * `StepName`, so a row without a page does not compile).
 */
import type { Context } from 'koa';
import type { Account } from '../accounts/queries.js';
import type { AppContext } from '../server/context.js';
import { finishInteraction, type InteractionDetails } from '../oidc/interaction.js';
import { actAs } from '../audit/bound.js';
import { secondFactorNeeded, startSecondFactor } from '../mfa/routes.js';

/** oidc-provider prompt names of the journal's own steps. */
export const CHANGE_PASSWORD = 'change_password';
export const CONFIRM_EMAIL = 'confirm_email';
/** Signed cookie `<account id>.<until, ms>`: the person chose «Позже» (or a letter is on its way). */
export const EMAIL_LATER_COOKIE = 'jid_email_later';

export function emailPromptPostponed(cookie: string | undefined, accountId: string, now = Date.now()): boolean {
  if (!cookie) return false;
  const [id, until] = cookie.split('.');
  return id === accountId && Number(until) > now;
}

export type StepName = 'identify' | 'second_factor' | 'change_password' | 'confirm_email' | 'consent';

/** What a step's check looks at: the signed-in account (its row, already read) and this request. */
export interface SignedIn {
  account: Pick<Account, 'id' | 'kind' | 'must_change_password' | 'email_verified_at'>;
  /** The request's signed cookies (the email prompt's «Позже»). */
  cookie(name: string): string | undefined;
  /** The authorization request asked for no page at all (prompt=none). */
  silent?: boolean;
  /** Results of earlier prompts in this interaction (oidc-provider's `ctx.oidc.result`). */
  done?: Record<string, unknown>;
}

export interface Step {
  name: StepName;
  /** The oidc-provider prompt that carries the step inside an interaction. */
  prompt: string;
  /** Why the step exists (the table is the documentation). */
  why: string;
  /**
   * Whether the step is left for a signed-in person. Absent: the step is done before a session
   * exists (identify, second factor) or is per app and decided by oidc-provider (consent).
   */
  left?: (s: SignedIn) => boolean;
  /**
   * /account and /console send a person with this step left to it first. False for a step a
   * person may put off (the email prompt: «Позже»; /account is where the address is changed).
   */
  holdsSurfaces: boolean;
}

export const STEPS: readonly Step[] = [
  { name: 'identify', prompt: 'login', holdsSurfaces: false, why: 'who the person is: password (school or platform form), Gosuslugi; later passkeys' },
  { name: 'second_factor', prompt: 'login', holdsSurfaces: false, why: 'a code for the roles of MFA_REQUIRED_ROLES and whoever turned it on; the session is created only after it' },
  {
    name: 'change_password', prompt: CHANGE_PASSWORD, holdsSurfaces: true,
    why: 'a one-time password someone else set (a curator, the CLI) is replaced before anything else trusts the session',
    left: (s) => Boolean(s.account.must_change_password),
  },
  {
    name: 'confirm_email', prompt: CONFIRM_EMAIL, holdsSurfaces: false,
    why: 'a parent or staff member (email mandatory) without a confirmed address; never on prompt=none, «Позже» rests it for a day',
    left: (s) => {
      const { account } = s;
      if (account.email_verified_at || (account.kind !== 'parent' && account.kind !== 'staff')) return false;
      if (s.silent || s.done?.[CONFIRM_EMAIL]) return false;
      return !emailPromptPostponed(s.cookie(EMAIL_LATER_COOKIE), account.id);
    },
  },
  { name: 'consent', prompt: 'consent', holdsSurfaces: false, why: 'what the app gets (first-party apps and approved apps of pupils without a page)' },
];

export function stepNamed(name: StepName): Step {
  return STEPS.find((s) => s.name === name)!;
}

/**
 * «Does this session have steps left?» — the first step a surface outside the OIDC flows
 * (/account, /console, /console/platform) must send the person to, or undefined. Reads nothing
 * but the account row the surface already has.
 */
export function firstStepLeft(s: SignedIn): Step | undefined {
  return STEPS.find((step) => step.holdsSurfaces && step.left?.(s));
}

/** The surface's view of the request: the account it read and the request's signed cookies. */
export function signedInHere(ctx: Context, account: SignedIn['account']): SignedIn {
  return { account, cookie: (name) => ctx.cookies.get(name, { signed: true }) };
}

/** How a person proved who they are, in RFC 8176 values: «pwd», «otp», and the journal's «esia». */
export type Proof = 'pwd' | 'otp' | 'esia';

const AMR_ORDER: readonly Proof[] = ['esia', 'pwd', 'otp'];

/** The `acr` for what was proved: a second factor is «mfa», Gosuslugi without one «esia», else «pwd». */
export function decideAcr(amr: readonly Proof[]): string {
  if (amr.includes('otp')) return 'urn:journal:mfa';
  if (amr.includes('esia')) return 'urn:journal:esia';
  return 'urn:journal:pwd';
}

export interface Identified {
  account: Account;
  /** What this interaction proved so far. */
  proofs: readonly Proof[];
  remember: boolean;
}

/**
 * The identify step (or the second factor) is done: either the second factor is still left —
 * its page is shown and the answer is 'second_factor' — or oidc-provider gets the login with its
 * `amr`/`acr` and goes on to the next prompt left ('done').
 *
 * A password alone asks whether the account needs a second factor (its roles, its
 * authenticators: the same two reads as before); Gosuslugi decided its own on the way
 * (esia/guard.ts: a guarded account proves the password and the code before it gets here), and
 * a login that proved «otp» has it.
 */
export async function completeLogin(app: AppContext, ctx: Context, details: InteractionDetails, who: Identified): Promise<'second_factor' | 'done'> {
  const proofs = AMR_ORDER.filter((p) => who.proofs.includes(p));
  // Identified: from here on this request's audit records are the person's (the code step's
  // refusals, in its own request, stay anonymous until the code is right).
  actAs(ctx, { type: 'user', id: who.account.id });
  if (!proofs.includes('otp') && !proofs.includes('esia') && (await secondFactorNeeded(app, who.account))) {
    await startSecondFactor(app, ctx, details, who.account, who.remember);
    return 'second_factor';
  }
  const login = { accountId: who.account.id, remember: who.remember, amr: proofs, acr: decideAcr(proofs) };
  await finishInteraction(app, ctx, { login }, false);
  return 'done';
}
