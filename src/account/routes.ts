/**
 * `/account`: the logged-in person's own page — login, school, children (and another child's
 * parent code), email and its status (change: a confirmation letter to the new address, a notice
 * to the old), password (current one required), and the apps signed in with «Выйти» from one or
 * from all. Who is logged in is the provider's own session (the SSO cookie); without one the page
 * starts a login as the first-party client `journal-account`, which comes back here.
 */
import { actAs, auditOf } from '../audit/bound.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr } from '../server/views.js';
import { findAccountById, type Account } from '../accounts/queries.js';
import { passwordProblem, setPassword } from '../accounts/password-change.js';
import { applyEffects } from '../accounts/effects.js';
import { firstStepLeft, signedInHere } from '../login/steps.js';
import { childrenOf } from '../accounts/guardianships.js';
import { findSchoolById } from '../schools/queries.js';
import { fieldText, formatSnils, readEmail, readField } from '../accounts/fields.js';
import { passwordProblemText, passwordRules } from '../accounts/password-messages.js';
import { currentPasswordRefusal } from '../accounts/reauth.js';
import { checkCode } from '../signup/check-code.js';
import { linkChildren, lockCodesAndChildren, recordConsents } from '../signup/link-children.js';
import { RegistrationError } from '../signup/errors.js';
import type { MessageKey } from '../i18n/index.js';
import { ACCOUNT_CLIENT_ID } from '../oidc/clients.js';
import { endsEsiaSession, throughEsiaLogout } from '../esia/logout.js';
import { listSignedIn, signOutOf } from './signed-in.js';
import { linkOf } from '../esia/queries.js';
import { unlinkGosuslugi } from '../accounts/gosuslugi-links.js';
import { linkHow } from '../esia/notify.js';
import { changeEmail, setOwnSnils } from '../accounts/contacts.js';
import { myData } from './my-data.js';
import { findPersonById } from '../roster/queries.js';
import { checkTotp, codeRefusal, enrolmentView, mfaRequired, secondFactorDevice } from '../mfa/routes.js';
import { hasConfirmedTotp } from '../mfa/queries.js';
import { removeSecondFactor, secondFactorEnrolled, startEnrolment } from '../accounts/second-factor.js';

const text = (max: number) => z.string().max(max).catch('').default('');
const forms = {
  child: z.object({ code: text(100) }),
  email: z.object({ password: text(1000), email: text(254) }),
  password: z.object({ current: text(1000), password: text(1000), repeat: text(1000) }),
  signout: z.object({ grant: text(100), all: text(5) }),
  snils: z.object({ password: text(1000), snils: text(40) }),
  mfa: z.object({ password: text(1000), code: text(100) }),
};

interface Notice {
  ok?: string;
  error?: string;
  section?: string;
}

/**
 * The account of the provider's session on this browser, if any — and only once the login has
 * no step left (login/steps.ts): a person whose one-time password is not replaced yet has a
 * session, but the page starts the login again, which oidc-provider resumes at «Смена пароля»
 * and which comes back to /account.
 */
async function signedIn(app: AppContext, ctx: Context): Promise<Account | undefined> {
  const session = await app.oidc.provider.Session.get(ctx as never);
  if (!session.accountId) return undefined;
  const account = await findAccountById(app.db, session.accountId);
  if (!account || account.disabled_at) return undefined;
  return firstStepLeft(signedInHere(ctx, account)) ? undefined : account;
}

