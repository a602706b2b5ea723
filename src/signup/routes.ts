/**
 * Registration by invite code (FAQ «Как зарегистрироваться?»): the code page («Введите
 * приглашительный код» → «Зарегистрироваться»), the details page (login, password, contacts,
 * «Дети»), then «Регистрация в системе успешно завершена» with an offer to log in.
 *
 * The same pages live at /register and, inside an OIDC interaction, at
 * /interaction/<uid>/register (under the interaction cookie's path), whose login offer goes
 * straight back to the relying party. Between the pages the code travels in a hidden field of
 * the POSTed form (never in a URL) and is checked again on submit.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import type { MessageKey, Translate } from '../i18n/index.js';
import { loadInteraction } from '../oidc/interaction.js';
import { journalHomeUrl } from '../oidc/clients.js';
import { schoolForRequest, rememberSchool } from '../schools/resolve.js';
import type { School } from '../schools/queries.js';
import { personName } from '../roster/queries.js';
import { normalizePhone } from '../roster/person-input.js';
import { passwordProblemText, passwordRules } from '../accounts/password-messages.js';
import { checkCode, type CodeProblem, type UsableCode } from './check-code.js';
import { MAX_CHILD_FIELDS, readDetails, type DetailsFields, type FieldError } from './details-form.js';
import { register, RegistrationError } from './register.js';
import { rememberLogin } from '../login/login-hint.js';
import { recordOutcome, type RegistrationResult } from '../metrics/outcomes.js';
import { auditOf } from '../audit/bound.js';

interface Flow {
  /** The interaction this registration happens in, if any. */
  uid?: string;
  /** Path of these pages: /register or /interaction/<uid>/register. */
  base: string;
  /** Where «← Уже есть аккаунт» leads. */
  loginUrl: string;
  school?: School;
  /** The relying party of the interaction (for the audit record). */
  clientId?: string;
}

async function flowOf(app: AppContext, ctx: Context): Promise<Flow> {
  const uid = ctx.params.uid;
  // An expired interaction ends here with «страница входа устарела».
  const details = uid ? await loadInteraction(app, ctx) : undefined;
  const hint = typeof ctx.query.school === 'string' ? ctx.query.school : undefined;
  const school = await schoolForRequest(app.db, ctx, hint);
  return {
    uid,
    base: uid ? `/interaction/${uid}/register` : '/register',
    loginUrl: uid ? `/interaction/${uid}` : journalHomeUrl(app.config),
    school,
    clientId: typeof details?.params.client_id === 'string' ? details.params.client_id : undefined,
  };
}

function forgotUrl(school?: School): string {
  return school ? `/recover?school=${encodeURIComponent(school.slug)}` : '/recover';
}

const PROBLEM_STATUS: Record<CodeProblem['reason'], number> = {
  required: 400, unknown: 400, foreign: 400, redeemed: 409, revoked: 410, expired: 410, throttled: 429,
};

function problemText(t: Translate, p: Pick<CodeProblem, 'reason'> & { prefix?: string }): string {
  return t(`register.error.${p.reason}` as MessageKey, { prefix: p.prefix ?? '' });
}

function showCode(app: AppContext, ctx: Context, flow: Flow, v: { code?: string; error?: string; redeemed?: boolean; status?: number } = {}) {
  const t = tr(ctx);
  // The throttle's own wait when it gave one (showCodeProblem); a minute otherwise.
  if (v.status === 429 && !ctx.response.get('retry-after')) ctx.set('retry-after', '60');
  render(
    ctx,
    'register-code',
    {
      pageTitle: t('register.title'),
      action: flow.base,
      csrfToken: app.csrf.token(ctx),
      school: flow.school,
      code: v.code ?? '',
      error: v.error,
      redeemed: v.redeemed ?? false,
      loginUrl: flow.loginUrl,
      forgotUrl: forgotUrl(flow.school),
    },
    v.status ?? 200,
  );
}

const PROBLEM_OUTCOME: Record<CodeProblem['reason'], RegistrationResult> = {
  required: 'invalid_code', unknown: 'invalid_code', foreign: 'invalid_code', redeemed: 'code_used', revoked: 'code_expired', expired: 'code_expired', throttled: 'throttled',
};

