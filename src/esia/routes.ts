/**
 * «Войти через Госуслуги» (flow 6). The login page's button POSTs to `/interaction/:uid/esia`,
 * which stores a one-time `state` bound to the interaction and to this browser (a cookie) and
 * redirects to ESIA. ESIA comes back to the one registered address, `/esia/callback`, which
 * takes the state once, asks ESIA for the verified person and stores the matching accounts'
 * ids on the flow; then `/interaction/:uid/esia/result` (where the interaction cookie proves it
 * is the same browser) logs in, links, asks for the password once, shows the chooser, or says
 * what must match (FAQ). Nothing of ESIA's person data is stored: only the oid and the link.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr } from '../server/views.js';
import { loadInteraction, type InteractionDetails } from '../oidc/interaction.js';
import { safeEqual } from '../crypto/sealed.js';
import { addressPart } from '../throttle/keys.js';
import { actAs, auditOf } from '../audit/bound.js';
import { findAccountById, recordLogin, type Account } from '../accounts/queries.js';
import { reauthenticate } from '../accounts/reauth.js';
import { loginRefusal } from '../login/refusal.js';
import { findSchoolById } from '../schools/queries.js';
import { EsiaError } from './client.js';
import { findCandidates, type Candidate } from './match.js';
import { linkGosuslugi } from '../accounts/gosuslugi-links.js';
import { claimFlow, createFlow, finishFlow, linkOf, pendingFlow, recordCandidates, recordPasswordProven, type Flow, type Proof } from './queries.js';
import { onlyHolderMayLink } from './guard.js';
import { checkCodeStep, showCodeStep } from '../mfa/routes.js';
import { completeLogin, type Proof as Amr } from '../login/steps.js';
import type { MessageKey } from '../i18n/index.js';
import { recordOutcome, type LoginResult } from '../metrics/outcomes.js';
import { loginResult } from '../login/authenticate.js';

/** «Войти через Госуслуги»'s outcome for the metrics and the access log. */
const esiaOutcome = (ctx: Context, outcome: LoginResult, schoolId?: string | null) =>
  recordOutcome(ctx, { event: 'login', method: 'esia', outcome, schoolId });

const STATE_COOKIE = 'jid_esia';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const callbackQuery = z.object({
  state: z.string().max(100).optional(),
  code: z.string().min(1).max(4000).optional(),
  error: z.string().max(100).optional(),
  error_description: z.string().max(1000).optional(),
});
const chooseForm = z.object({ account: z.string().max(100).catch('').default('') });
const confirmForm = z.object({ account: z.string().max(100).catch('').default(''), password: z.string().max(1000).catch('').default('') });
const codeForm = z.object({ code: z.string().max(100).catch('').default('') });

