/**
 * The login form of platform staff (admin, support): their accounts belong to no school, so the
 * school's login form cannot find them. The console asks for this form with the platform hint
 * (`school=platform`, from `/console/platform`); it is shown only to the console's own client.
 * The password check is the one of every login (throttle, audit, same words on failure), then
 * the second factor, which admin and support must use (MFA_REQUIRED_ROLES). The session is
 * never remembered beyond the browser.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import { loadInteraction, type InteractionDetails } from '../oidc/interaction.js';
import { authenticate, loginResult } from '../login/authenticate.js';
import { recordOutcome } from '../metrics/outcomes.js';
import { knownDevice, rememberDevice } from '../login/known-device.js';
import { loginRefusal } from '../login/refusal.js';
import { completeLogin } from '../login/steps.js';
import { auditOf } from '../audit/bound.js';
import { CONSOLE_CLIENT_ID } from '../curator/console-client.js';
import { PLATFORM_HINT } from '../curator/console-auth.js';

const loginForm = z.object({
  login: z.string().trim().max(100).catch('').default(''),
  password: z.string().max(1000).catch('').default(''),
});

export function isPlatformLogin(details: InteractionDetails): boolean {
  return details.params.client_id === CONSOLE_CLIENT_ID && details.params.school === PLATFORM_HINT;
}

export function showPlatformLogin(app: AppContext, ctx: Context, details: InteractionDetails, v: { login?: string; error?: string } = {}, status = 200): void {
  const t = tr(ctx);
  render(ctx, 'platform/login', {
    pageTitle: t('platform.login.title'),
    action: `/interaction/${details.uid}/platform/login`,
    csrfToken: app.csrf.token(ctx),
    login: v.login ?? '',
    error: v.error,
  }, status);
}

export function registerPlatformLoginRoutes(router: Router, app: AppContext): void {
  router.post('/interaction/:uid/platform/login', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    if (details.prompt.name !== 'login' || !isPlatformLogin(details)) return ctx.redirect(`/interaction/${details.uid}`);
    const t = tr(ctx);
    const form = loginForm.parse(ctx.request.body ?? {});
    if (!form.login || !form.password) {
      recordOutcome(ctx, { event: 'login', method: 'password', outcome: 'invalid_request' });
      return showPlatformLogin(app, ctx, details, { login: form.login, error: t('login.required') }, 400);
    }
    const outcome = await authenticate(app, {
      school: null, login: form.login, password: form.password, ip: ctx.ip,
      audit: auditOf(ctx),
      knownDevice: (accountId) => knownDevice(app, ctx, accountId),
    });
    if (!outcome.ok) {
      recordOutcome(ctx, { event: 'login', method: 'password', outcome: loginResult(outcome) });
      const { error, status } = loginRefusal(ctx, outcome);
      return showPlatformLogin(app, ctx, details, { login: form.login, error }, status);
    }
    await rememberDevice(app, ctx, outcome.account.id);
    // A platform account without a console role: logged in, and the console then refuses it.
    const next = await completeLogin(app, ctx, details, { account: outcome.account, proofs: ['pwd'], remember: false });
    recordOutcome(ctx, { event: 'login', method: 'password', outcome: next === 'second_factor' ? 'mfa_required' : 'success' });
  });
}
