/**
 * The second step of a password login: after the password, an account that must (curators,
 * admins: `MFA_REQUIRED_ROLES`) or chose to use a second factor is not logged in yet. A row in
 * `mfa_challenges` remembers «password checked» for this interaction; the session is created
 * only when the code is right, so the session's `amr` is ["pwd", "otp"] and a relying party (the
 * curator console) can require it. Without a confirmed authenticator yet, the same page first
 * shows the QR code to enrol one. Codes work once and are throttled like passwords (issue 16,
 * item 6): per account, except in a browser where this account's second factor succeeded before
 * (a `second-factor` device cookie, known-device.ts), which is counted on its own key — so whoever
 * knows the password and burns the codes locks out only themselves and new browsers, never the
 * owner's own device. A refusal by the throttle is 429 with Retry-After and the wait in words.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import QRCode from 'qrcode-generator';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import { loadInteraction, stringParam, type InteractionDetails } from '../oidc/interaction.js';
import { findAccountById, type Account } from '../accounts/queries.js';
import { actAs, auditOf } from '../audit/bound.js';
import { secondFactorEnrolled, startEnrolment, useStep } from '../accounts/second-factor.js';
import { challengeOf, createChallenge, endChallenge, hasConfirmedTotp, totpOf } from './queries.js';
import { matchingStep, otpauthUri } from './totp.js';
import { CURATOR } from '../curator/scope.js';
import { recordOutcome } from '../metrics/outcomes.js';
import { knownDevice, rememberDevice, secondFactorDeviceKey } from '../login/known-device.js';
import { throttledWait } from '../login/refusal.js';
import { completeLogin } from '../login/steps.js';

const codeForm = z.object({ code: z.string().max(100).catch('').default('') });

export async function mfaRequired(app: AppContext, account: Pick<Account, 'id' | 'roles'>): Promise<boolean> {
  if (account.roles.some((r) => app.config.mfa.requiredRoles.includes(r))) return true;
  // A curator of other schools only (curator_schools) is a curator too, without the role on their own.
  return app.config.mfa.requiredRoles.includes(CURATOR) && Boolean(await app.db('curator_schools').where({ user_id: account.id }).first('school_id'));
}

export async function secondFactorNeeded(app: AppContext, account: Account): Promise<boolean> {
  return (await mfaRequired(app, account)) || (await hasConfirmedTotp(app.db, account.id));
}

/** The enrolment view's data: the QR code (inline SVG, no script) and the key to type by hand. */
export function enrolmentView(app: AppContext, account: Account, secret: string) {
  const uri = otpauthUri(app.config.mfa.issuerName, account.login, secret);
  const qr = QRCode(0, 'M');
  qr.addData(uri);
  qr.make();
  return { qrSvg: qr.createSvgTag({ cellSize: 4, margin: 4, scalable: true }), secretGroups: secret.match(/.{1,4}/g)!.join(' '), uri };
}

/** Called by the login form once the password is right. */
export async function startSecondFactor(app: AppContext, ctx: Context, details: InteractionDetails, account: Account, remember: boolean): Promise<void> {
  const expiresAt = new Date((details.exp ?? Math.floor(Date.now() / 1000) + 600) * 1000);
  await createChallenge(app.db, { interactionUid: details.uid, userId: account.id, remember, expiresAt });
  await showCodePage(app, ctx, details, account);
}

async function showCodePage(app: AppContext, ctx: Context, details: InteractionDetails, account: Account, error?: string, status = 200): Promise<void> {
  await showCodeStep(app, ctx, { uid: details.uid, action: `/interaction/${details.uid}/mfa`, account, error, status });
}

/**
 * The page of a second-factor step inside an interaction: the code, or (not enrolled yet) the QR
 * code first. The password login's step and Gosuslugi's link confirmation post it to their own action.
 */
export async function showCodeStep(
  app: AppContext,
  ctx: Context,
  { uid, action, account, error, status = 200 }: { uid: string; action: string; account: Account; error?: string; status?: number },
): Promise<void> {
  const t = tr(ctx);
  const confirmed = await hasConfirmedTotp(app.db, account.id);
  const secret = confirmed ? undefined : await startEnrolment(app.db, app.config.secrets.keyEncryptionKey, account.id);
  render(ctx, 'mfa', {
    pageTitle: t(confirmed ? 'mfa.title' : 'mfa.enrol.title'),
    action,
    csrfToken: app.csrf.token(ctx),
    login: account.login,
    enrol: secret ? enrolmentView(app, account, secret) : undefined,
    error,
    backUrl: `/interaction/${uid}`,
  }, status);
}

/**
 * The outcome of a code: `worthAuditing` is false for the refusals after the first of a wait, so
 * hammering a locked second step cannot grow the append-only audit log (as for passwords).
 */
export type TotpOutcome = 'ok' | 'wrong' | 'throttled';
export interface TotpCheck {
  outcome: TotpOutcome;
  worthAuditing: boolean;
  /** When throttled: whole seconds until the next code is taken. */
  retryAfterSeconds?: number;
}

