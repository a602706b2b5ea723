/**
 * The login step of an OIDC interaction: `/interaction/:uid` shows the school's login form (or
 * asks for the school first), `POST /interaction/:uid/login` checks the password. Everything lives
 * under `/interaction/<uid>`, the path of oidc-provider's interaction cookie.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { finishInteraction, loadInteraction, stringParam, type InteractionDetails } from '../oidc/interaction.js';
import { localeOf, render, tr } from '../server/views.js';
import { schoolForRequest, schoolFromHint, rememberSchool, forgetSchool } from '../schools/resolve.js';
import { searchSchools, type School } from '../schools/queries.js';
import { authenticate, loginResult } from './authenticate.js';
import { recordOutcome } from '../metrics/outcomes.js';
import { knownDevice, rememberDevice } from './known-device.js';
import { loginRefusal } from './refusal.js';
import { showConsent } from '../consent/routes.js';
import { showChangePassword, registerChangePasswordRoutes } from './change-password.js';
import { registerConfirmEmailRoutes, showConfirmEmail } from '../verify/prompt.js';
import { rememberedLogin } from './login-hint.js';
import { registerMfaRoutes } from '../mfa/routes.js';
import { auditOf } from '../audit/bound.js';
import { completeLogin, STEPS, type StepName } from './steps.js';
import { isPlatformLogin, showPlatformLogin } from '../platform/login.js';

const loginForm = z.object({
  login: z.string().trim().max(100).default(''),
  password: z.string().max(1000).default(''),
  remember: z.string().optional(),
  school: z.string().trim().max(64).optional(),
});

const schoolForm = z.object({
  query: z.string().trim().max(100).optional(),
  school: z.string().trim().max(64).optional(),
});


async function clientName(app: AppContext, clientId: unknown): Promise<string | undefined> {
  if (typeof clientId !== 'string') return undefined;
  const client = await app.oidc.provider.Client.find(clientId);
  return client?.clientName;
}

interface LoginView {
  school: School;
  login?: string;
  error?: string;
  status?: number;
  remember?: boolean;
}

async function showLogin(app: AppContext, ctx: Context, details: InteractionDetails, view: LoginView): Promise<void> {
  const t = tr(ctx);
  const base = `/interaction/${details.uid}`;
  render(
    ctx,
    'login',
    {
      pageTitle: t('login.title'),
      action: `${base}/login`,
      csrfToken: app.csrf.token(ctx),
      clientName: await clientName(app, details.params.client_id),
      school: view.school,
      changeSchoolUrl: `${base}/school`,
      login: view.login ?? (typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 100) : rememberedLogin(ctx) ?? ''),
      error: view.error,
      remember: view.remember ?? false,
      esiaUrl: app.esia ? `${base}/esia` : undefined,
      inviteUrl: `${base}/register?school=${encodeURIComponent(view.school.slug)}`,
      forgotUrl: `/recover?school=${encodeURIComponent(view.school.slug)}`,
    },
    view.status ?? 200,
  );
}

function showSchoolChoice(app: AppContext, ctx: Context, uid: string, v: { query?: string; schools?: School[]; error?: string }, status = 200) {
  const t = tr(ctx);
  render(
    ctx,
    'school',
    {
      pageTitle: t('school.title'),
      action: `/interaction/${uid}/school`,
      csrfToken: app.csrf.token(ctx),
      query: v.query ?? '',
      schools: v.schools ?? [],
      error: v.error,
    },
    status,
  );
}

/**
 * The page of each step after the session exists (steps.ts); identify and the second factor are
 * the login prompt's forms below. A new step without a page here does not compile.
 */
const stepPages: Record<Exclude<StepName, 'identify' | 'second_factor'>, (app: AppContext, ctx: Context, details: InteractionDetails) => Promise<void>> = {
  change_password: (app, ctx, details) => showChangePassword(app, ctx, details),
  confirm_email: (app, ctx, details) => showConfirmEmail(app, ctx, details),
  consent: showConsent,
};

