/**
 * `/recover` («Забыли пароль?» on every login page): the email form («Введите ваш E-mail» →
 * «Восстановить») and the same answer for every address; `/recover/<token>`: the link from the
 * letter, which sets a new password once. GET never uses a link up (mail scanners open links).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { localeOf, render, renderMessage, tr } from '../server/views.js';
import { schoolForRequest } from '../schools/resolve.js';
import type { School } from '../schools/queries.js';
import { journalHomeUrl } from '../oidc/clients.js';
import { fieldText, readEmail } from '../accounts/fields.js';
import { addressPart } from '../throttle/keys.js';
import { sha256 } from '../crypto/sealed.js';
import { findUsableToken } from '../email/tokens.js';
import { findAccountById } from '../accounts/queries.js';
import { findSchoolById } from '../schools/queries.js';
import { passwordProblemText, passwordRules } from '../accounts/password-messages.js';
import { setPasswordFromLink } from './set-password.js';
import { recordOutcome } from '../metrics/outcomes.js';
import { auditOf } from '../audit/bound.js';

const emailForm = z.object({ email: z.string().max(254).catch('').default('') });
const passwordForm = z.object({ password: z.string().max(1000).catch('').default(''), repeat: z.string().max(1000).catch('').default('') });

async function showRequest(app: AppContext, ctx: Context, v: { email?: string; error?: string; status?: number } = {}) {
  const t = tr(ctx);
  const school = await schoolForRequest(app.db, ctx, typeof ctx.query.school === 'string' ? ctx.query.school : undefined);
  render(
    ctx,
    'recover',
    {
      pageTitle: t('recover.title'),
      action: school ? `/recover?school=${encodeURIComponent(school.slug)}` : '/recover',
      csrfToken: app.csrf.token(ctx),
      email: v.email ?? '',
      error: v.error,
      loginUrl: journalHomeUrl(app.config),
      registerUrl: school ? `/register?school=${encodeURIComponent(school.slug)}` : '/register',
    },
    v.status ?? 200,
  );
}

async function showLink(app: AppContext, ctx: Context, token: string, v: { error?: string; status?: number } = {}) {
  const t = tr(ctx);
  const link = await findUsableToken(app.db, 'recover', token);
  const account = link ? await findAccountById(app.db, link.user_id) : undefined;
  if (!link || !account || account.disabled_at) return showInvalid(ctx);
  const school: School | undefined = account.school_id ? await findSchoolById(app.db, account.school_id) : undefined;
  render(
    ctx,
    'recover-link',
    {
      pageTitle: t('recover.link.title'),
      action: `/recover/${token}`,
      csrfToken: app.csrf.token(ctx),
      login: account.login,
      forAccount: t('recover.link.for', { login: account.login, school: school?.name ?? '' }),
      rules: passwordRules(t, app.config.password),
      minLength: app.config.password.minLength,
      maxLength: app.config.password.maxLength,
      error: v.error,
    },
    v.status ?? 200,
  );
}

function showInvalid(ctx: Context) {
  const t = tr(ctx);
  renderMessage(ctx, { title: t('recover.link.title'), paragraphs: [t('recover.link.invalid')], backUrl: '/recover', backText: t('recover.link.again') }, 410);
}

export function registerRecoveryRoutes(router: Router, app: AppContext): void {
  router.get('/recover', (ctx) => showRequest(app, ctx));

  router.post('/recover', app.csrf.verify, async (ctx) => {
    const t = tr(ctx);
    const typed = emailForm.parse(ctx.request.body ?? {}).email;
    const read = readEmail(typed, true);
    if (!read.ok) {
      recordOutcome(ctx, { event: 'recovery', step: 'requested', outcome: 'invalid_email' });
      return showRequest(app, ctx, { email: typed.trim(), error: fieldText(t, read.problem), status: 400 });
    }
    const email = read.value!;
    // Counted for every address alike, known or not: the answer must not differ.
    const taken = await app.throttle.take([
      { key: `recover:ip:${addressPart(ctx.ip)}`, policy: app.config.throttle.recoverAddress },
      { key: `recover:email:${sha256(email.toLowerCase()).slice(0, 40)}`, policy: app.config.throttle.recoverEmail },
    ]);
    if (!taken.allowed) {
      recordOutcome(ctx, { event: 'recovery', step: 'requested', outcome: 'throttled' });
      ctx.set('retry-after', String(taken.retryAfterSeconds));
      return showRequest(app, ctx, { email, error: t('recover.throttled'), status: 429 });
    }
    await app.recovery.request({ email, locale: localeOf(ctx), ip: ctx.ip });
    recordOutcome(ctx, { event: 'recovery', step: 'requested', outcome: 'accepted' });
    renderMessage(ctx, {
      title: t('recover.sent.title'),
      paragraphs: [t('recover.sent.text', { email }), t('recover.sent.delay'), t('recover.curator')],
      backUrl: journalHomeUrl(app.config),
      backText: t('recover.back'),
    });
  });

  router.get('/recover/:token', (ctx) => showLink(app, ctx, ctx.params.token!));

  router.post('/recover/:token', app.csrf.verify, async (ctx) => {
    const t = tr(ctx);
    const token = ctx.params.token!;
    const { password, repeat } = passwordForm.parse(ctx.request.body ?? {});
    if (password && password !== repeat) {
      recordOutcome(ctx, { event: 'recovery', step: 'completed', outcome: 'rejected_password' });
      return showLink(app, ctx, token, { error: t('password.mismatch'), status: 400 });
    }
    const result = await setPasswordFromLink(app, token, password, auditOf(ctx));
    recordOutcome(ctx, {
      event: 'recovery',
      step: 'completed',
      outcome: result.ok ? 'success' : result.reason === 'invalid' ? 'invalid_link' : 'rejected_password',
      schoolId: result.ok ? result.schoolId : undefined,
    });
    if (!result.ok && result.reason === 'invalid') return showInvalid(ctx);
    if (!result.ok) {
      const error = result.reason === 'same' ? t('password.same') : passwordProblemText(t, result.problem!, app.config.password);
      return showLink(app, ctx, token, { error, status: 400 });
    }
    renderMessage(ctx, {
      title: t('recover.done.title'),
      paragraphs: [t('recover.done.text', { login: result.login })],
      backUrl: journalHomeUrl(app.config),
      backText: t('register.done.login'),
      switchPath: '/', // the link is used up: not back to «link invalid»
    });
  });
}