export function registerEsiaRoutes(router: Router, app: AppContext): void {
  const throttleKey = (ctx: Context) => `esia:ip:${addressPart(ctx.ip)}`;
  const policy = app.config.throttle.esiaAddress;
  // Secure follows the connection (TLS, or a trusted proxy's https), like oidc-provider's cookies:
  // forcing it on a plain-HTTP request makes the cookie library throw.
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, path: '/esia/callback', overwrite: true };

  const page = (ctx: Context, key: MessageKey, status: number, backUrl?: string) => {
    const t = tr(ctx);
    renderMessage(ctx, { title: t('esia.title'), paragraphs: [t(key)], backUrl, backText: t('esia.back') }, status);
  };

  // The login page's button: a form (CSRF), never a link that another site could make us follow.
  router.post('/interaction/:uid/esia', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    const back = `/interaction/${details.uid}`;
    if (details.prompt.name !== 'login') return ctx.redirect(back);
    if (!app.esia) return page(ctx, 'esia.off', 404, back);
    const gate = await app.throttle.take([{ key: throttleKey(ctx), policy }]);
    if (!gate.allowed) {
      esiaOutcome(ctx, 'throttled');
      ctx.set('retry-after', String(gate.retryAfterSeconds));
      return page(ctx, 'esia.throttled', 429, back);
    }
    const verifier = app.config.esia.pkce ? randomBytes(32).toString('base64url') : undefined;
    const expiresAt = new Date((details.exp ?? Math.floor(Date.now() / 1000) + 600) * 1000);
    const state = await createFlow(app.db, { interactionUid: details.uid, codeVerifier: verifier, ip: ctx.ip, expiresAt });
    let url: string;
    try {
      url = await app.esia.client.authorizationUrl(state, verifier && createHash('sha256').update(verifier).digest('base64url'));
    } catch (err) {
      app.logger.error('ESIA request could not be signed', { err });
      esiaOutcome(ctx, 'unavailable');
      return page(ctx, 'esia.unavailable', 503, back);
    }
    ctx.cookies.set(STATE_COOKIE, state, { ...cookieOptions, expires: expiresAt });
    await app.throttle.refund(throttleKey(ctx), policy); // starting is free; failed callbacks count
    ctx.status = 303;
    ctx.redirect(url);
  });
  router.get('/interaction/:uid/esia', (ctx) => ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid!)}`));

  router.get('/esia/callback', async (ctx) => {
    const q = callbackQuery.safeParse(ctx.query);
    const state = q.success ? q.data.state : undefined;
    const cookie = ctx.cookies.get(STATE_COOKIE, { signed: true });
    // The state must be the one this browser started, and unused: a forged or replayed callback
    // stops here, at once, with «начните вход заново». It costs nothing and counts against no one:
    // on the address's counter ~60 forgeries would lock out every Gosuslugi login of a school's
    // NAT (issue 16.7). Nor is it audited: anyone could grow the append-only log at will; the
    // outcome metric counts them.
    const stale = () => {
      esiaOutcome(ctx, 'bad_state');
      page(ctx, 'esia.stale', 400);
    };
    if (!q.success || !state || !UUID.test(state) || !cookie || !safeEqual(cookie, state)) return stale();
    // A pending request of this browser: its real failures (an untrusted answer) count per address.
    const gate = await app.throttle.take([{ key: throttleKey(ctx), policy }]);
    if (!gate.allowed) {
      esiaOutcome(ctx, 'throttled');
      ctx.set('retry-after', String(gate.retryAfterSeconds));
      return page(ctx, 'esia.throttled', 429);
    }
    const flow = await claimFlow(app.db, state);
    ctx.cookies.set(STATE_COOKIE, null, cookieOptions);
    if (!flow) {
      await app.throttle.refund(throttleKey(ctx), policy); // used or expired: this browser's own, free
      return stale();
    }
    const back = `/interaction/${flow.interaction_uid}`;

    if (!app.esia) return page(ctx, 'esia.off', 404, back); // switched off since the login started
    // ESIA's own refusals and outages are not the address's fault: only forged callbacks count.
    const notTheirFault = () => app.throttle.refund(throttleKey(ctx), policy);

    if (q.data.error || !q.data.code) {
      await notTheirFault();
      const esiaCode = /ESIA-\d{6}/.exec(q.data.error_description ?? '')?.[0];
      await auditOf(ctx).record({ action: 'login.failure', outcome: 'failure', details: { method: 'esia', reason: q.data.error ?? 'no_code', esiaCode } });
      const key: MessageKey = esiaCode === 'ESIA-007055' ? 'esia.unconfirmed' : q.data.error === 'access_denied' && (!esiaCode || esiaCode === 'ESIA-007004') ? 'esia.denied' : 'esia.failed';
      if (key === 'esia.failed') app.logger.warn('ESIA refused the authorization request', { error: q.data.error?.slice(0, 50), esiaCode });
      esiaOutcome(ctx, key === 'esia.failed' ? 'failed' : 'denied');
      return page(ctx, key, 400, back);
    }

    let person;
    try {
      person = await app.esia.client.person(q.data.code, flow.code_verifier ?? undefined);
    } catch (err) {
      if (!(err instanceof EsiaError)) throw err;
      if (err.kind !== 'untrusted') await notTheirFault();
      // The reason is logged (never tokens or person data); the person gets the clear page.
      // A scope not approved is the operator's setup, logged as an error to act on.
      app.logger[err.kind === 'scope' ? 'error' : 'warn']('ESIA login failed', { kind: err.kind, reason: err.message, esiaCode: err.esiaCode });
      await auditOf(ctx).record({ action: 'login.failure', outcome: 'failure', details: { method: 'esia', reason: err.kind, esiaCode: err.esiaCode } });
      esiaOutcome(ctx, err.kind === 'unavailable' ? 'unavailable' : 'failed');
      const key: MessageKey = err.kind === 'unavailable' ? 'esia.unavailable' : err.kind === 'scope' ? 'esia.scope' : 'esia.failed';
      return page(ctx, key, err.kind === 'unavailable' ? 503 : 502, back);
    }
    const candidates = await findCandidates(app.db, person);
    await recordCandidates(app.db, flow.state, person.oid, candidates);
    await notTheirFault();
    ctx.status = 303;
    ctx.redirect(`${back}/esia/result`);
  });

  // In the interaction's path: its cookie proves this is the browser that started the login.
  router.get('/interaction/:uid/esia/result', async (ctx) => {
    const details = await loadInteraction(app, ctx);
    const flow = await pendingFlow(app.db, details.uid);
    if (!flow || details.prompt.name !== 'login') return ctx.redirect(`/interaction/${details.uid}`);
    const candidates = flow.candidates ?? [];
    if (!candidates.length) {
      await auditOf(ctx).record({ action: 'login.failure', outcome: 'failure', details: { method: 'esia', reason: 'no_match' } });
      esiaOutcome(ctx, 'no_match');
      return render(ctx, 'esia-not-found', { pageTitle: tr(ctx)('esia.not_found.title'), backUrl: `/interaction/${details.uid}` }, 404);
    }
    if (candidates.length === 1) return proceed(app, ctx, details, flow, candidates[0]!);
    return showChooser(app, ctx, details, candidates);
  });

  router.post('/interaction/:uid/esia/choose', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    const flow = await pendingFlow(app.db, details.uid);
    if (!flow || details.prompt.name !== 'login') return ctx.redirect(`/interaction/${details.uid}`);
    const { account } = chooseForm.parse(ctx.request.body ?? {});
    // Only an id this flow found: the form cannot name any other account.
    const chosen = (flow.candidates ?? []).find((c) => c.userId === account);
    if (!chosen) return showChooser(app, ctx, details, flow.candidates ?? [], 400);
    return proceed(app, ctx, details, flow, chosen);
  });

  router.post('/interaction/:uid/esia/confirm', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    const flow = await pendingFlow(app.db, details.uid);
    if (!flow || details.prompt.name !== 'login') return ctx.redirect(`/interaction/${details.uid}`);
    const input = confirmForm.parse(ctx.request.body ?? {});
    const chosen = (flow.candidates ?? []).find((c) => c.userId === input.account);
    if (!chosen) return showChooser(app, ctx, details, flow.candidates ?? [], 400);
    const account = await findAccountById(app.db, chosen.userId);
    if (!account || account.disabled_at) return ctx.redirect(`/interaction/${details.uid}`);
    // On the login's counters: no more guesses here than at the login form.
    const outcome = await reauthenticate(app, ctx, account, input.password);
    if (!outcome.ok) {
      esiaOutcome(ctx, loginResult(outcome), account.school_id);
      if (outcome.reason === 'invalid') await auditOf(ctx).record({ action: 'login.failure', outcome: 'failure', schoolId: account.school_id, target: { type: 'user', id: account.id }, details: { method: 'esia', reason: 'wrong_password_on_link' } });
      const { error, status } = loginRefusal(ctx, outcome);
      return showConfirm(app, ctx, details, chosen, error, status);
    }
    if (await onlyHolderMayLink(app, account)) {
      // The password alone does not link a guarded account: its second factor comes next, on
      // this flow and for this account only.
      await recordPasswordProven(app.db, flow.state, account.id);
      return showSecondFactor(app, ctx, details, account);
    }
    return complete(app, ctx, details, flow, chosen, 'password');
  });

  // The second factor of a guarded account whose password this flow proved (the confirm page).
  router.post('/interaction/:uid/esia/code', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    const flow = await pendingFlow(app.db, details.uid);
    if (!flow || details.prompt.name !== 'login' || !flow.proven_user_id) return ctx.redirect(`/interaction/${details.uid}`);
    const chosen = (flow.candidates ?? []).find((c) => c.userId === flow.proven_user_id);
    const account = chosen ? await findAccountById(app.db, chosen.userId) : undefined;
    if (!chosen || !account || account.disabled_at) return ctx.redirect(`/interaction/${details.uid}`);
    const { code } = codeForm.parse(ctx.request.body ?? {});
    // Counted, audited and refused as at the password login's code step (issue 16.6).
    const { outcome, refusal } = await checkCodeStep(app, ctx, account, code, { method: 'esia' });
    if (refusal) {
      esiaOutcome(ctx, outcome === 'throttled' ? 'throttled' : 'bad_credentials', account.school_id);
      return showSecondFactor(app, ctx, details, account, refusal.error, refusal.status);
    }
    return complete(app, ctx, details, flow, chosen, 'password_otp');
  });
}

/**
 * What a chosen candidate needs: a guarded account (guard.ts) is logged in at once only over a
 * link its holder confirmed with the password and the second factor; otherwise the password page
 * (then the code). Anyone else: at once on a link or strong data, the password once on weak data.
 */
async function proceed(app: AppContext, ctx: Context, details: InteractionDetails, flow: Flow, c: Candidate): Promise<void> {
  const account = await findAccountById(app.db, c.userId);
  if (!account || account.disabled_at) return ctx.redirect(`/interaction/${details.uid}`);
  if (await onlyHolderMayLink(app, account)) {
    if (c.strength === 'linked' && (await linkOf(app.db, account.id))?.proof === 'password_otp') return complete(app, ctx, details, flow, c, 'none');
    return showConfirm(app, ctx, details, c);
  }
  if (c.strength === 'weak') return showConfirm(app, ctx, details, c);
  return complete(app, ctx, details, flow, c, 'none');
}

/** The guarded account's second step: its code, or (not enrolled yet, as at a password login) the QR code first. */
async function showSecondFactor(app: AppContext, ctx: Context, details: InteractionDetails, account: Account, error?: string, status = 200): Promise<void> {
  await showCodeStep(app, ctx, { uid: details.uid, action: `/interaction/${details.uid}/esia/code`, account, error, status });
}

interface ChoiceView {
  id: string;
  login: string;
  school: string;
  role: string;
}

async function describe(app: AppContext, ctx: Context, c: Candidate): Promise<ChoiceView | undefined> {
  const account = await findAccountById(app.db, c.userId);
  if (!account || account.disabled_at) return undefined;
  const school = account.school_id ? await findSchoolById(app.db, account.school_id) : undefined;
  const t = tr(ctx);
  const role = account.kind === 'staff' && account.roles.includes('parent') ? `${t('esia.role.staff')}, ${t('esia.role.parent')}` : t(`esia.role.${account.kind}` as MessageKey);
  return { id: account.id, login: account.login, school: school ? `${school.name} (${school.region})` : '—', role };
}

async function showChooser(app: AppContext, ctx: Context, details: InteractionDetails, candidates: Candidate[], status = 200): Promise<void> {
  const choices = (await Promise.all(candidates.map((c) => describe(app, ctx, c)))).filter(Boolean);
  render(ctx, 'esia-choose', {
    pageTitle: tr(ctx)('esia.choose.title'),
    action: `/interaction/${details.uid}/esia/choose`,
    csrfToken: app.csrf.token(ctx),
    choices,
    backUrl: `/interaction/${details.uid}`,
    error: status === 400 ? tr(ctx)('esia.choose.again') : undefined,
  }, status);
}

async function showConfirm(app: AppContext, ctx: Context, details: InteractionDetails, c: Candidate, error?: string, status = 200): Promise<void> {
  const choice = await describe(app, ctx, c);
  const account = choice && (await findAccountById(app.db, c.userId));
  if (!choice || !account) return ctx.redirect(`/interaction/${details.uid}`);
  const t = tr(ctx);
  const viaKey: MessageKey = c.via.includes('snils_school') || c.via.includes('snils_self') ? 'esia.via.snils'
    : c.via.includes('email') ? 'esia.via.email' : c.via.includes('phone') ? 'esia.via.phone' : 'esia.via.link';
  render(ctx, 'esia-confirm', {
    pageTitle: t('esia.confirm.title'),
    action: `/interaction/${details.uid}/esia/confirm`,
    csrfToken: app.csrf.token(ctx),
    choice,
    via: t(viaKey),
    intro: (await onlyHolderMayLink(app, account)) ? 'esia.confirm.intro.guarded' : 'esia.confirm.intro',
    error,
    backUrl: `/interaction/${details.uid}`,
  }, status);
}

/**
 * Links (if new), records the login, and returns to oidc-provider with amr «esia» (plus what the
 * holder proved on the way). A new link is audited as `esia.link` with where its data came from —
 * by the holder when they proved it, by the system when the data alone made it — and announced
 * by letter; the login is the holder's.
 */
async function complete(app: AppContext, ctx: Context, details: InteractionDetails, flow: Flow, c: Candidate, proof: Proof): Promise<void> {
  let account: Account | undefined;
  let outcome = 'gone' as 'linked' | 'existing' | 'conflict' | 'gone';
  await app.db.transaction(async (trx) => {
    if (!(await finishFlow(trx, flow.state))) return; // a double click: the first request logs in
    account = await findAccountById(trx, c.userId);
    if (!account || account.disabled_at) return;
    const via = c.via.find((v) => v !== 'link') ?? 'link';
    const byData = proof === 'none';
    const origin = byData ? c.origin : 'holder';
    const originUserId = byData ? c.originUserId ?? null : null;
    // Gosuslugi identified the holder: the request is theirs, except a link the data alone made.
    const holder = actAs(ctx, { type: 'user', id: account.id });
    // The library's esia_link row: a new link recorded and announced.
    const linkedBy = byData ? holder.as({ type: 'system' }) : holder;
    outcome = await linkGosuslugi(app, trx, account, flow.subject!, { via, origin, originUserId, proof }, linkedBy, { via: c.via });
    if (outcome === 'conflict') return;
    const base = { schoolId: account.school_id, target: { type: 'user', id: account.id } };
    if (outcome === 'existing' && proof !== 'none') {
      await holder.record({ action: 'esia.link.confirm', details: { proof }, ...base }, trx);
    }
    await recordLogin(trx, account.id);
    await holder.record({ action: 'login.success', details: { method: 'esia', via: c.via, proof }, ...base }, trx);
  });
  if (outcome === 'conflict') esiaOutcome(ctx, 'failed', account?.school_id);
  else if (outcome === 'gone' && account?.disabled_at) esiaOutcome(ctx, 'disabled', account.school_id);
  else if (account && outcome !== 'gone') esiaOutcome(ctx, 'success', account.school_id);
  if (!account || outcome === 'gone' || outcome === 'conflict') {
    if (outcome === 'conflict') app.logger.warn('ESIA link refused: the account is linked to another ESIA person', { userId: c.userId });
    return ctx.redirect(`/interaction/${details.uid}`);
  }
  const proofs: Amr[] = proof === 'password_otp' ? ['esia', 'pwd', 'otp'] : proof === 'password' ? ['esia', 'pwd'] : ['esia'];
  await completeLogin(app, ctx, details, { account: account as Account, proofs, remember: false });
}