/**
 * Checks a code for the account, once per time step. Counted on `device`'s key when the browser
 * is a known second-factor device of the account (knownDevice(…, 'second-factor')), else on the
 * account's; a right code starts again only the key it was counted on (an attackers' lockout of
 * the account stays for new browsers).
 */
export async function checkTotp(app: AppContext, account: Account, code: string, device?: string): Promise<TotpCheck> {
  const key = device ? secondFactorDeviceKey(device) : `mfa:acct:${account.id}`;
  const gate = await app.throttle.take([{ key, policy: app.config.throttle.mfa }]);
  if (!gate.allowed) return { outcome: 'throttled', worthAuditing: gate.first, retryAfterSeconds: gate.retryAfterSeconds };
  const state = await totpOf(app.db, app.config.secrets.keyEncryptionKey, account.id);
  const step = state ? matchingStep(state.secret, code) : undefined;
  if (step === undefined || !(await useStep(app.db, account.id, step))) return { outcome: 'wrong', worthAuditing: true };
  await app.throttle.succeed(key);
  return { outcome: 'ok', worthAuditing: true };
}

/** What a refused code answers: 400 for a wrong one; 429 with Retry-After and the wait in words when throttled. */
export function codeRefusal(ctx: Context, check: TotpCheck): { error: string; status: number } {
  const t = tr(ctx);
  if (check.outcome !== 'throttled') return { error: t('mfa.invalid'), status: 400 };
  return { error: t('mfa.throttled', { wait: throttledWait(ctx, check.retryAfterSeconds ?? 1) }), status: 429 };
}

/** This browser's second-factor device nonce for the account, if it is one (known-device.ts). */
export function secondFactorDevice(app: AppContext, ctx: Context, accountId: string): Promise<string | undefined> {
  return knownDevice(app, ctx, accountId, 'second-factor');
}

/**
 * One code of a second-factor step inside an interaction (the password login's, Gosuslugi's link
 * confirmation): counted on this browser's own key when it is a known second-factor device, else
 * on the account's; a refusal audited (`mfa.failure`, once per wait) and worded with Retry-After;
 * a first code that confirms an enrolment audited as `mfa.enrol`. The caller finishes the login.
 * Recorded through the request's writer: a refusal by whoever is at the keyboard (anonymous, the
 * code is not proven), the enrolment by the account's holder.
 */
export async function checkCodeStep(
  app: AppContext,
  ctx: Context,
  account: Account,
  code: string,
  details: Record<string, unknown> = {},
): Promise<{ outcome: TotpOutcome; refusal?: { error: string; status: number } }> {
  const wasEnrolled = await hasConfirmedTotp(app.db, account.id);
  const device = await secondFactorDevice(app, ctx, account.id);
  const check = await checkTotp(app, account, code, device);
  if (check.outcome !== 'ok') {
    if (check.worthAuditing) {
      await auditOf(ctx).record({ action: 'mfa.failure', outcome: check.outcome === 'throttled' ? 'denied' : 'failure', schoolId: account.school_id, target: { type: 'user', id: account.id }, details: { reason: check.outcome, ...details, ...(device ? { knownDevice: true } : {}) } });
    }
    return { outcome: check.outcome, refusal: codeRefusal(ctx, check) };
  }
  if (!wasEnrolled) await secondFactorEnrolled(app, account, auditOf(ctx).as({ type: 'user', id: account.id }), { target: { type: 'user', id: account.id } });
  return { outcome: 'ok' };
}

export function registerMfaRoutes(router: Router, app: AppContext): void {
  router.post('/interaction/:uid/mfa', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    const challenge = details.prompt.name === 'login' ? await challengeOf(app.db, details.uid) : undefined;
    const account = challenge ? await findAccountById(app.db, challenge.user_id) : undefined;
    if (!challenge || !account || account.disabled_at) return ctx.redirect(`/interaction/${details.uid}`);
    const { code } = codeForm.parse(ctx.request.body ?? {});
    const { outcome, refusal } = await checkCodeStep(app, ctx, account, code);
    recordOutcome(ctx, { event: 'login', method: 'otp', outcome: outcome === 'ok' ? 'success' : outcome === 'throttled' ? 'throttled' : 'bad_credentials', schoolId: account.school_id, clientId: stringParam(details.params.client_id) });
    if (refusal) return showCodePage(app, ctx, details, account, refusal.error, refusal.status);
    if (!(await endChallenge(app.db, details.uid))) return ctx.redirect(`/interaction/${details.uid}`); // a double submit
    await rememberDevice(app, ctx, account.id, 'second-factor');
    await actAs(ctx, { type: 'user', id: account.id }).record({ action: 'mfa.success', schoolId: account.school_id, target: { type: 'user', id: account.id } });
    await completeLogin(app, ctx, details, { account, proofs: ['pwd', 'otp'], remember: challenge.remember });
  });
}