/** The registration's outcome for the metrics and the access log. */
function recordRegistration(ctx: Context, flow: Flow, outcome: RegistrationResult, school?: School) {
  recordOutcome(ctx, { event: 'registration', method: 'invite', outcome, schoolId: (school ?? flow.school)?.id, clientId: flow.clientId });
}

function showCodeProblem(app: AppContext, ctx: Context, flow: Flow, p: CodeProblem) {
  recordRegistration(ctx, flow, PROBLEM_OUTCOME[p.reason]);
  if (p.reason === 'throttled') ctx.set('retry-after', String(p.retryAfterSeconds));
  showCode(app, ctx, flow, {
    code: p.code,
    error: problemText(tr(ctx), p),
    redeemed: p.reason === 'redeemed',
    status: PROBLEM_STATUS[p.reason],
  });
}

function showDetails(
  app: AppContext,
  ctx: Context,
  flow: Flow,
  main: UsableCode,
  v: { fields?: Partial<DetailsFields>; errors?: { field: string; text: string }[]; status?: number } = {},
) {
  const t = tr(ctx);
  const { role, person, school } = main;
  const errors = v.errors ?? [];
  const fieldError = Object.fromEntries(errors.map((e) => [e.field, e.text]));
  const children = v.fields?.children ?? [];
  render(
    ctx,
    'register-details',
    {
      pageTitle: t('register.details.title'),
      action: `${flow.base}/details`,
      csrfToken: app.csrf.token(ctx),
      code: main.code,
      role,
      forWhom: t(`invite.for.${role}` as MessageKey, { class: person.class_name ?? '' }),
      personName: role === 'parent' ? `${person.last_name} ${person.first_name}` : personName(person),
      school,
      askNames: role === 'parent',
      emailRequired: role !== 'student',
      askChildren: role !== 'student',
      // Three fields to start with; one more than typed when the page comes back, up to the maximum.
      childFields: Array.from({ length: Math.min(MAX_CHILD_FIELDS, Math.max(3, children.length + 1)) }, (_, i) => children[i] ?? ''),
      childrenOpen: children.length > 0 || Boolean(fieldError.children),
      fields: { ...v.fields, password: undefined, password2: undefined },
      errors,
      fieldError,
      rules: passwordRules(t, app.config.password),
      minLength: app.config.password.minLength,
      maxLength: app.config.password.maxLength,
      consentText: t(role === 'student' ? 'register.consent.self' : 'register.consent.parent'),
      privacyUrl: '/privacy',
      loginUrl: flow.loginUrl,
    },
    v.status ?? 200,
  );
}