/** Sends the browser to log in as the account page's own client; it comes back to /account. */
function startLogin(app: AppContext, ctx: Context) {
  const url = new URL('/auth', app.config.issuer);
  // The code is never exchanged (the session is what counts), but PKCE is required of every client.
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  url.search = new URLSearchParams({
    client_id: ACCOUNT_CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${app.config.issuer}/account/callback`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(16).toString('base64url'),
    // Which school's login form to show (from /hello); only a hint.
    ...(typeof ctx.query.school === 'string' && /^[a-z0-9-]{1,64}$/.test(ctx.query.school) ? { school: ctx.query.school } : {}),
  }).toString();
  ctx.redirect(url.toString());
}

async function showAccount(app: AppContext, ctx: Context, account: Account, notice: Notice = {}, status = 200) {
  const t = tr(ctx);
  const [school, children, apps, esiaLink] = await Promise.all([
    account.school_id ? findSchoolById(app.db, account.school_id) : undefined,
    childrenOf(app.db, account.id),
    listSignedIn(app, account.id),
    linkOf(app.db, account.id),
  ]);
  render(
    ctx,
    'account',
    {
      pageTitle: t('account.title'),
      csrfToken: app.csrf.token(ctx),
      account,
      school,
      children,
      apps,
      esiaLink,
      // How the link was made (from the data of a curator, the roster, a confirmed email, or by the holder).
      esiaHow: esiaLink ? t(`mail.esia-linked.how.${linkHow(esiaLink)}` as MessageKey, { curator: esiaLink.origin_user_id ? (await findAccountById(app.db, esiaLink.origin_user_id))?.login ?? '' : '' }) : undefined,
      mfaOn: await hasConfirmedTotp(app.db, account.id),
      mfaRequired: await mfaRequired(app, account),
      // Gosuslugi finds people by SNILS: one the school entered wins; otherwise the person may add theirs.
      snilsBySchool: account.snils_source === 'school' || Boolean(account.person_id && (await findPersonById(app.db, account.person_id))?.snils),
      snilsShown: account.snils ? formatSnils(account.snils) : '',
      // The section shows a link even when ESIA was switched off since; linking needs ESIA on.
      esiaShown: Boolean(app.esia || esiaLink),
      canAddChild: account.kind === 'parent' || account.kind === 'staff',
      rules: passwordRules(t, app.config.password),
      minLength: app.config.password.minLength,
      maxLength: app.config.password.maxLength,
      notice,
    },
    status,
  );
}

export function registerAccountRoutes(router: Router, app: AppContext): void {
  router.get('/account', async (ctx) => {
    const account = await signedIn(app, ctx);
    if (!account) return startLogin(app, ctx);
    const done = typeof ctx.query.done === 'string' ? ctx.query.done : undefined;
    const ok = done && ['child', 'email', 'signout', 'esia', 'snils', 'mfa', 'mfa_off'].includes(done) ? tr(ctx)(`account.done.${done}` as MessageKey) : undefined;
    await showAccount(app, ctx, account, { ok, section: done });
  });

  router.get('/account/data.json', async (ctx) => {
    const account = await signedIn(app, ctx);
    if (!account) return startLogin(app, ctx);
    const data = await myData(app, account);
    // The download is not behind withAccount (a GET opened directly): the person acts.
    await actAs(ctx, { type: 'user', id: account.id }).record({ action: 'user.data.export', schoolId: account.school_id, target: { type: 'user', id: account.id } });
    ctx.set('cache-control', 'no-store');
    ctx.attachment(`journal-id-${account.login}.json`);
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = JSON.stringify(data, null, 2);
  });

  router.get('/account/callback', (ctx) => {
    if (typeof ctx.query.error === 'string') {
      const t = tr(ctx);
      return renderMessage(ctx, { title: t('account.title'), paragraphs: [t('error.generic')], backUrl: '/account', backText: t('account.title') }, 400);
    }
    ctx.redirect('/account');
  });

  // Every form needs the session; without it (expired meanwhile) the person logs in again.
  const withAccount = (handler: (ctx: Context, account: Account) => Promise<void>) => async (ctx: Context) => {
    const account = await signedIn(app, ctx);
    if (!account) return startLogin(app, ctx);
    actAs(ctx, { type: 'user', id: account.id });
    await handler(ctx, account);
  };

  router.post('/account/child', app.csrf.verify, withAccount(async (ctx, account) => {
    const t = tr(ctx);
    const fail = (key: MessageKey, params: Record<string, string> = {}, status = 400) =>
      showAccount(app, ctx, account, { error: t(key, params), section: 'child' }, status);
    if (account.kind !== 'parent' && account.kind !== 'staff') return fail('register.error.child.not_parent');
    const { code } = forms.child.parse(ctx.request.body ?? {});
    const c = await checkCode(app, code, ctx.ip);
    if (!c.ok) return fail(`register.error.${c.reason}` as MessageKey, { prefix: 'prefix' in c ? c.prefix : '' }, c.reason === 'throttled' ? 429 : 400);
    if (c.role !== 'parent') return fail('register.error.child.not_parent');
    if (c.school.id !== account.school_id) return fail('register.error.child.other_school');
    if ((await childrenOf(app.db, account.id)).some((ch) => ch.id === c.person.id)) return fail('register.error.child.same_child');
    try {
      await app.db.transaction(async (trx) => {
        const earlierGuardians = await lockCodesAndChildren(app, trx, [c], [c.person]);
        await linkChildren(app, trx, { account, codes: [c], children: [c.person], earlierGuardians, schoolName: c.school.name });
        await recordConsents(app, trx, account.id, [c.person.id], ctx.ip);
        await applyEffects(app, trx, 'guardian_link', account, auditOf(ctx), { target: { type: 'person', id: c.person.id } });
      });
    } catch (err) {
      if (!(err instanceof RegistrationError)) throw err;
      return fail(err.problem === 'guardians_full' ? 'register.error.guardians_full' : (`register.error.${err.problem}` as MessageKey), err.params);
    }
    ctx.redirect('/account?done=child');
    ctx.status = 303;
  }));

  router.post('/account/email', app.csrf.verify, withAccount(async (ctx, account) => {
    const t = tr(ctx);
    const input = forms.email.parse(ctx.request.body ?? {});
    const read = readEmail(input.email, true);
    if (!read.ok) return showAccount(app, ctx, account, { error: fieldText(t, read.problem), section: 'email' }, 400);
    const email = read.value!;
    const refused = await currentPasswordRefusal(app, ctx, account, input.password);
    if (refused) return showAccount(app, ctx, account, { error: refused.error, section: 'email' }, refused.status);
    // The library's email_change row: the new address confirms itself, the old one is told.
    await app.db.transaction((trx) => changeEmail(app, trx, account, { email, enteredBy: null }, auditOf(ctx)));
    ctx.redirect('/account?done=email');
    ctx.status = 303;
  }));

  router.post('/account/password', app.csrf.verify, withAccount(async (ctx, account) => {
    const t = tr(ctx);
    const input = forms.password.parse(ctx.request.body ?? {});
    const fail = (error: string, status = 400) => showAccount(app, ctx, account, { error, section: 'password' }, status);
    const refused = await currentPasswordRefusal(app, ctx, account, input.current);
    if (refused) return fail(refused.error, refused.status);
    const problem = passwordProblem(app, account, input.password);
    if (problem) return fail(passwordProblemText(t, problem, app.config.password));
    if (input.password !== input.repeat) return fail(t('password.mismatch'));
    if (input.password === input.current) return fail(t('password.same'));
    // Everywhere but this browser, which typed both passwords: whoever knew the old one is out.
    const done = await setPassword(app, account, input.password, 'own_change', auditOf(ctx), { ctx, reason: 'password changed', details: { reason: 'account page' } });
    if (!done.ok) return fail(done.reason === 'policy' ? passwordProblemText(t, done.problem, app.config.password) : t('password.same'));
    renderMessage(ctx, { title: t('recover.done.title'), paragraphs: [t('account.password.done', { login: account.login })], backUrl: '/account', backText: t('login.submit') });
  }));

  router.post('/account/snils', app.csrf.verify, withAccount(async (ctx, account) => {
    const t = tr(ctx);
    const input = forms.snils.parse(ctx.request.body ?? {});
    const fail = (key: MessageKey, status = 400) => showAccount(app, ctx, account, { error: t(key), section: 'esia' }, status);
    const read = readField('snils', input.snils);
    if (!read.ok) return showAccount(app, ctx, account, { error: fieldText(t, read.problem), section: 'esia' }, 400);
    const digits = read.value ?? '';
    if (account.snils_source === 'school') return fail('account.snils.by_school');
    const refused = await currentPasswordRefusal(app, ctx, account, input.password);
    if (refused) return showAccount(app, ctx, account, { error: refused.error, section: 'esia' }, refused.status);
    await app.db.transaction(async (trx) => {
      // Typed by the person: Gosuslugi links through it only after the password (docs/esia.md).
      await setOwnSnils(trx, account, digits || null, auditOf(ctx));
    });
    ctx.redirect('/account?done=snils');
    ctx.status = 303;
  }));

  // Two-step verification: the password, then the QR code, then a code from the app confirms it.
  const showEnrolment = async (ctx: Context, account: Account, error?: string, status = 200) => {
    const secret = await startEnrolment(app.db, app.config.secrets.keyEncryptionKey, account.id);
    if (!secret) return ctx.redirect('/account?done=mfa');
    render(ctx, 'mfa', {
      pageTitle: tr(ctx)('account.mfa'), action: '/account/mfa/confirm', csrfToken: app.csrf.token(ctx), login: account.login,
      enrol: enrolmentView(app, account, secret), introKey: 'account.mfa.off', submitKey: 'account.mfa.confirm', backUrl: '/account', backKey: 'account.title', error,
    }, status);
  };

  router.post('/account/mfa/start', app.csrf.verify, withAccount(async (ctx, account) => {
    const input = forms.mfa.parse(ctx.request.body ?? {});
    const refused = await currentPasswordRefusal(app, ctx, account, input.password);
    if (refused) return showAccount(app, ctx, account, { error: refused.error, section: 'mfa' }, refused.status);
    await showEnrolment(ctx, account);
  }));

  router.post('/account/mfa/confirm', app.csrf.verify, withAccount(async (ctx, account) => {
    const input = forms.mfa.parse(ctx.request.body ?? {});
    if (await hasConfirmedTotp(app.db, account.id)) return ctx.redirect('/account?done=mfa');
    const check = await checkTotp(app, account, input.code, await secondFactorDevice(app, ctx, account.id));
    if (check.outcome !== 'ok') {
      const { error, status } = codeRefusal(ctx, check);
      return showEnrolment(ctx, account, error, status);
    }
    await secondFactorEnrolled(app, account, auditOf(ctx));
    ctx.redirect('/account?done=mfa');
    ctx.status = 303;
  }));

  router.post('/account/mfa/disable', app.csrf.verify, withAccount(async (ctx, account) => {
    const t = tr(ctx);
    const input = forms.mfa.parse(ctx.request.body ?? {});
    const fail = (key: MessageKey, status = 400) => showAccount(app, ctx, account, { error: t(key), section: 'mfa' }, status);
    if (await mfaRequired(app, account)) return fail('account.mfa.required', 403);
    const refused = await currentPasswordRefusal(app, ctx, account, input.password);
    if (refused) return showAccount(app, ctx, account, { error: refused.error, section: 'mfa' }, refused.status);
    const check = await checkTotp(app, account, input.code, await secondFactorDevice(app, ctx, account.id));
    if (check.outcome !== 'ok') {
      const { error, status } = codeRefusal(ctx, check);
      return showAccount(app, ctx, account, { error, section: 'mfa' }, status);
    }
    await removeSecondFactor(app, account, 'mfa_disable', auditOf(ctx));
    ctx.redirect('/account?done=mfa_off');
    ctx.status = 303;
  }));

  router.post('/account/esia/unlink', app.csrf.verify, withAccount(async (ctx, account) => {
    await app.db.transaction((trx) => unlinkGosuslugi(app, trx, account, 'holder', auditOf(ctx)));
    ctx.redirect('/account?done=esia');
    ctx.status = 303;
  }));

  router.post('/account/signout', app.csrf.verify, withAccount(async (ctx, account) => {
    const input = forms.signout.parse(ctx.request.body ?? {});
    if (input.all === '1') {
      const session = await app.oidc.provider.Session.get(ctx as never);
      await app.sessions.endSessions(account.id, { reason: 'signed out everywhere', by: auditOf(ctx) });
      if (endsEsiaSession(app, session.amr)) return throughEsiaLogout(app, ctx); // then «вы вышли»
      const t = tr(ctx);
      return renderMessage(ctx, { title: t('logout.done'), paragraphs: [t('account.signout.all.done')], backUrl: '/account', backText: t('login.submit') });
    }
    await signOutOf(app, account.id, input.grant, auditOf(ctx));
    ctx.redirect('/account?done=signout');
    ctx.status = 303;
  }));
}