export function registerLoginRoutes(router: Router, app: AppContext): void {
  // The entry of every interaction: the page of the first step left (oidc-provider's prompt).
  router.get('/interaction/:uid', async (ctx) => {
    const details = await loadInteraction(app, ctx);
    localeFromParams(ctx, details);
    const step = STEPS.find((s) => s.prompt === details.prompt.name && s.name in stepPages);
    if (step) return stepPages[step.name as keyof typeof stepPages](app, ctx, details);
    if (isPlatformLogin(details)) return showPlatformLogin(app, ctx, details); // platform staff: no school
    const school = await schoolForRequest(app.db, ctx, stringParam(details.params.school));
    if (!school) return showSchoolChoice(app, ctx, details.uid, {});
    return showLogin(app, ctx, details, { school });
  });

  router.get('/interaction/:uid/school', async (ctx) => {
    const details = await loadInteraction(app, ctx);
    forgetSchool(ctx);
    showSchoolChoice(app, ctx, details.uid, {});
  });

  router.post('/interaction/:uid/school', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    const t = tr(ctx);
    const form = schoolForm.safeParse(ctx.request.body);
    if (!form.success) return showSchoolChoice(app, ctx, details.uid, { error: t('school.not_found') }, 400);
    const chosen = form.data.school ? await schoolFromHint(app.db, form.data.school) : undefined;
    const found = chosen ? [chosen] : await searchSchools(app.db, form.data.query ?? '');
    if (found.length === 1) {
      rememberSchool(ctx, found[0]!);
      return ctx.redirect(`/interaction/${details.uid}`);
    }
    if (!found.length) {
      return showSchoolChoice(app, ctx, details.uid, { query: form.data.query, error: t('school.not_found') }, 404);
    }
    return showSchoolChoice(app, ctx, details.uid, { query: form.data.query, schools: found });
  });

  router.post('/interaction/:uid/login', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    if (details.prompt.name !== 'login') return ctx.redirect(`/interaction/${details.uid}`);
    const t = tr(ctx);
    const form = loginForm.safeParse(ctx.request.body ?? {});
    // The school the form was shown for (another tab may have changed the remembered one since).
    const shownFor = form.success ? await schoolFromHint(app.db, form.data.school?.toLowerCase()) : undefined;
    const school = shownFor ?? (await schoolForRequest(app.db, ctx, stringParam(details.params.school)));
    if (!school) return showSchoolChoice(app, ctx, details.uid, {});
    const login = form.success ? form.data.login : '';
    const remember = form.success && form.data.remember === '1';
    const where = { schoolId: school.id, clientId: stringParam(details.params.client_id) };
    if (!form.success || !form.data.login || !form.data.password) {
      recordOutcome(ctx, { event: 'login', method: 'password', outcome: 'invalid_request', ...where });
      return showLogin(app, ctx, details, { school, login, remember, error: t('login.required'), status: 400 });
    }

    const outcome = await authenticate(app, {
      school,
      login,
      password: form.data.password,
      ip: ctx.ip,
      audit: auditOf(ctx),
      knownDevice: (accountId) => knownDevice(app, ctx, accountId),
    });
    if (!outcome.ok) {
      recordOutcome(ctx, { event: 'login', method: 'password', outcome: loginResult(outcome), ...where });
      const { error, status } = loginRefusal(ctx, outcome);
      return showLogin(app, ctx, details, { school, login, remember, error, status });
    }

    await rememberDevice(app, ctx, outcome.account.id);
    rememberSchool(ctx, school);
    // Curators and admins (and whoever turned it on) give a code before the session exists.
    const next = await completeLogin(app, ctx, details, { account: outcome.account, proofs: ['pwd'], remember });
    recordOutcome(ctx, { event: 'login', method: 'password', outcome: next === 'second_factor' ? 'mfa_required' : 'success', ...where });
  });

  registerChangePasswordRoutes(router, app);
  registerConfirmEmailRoutes(router, app);
  registerMfaRoutes(router, app);

  // The person gives up: the relying party gets access_denied.
  router.get('/interaction/:uid/abort', async (ctx) => {
    await loadInteraction(app, ctx);
    await finishInteraction(app, ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });
}


/** ui_locales of the authorization request chooses the page language unless the person chose one. */
function localeFromParams(ctx: Context, details: InteractionDetails): void {
  const ui = stringParam(details.params.ui_locales);
  if (ui) localeOf(ctx, ui);
}