export function registerSignupRoutes(router: Router, app: AppContext): void {
  for (const path of ['/register', '/interaction/:uid/register']) {
    router.get(path, async (ctx) => showCode(app, ctx, await flowOf(app, ctx)));

    router.post(path, app.csrf.verify, async (ctx) => {
      const flow = await flowOf(app, ctx);
      const body = ctx.request.body as Record<string, unknown> | undefined;
      const typed = typeof body?.code === 'string' ? body.code.slice(0, 100) : '';
      const check = await checkCode(app, typed, ctx.ip);
      if (!check.ok) return showCodeProblem(app, ctx, flow, check);
      showDetails(app, ctx, flow, check);
    });

    router.post(`${path}/details`, app.csrf.verify, async (ctx) => {
      const flow = await flowOf(app, ctx);
      const t = tr(ctx);
      const body = ctx.request.body as Record<string, unknown> | undefined;
      const main = await checkCode(app, typeof body?.code === 'string' ? body.code.slice(0, 100) : '', ctx.ip);
      if (!main.ok) return showCodeProblem(app, ctx, flow, main);

      const { fields, errors } = readDetails(body, { names: main.role === 'parent', email: main.role !== 'student' });
      const shown: { field: string; text: string }[] = errors.map((e: FieldError) => ({ field: e.field, text: t(e.key, e.vars) }));
      const childCodes = main.role === 'student' ? [] : await checkChildren(app, ctx, main, fields.children, shown);

      const names = main.role === 'parent' ? [fields.last_name, fields.first_name, fields.middle_name] : [main.person.last_name, main.person.first_name, main.person.middle_name];
      const problem = app.passwords.check(fields.password, {
        login: fields.login,
        names,
        birthDate: main.role === 'parent' ? null : main.person.birth_date,
      });
      if (problem) shown.push({ field: 'password', text: passwordProblemText(t, problem, app.config.password) });
      if (shown.length) {
        recordRegistration(ctx, flow, 'invalid_input', main.school);
        return showDetails(app, ctx, flow, main, { fields, errors: shown, status: 400 });
      }

      try {
        const { account } = await register(app, {
          main,
          children: childCodes,
          login: fields.login,
          password: fields.password,
          email: fields.email || null,
          phone: fields.phone ? normalizePhone(fields.phone) : null,
          names: main.role === 'parent' ? { last: fields.last_name, first: fields.first_name, middle: fields.middle_name || null } : null,
          ip: ctx.ip,
          by: auditOf(ctx),
          clientId: flow.clientId,
        });
        recordRegistration(ctx, flow, 'success', main.school);
        rememberSchool(ctx, main.school);
        rememberLogin(ctx, account.login);
        return showDone(app, ctx, flow, main.school, account.login);
      } catch (err) {
        if (!(err instanceof RegistrationError)) throw err;
        const code = err.params.code;
        if (err.problem === 'login_taken') shown.push({ field: 'login', text: t('register.error.login_taken') });
        else if (err.problem === 'guardians_full') shown.push({ field: 'children', text: t('register.error.guardians_full', err.params) });
        else if (err.problem === 'person_has_account') {
          recordRegistration(ctx, flow, 'code_used', main.school);
          return showCode(app, ctx, flow, { code: main.code, error: t('register.error.person_has_account', err.params), redeemed: true, status: 409 });
        } else if (err.problem === 'roster_invalid') {
          recordRegistration(ctx, flow, 'invalid_input', main.school);
          ctx.state.log?.warn('registration refused: the roster data of the person fails the field rules', { field: err.params.field, personId: main.person.id });
          return showCode(app, ctx, flow, { code: main.code, error: t('register.error.roster_invalid'), status: 422 });
        } else if (code && code !== main.code) {
          shown.push({ field: 'children', text: t('register.error.child', { code, problem: t(`register.error.child.${err.problem}` as MessageKey) }) });
        } else {
          // The code was used (or revoked) while the person typed: back to the code page with why.
          return showCodeProblem(app, ctx, flow, { ok: false, reason: err.problem as 'redeemed', code: main.code });
        }
        recordRegistration(ctx, flow, err.problem === 'login_taken' ? 'login_taken' : 'invalid_input', main.school);
        return showDetails(app, ctx, flow, main, { fields, errors: shown, status: err.problem === 'login_taken' ? 409 : 400 });
      }
    });
  }
}

/** «Дети»: more parent codes of the same school, each for another child. */
async function checkChildren(app: AppContext, ctx: Context, main: UsableCode, typed: string[], shown: { field: string; text: string }[]): Promise<UsableCode[]> {
  const t = tr(ctx);
  const max = app.config.invites.maxChildCodes;
  if (typed.length > max) {
    shown.push({ field: 'children', text: t('register.error.child', { code: typed[max]!, problem: t('register.error.child.too_many', { max }) }) });
    return [];
  }
  const ok: UsableCode[] = [];
  const seen = new Set(main.role === 'parent' ? [main.person.id] : []);
  for (const code of typed) {
    const c = await checkCode(app, code, ctx.ip);
    let problem: string | undefined;
    if (!c.ok) problem = t(`register.error.child.${c.reason}` as MessageKey);
    else if (c.role !== 'parent') problem = t('register.error.child.not_parent');
    else if (c.school.id !== main.school.id) problem = t('register.error.child.other_school');
    else if (seen.has(c.person.id)) problem = t('register.error.child.same_child');
    if (problem) {
      shown.push({ field: 'children', text: t('register.error.child', { code: c.code || code, problem }) });
      continue;
    }
    seen.add((c as UsableCode).person.id);
    ok.push(c as UsableCode);
  }
  return ok;
}

function showDone(app: AppContext, ctx: Context, flow: Flow, school: School, login: string) {
  const t = tr(ctx);
  render(ctx, 'register-done', {
    pageTitle: t('register.done.title'),
    login,
    school,
    // Inside an interaction the login form is right here and returns to the relying party.
    loginAction: flow.uid ? `/interaction/${flow.uid}/login` : undefined,
    csrfToken: flow.uid ? app.csrf.token(ctx) : undefined,
    journalUrl: flow.uid ? undefined : journalHomeUrl(app.config),
  });
}
