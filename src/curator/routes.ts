/**
 * The curator console (`/console`, flow 7): the school's curator finds users, sees a login (the
 * view is audited), sets a new password (shown once; the person must change it at the next
 * login, and every session ends), disables and enables accounts, unlocks a login the brute-force
 * defence slowed down, edits what Gosuslugi matching uses (SNILS, email, phone), removes a
 * Gosuslugi link, and reads the school's audit log. Every query goes through scope.ts; a user of
 * another school is «not found». An account holding a curator, admin or support role is only seen
 * (and its sign-in lock lifted), never changed here: `withChangeableUser` (issue 16.1b).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr, localeOf, template } from '../server/views.js';
import { listAudit } from '../audit/audit.js';
import { findAccountById, LoginTakenError, type Account } from '../accounts/queries.js';
import { resetPassword } from '../accounts/password-change.js';
import { disableAccount, enableAccount } from '../accounts/status.js';
import { auditOf } from '../audit/bound.js';
import { fieldText, readFields } from '../accounts/fields.js';
import { formatSnils } from '../roster/person-input.js';
import { unlinkGosuslugi } from '../accounts/gosuslugi-links.js';
import { holdsPrivilegedRole } from '../accounts/privileged.js';
import { changeEmail, setContactsBySchool } from '../accounts/contacts.js';
import { findSchoolById } from '../schools/queries.js';
import { sendVerification } from '../verify/send.js';
import { consoleActor, consoleLoginNeeded, endConsoleSession, finishConsoleLogin, startConsoleLogin } from './console-auth.js';
import { userInScope, usersInScope, actorSchools, currentSchoolId, type Actor } from './scope.js';
import { searchUsers, userDetails } from './queries.js';
import { registerConsoleInviteRoutes } from './invites.js';
import { registerConsoleRosterRoutes } from './roster.js';
import { registerConsoleGuardianshipRoutes } from './guardianships.js';
import { registerConsoleAppRoutes } from './apps.js';
import { deleteAccount } from '../accounts/delete.js';
import { transferStudent } from '../accounts/transfer.js';
import { sendRecoveryLetter } from '../recovery/service.js';
import { findPersonById } from '../roster/queries.js';
import { schoolFromHint } from '../schools/resolve.js';
import type { MessageKey } from '../i18n/index.js';

const text = (max: number) => z.string().max(max).catch('').default('');
const searchQuery = z.object({ q: text(100), class: text(20), kind: z.enum(['student', 'parent', 'staff', '']).catch('').default('') });
const contactsForm = z.object({ snils: text(40), email: text(254), phone: text(40) });
const transferForm = z.object({ school: text(64), class: text(20), login: text(50) });

export function registerCuratorRoutes(router: Router, app: AppContext): void {
  const withActor = (handler: (ctx: Context, actor: Actor) => Promise<void>) => async (ctx: Context) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx);
    await handler(ctx, actor);
  };
  /** The user named in the path, if the actor may see them; else the console's 404. */
  const withUser = (handler: (ctx: Context, actor: Actor, user: Account) => Promise<void>) =>
    withActor(async (ctx, actor) => {
      const inScope = await userInScope(app.db, actor, ctx.params.id ?? '');
      const user = inScope ? await findAccountById(app.db, inScope.id) : undefined;
      if (!user) {
        const t = tr(ctx);
        return renderMessage(ctx, { title: t('console.not_found'), paragraphs: [t('console.not_found.text')], backUrl: '/console', backText: t('console.title') }, 404);
      }
      await handler(ctx, actor, user);
    });
  /**
   * The user named in the path, if the console may change them. An account holding a curator
   * (of any school), admin or support role is not changed from a school's console — not its
   * password, status, contacts, Gosuslugi link, school or guardianships: a fellow curator's reset
   * before they set up an authenticator is a takeover, a disable or delete reaches the other
   * schools they curate. The platform admin manages those accounts and the holder their own on
   * /account (issue 16.1b). The refusal is audited as denied, in the curator's name.
   */
  const withChangeableUser = (action: string, handler: (ctx: Context, actor: Actor, user: Account) => Promise<void>, message: MessageKey = 'console.privileged') =>
    withUser(async (ctx, actor, user) => {
      if (!(await holdsPrivilegedRole(app.db, user))) return handler(ctx, actor, user);
      if (ctx.method !== 'GET') {
        await auditOf(ctx).record({ action, outcome: 'denied', schoolId: user.school_id, target: { type: 'user', id: user.id }, details: { reason: 'privileged_account' } });
      }
      const t = tr(ctx);
      renderMessage(ctx, { title: t('console.user'), paragraphs: [t(message)], backUrl: `/console/users/${user.id}`, backText: t('console.back') }, 403);
    });
  // The console named the curator (consoleActor → actAs): the request's writer records them.
  const audit = (ctx: Context, _actor: Actor, user: Account, action: string, details: Record<string, unknown> = {}, trx = app.db) =>
    auditOf(ctx).record({ action, schoolId: user.school_id, target: { type: 'user', id: user.id }, details }, trx);
  const done = (ctx: Context, user: Account, what: string) => {
    ctx.status = 303;
    ctx.redirect(`/console/users/${user.id}?done=${what}`);
  };

  router.get('/console', withActor(async (ctx, actor) => {
    const t = tr(ctx);
    const f = searchQuery.parse(ctx.query);
    const searched = Boolean(f.q || f.class || f.kind);
    const [users, school, schools] = await Promise.all([
      searched ? searchUsers(app.db, actor, { q: f.q, className: f.class || undefined, kind: f.kind || undefined }) : Promise.resolve([]),
      findSchoolById(app.db, actor.schoolIds[0]!),
      actorSchools(app.db, actor),
    ]);
    // A curator of several schools searches all of them; each result names its school.
    const schoolNames = schools.length > 1 ? Object.fromEntries(schools.map((s) => [s.id, s.name])) : undefined;
    render(ctx, 'console/users', { pageTitle: t('console.title'), csrfToken: app.csrf.token(ctx), actor: actor.user, school, schoolNames, f, users, searched });
  }));

  router.get('/console/login', (ctx) => startConsoleLogin(app, ctx, true));

  router.get('/console/callback', async (ctx) => {
    const t = tr(ctx);
    if (typeof ctx.query.error === 'string') return renderMessage(ctx, { title: t('console.title'), paragraphs: [t('error.generic')], backUrl: '/console/login', backText: t('login.submit') }, 400);
    const outcome = await finishConsoleLogin(app, ctx);
    if (outcome.ok) return ctx.redirect('/console');
    const key: MessageKey = outcome.reason === 'weak' ? 'console.weak' : outcome.reason === 'not_curator' ? 'console.forbidden' : 'console.login_failed';
    renderMessage(ctx, { title: t('console.title'), paragraphs: [t(key)], backUrl: '/console/login', backText: t('login.submit') }, outcome.reason === 'not_curator' ? 403 : 400);
  });

  router.post('/console/logout', app.csrf.verify, async (ctx) => {
    await endConsoleSession(app, ctx);
    const t = tr(ctx);
    renderMessage(ctx, { title: t('console.title'), paragraphs: [t('console.logged_out')] });
  });

  router.get('/console/users/:id', withUser(async (ctx, actor, user) => {
    const t = tr(ctx);
    const row = (await userDetails(app.db, actor, user.id))!;
    // Seeing a login is itself audited (FAQ: the curator «может посмотреть логин»).
    await audit(ctx, actor, user, 'user.view');
    const done = typeof ctx.query.done === 'string' && /^[a-z_]{1,20}$/.test(ctx.query.done) ? ctx.query.done : undefined;
    render(ctx, 'console/user', {
      pageTitle: t('console.user'), csrfToken: app.csrf.token(ctx), u: row,
      snils: row.person_snils ? formatSnils(row.person_snils) : row.snils ? formatSnils(row.snils) : '',
      snilsFromRoster: Boolean(row.person_snils),
      phone: row.phone ?? row.person_phone ?? '',
      left: user.person_id ? Boolean((await app.db('people').where({ id: user.person_id }).first('left_at'))?.left_at) : undefined,
      graceDays: app.config.retention.leaverGraceDays,
      privileged: await holdsPrivilegedRole(app.db, user),
      notice: done ? t(`console.done.${done}` as MessageKey) : undefined,
    });
  }));

  router.post('/console/users/:id/password', app.csrf.verify, withChangeableUser('user.password.reset', async (ctx, actor, user) => {
    const t = tr(ctx);
    // Whoever knew the old password is out everywhere, apps included (accounts/effects.ts, curator_reset).
    const password = await resetPassword(app, user, 'curator_reset', auditOf(ctx), { reason: 'password reset by the curator' });
    // A pupil without email (the usual case) gets a sheet to hand over, like the invitation sheet.
    if (z.object({ sheet: z.literal('1') }).safeParse(ctx.request.body).success) {
      const school = (await findSchoolById(app.db, user.school_id!))!;
      const person = user.person_id ? await findPersonById(app.db, user.person_id) : undefined;
      const locale = localeOf(ctx);
      ctx.set('cache-control', 'no-store');
      ctx.type = 'html';
      ctx.body = template('console/reset-sheet')({
        t, locale, school, login: user.login, password, className: person?.class_name,
        // The school's spelling of the name, as on the invitation sheets.
        name: person ? `${person.last_name} ${person.first_name}` : [user.last_name, user.first_name].filter(Boolean).join(' '), cssHref: '/static/sheets.css',
      });
      return;
    }
    render(ctx, 'console/password', { pageTitle: t('console.password.title'), login: user.login, password, backUrl: `/console/users/${user.id}` });
  }));

  router.post('/console/users/:id/disable', app.csrf.verify, withChangeableUser('user.disable', async (ctx, actor, user) => {
    await disableAccount(app, user, auditOf(ctx), { reason: 'account disabled by the curator' });
    done(ctx, user, 'disable');
  }));

  router.post('/console/users/:id/enable', app.csrf.verify, withChangeableUser('user.enable', async (ctx, actor, user) => {
    await enableAccount(app, user, auditOf(ctx));
    done(ctx, user, 'enable');
  }));

  // Lifting a throttle lockout stays allowed on any account, a curator's too: it only lets the
  // owner try their own password again, and gives the curator nothing (no password, no session).
  router.post('/console/users/:id/unlock', app.csrf.verify, withUser(async (ctx, actor, user) => {
    const counters = await app.throttle.unlockLogin(user.school_id, user.login);
    await audit(ctx, actor, user, 'login.unlock', { counters });
    done(ctx, user, 'unlock');
  }));

  // What Gosuslugi matching reads is not entered for an account that holds power over others
  // (another curator, possibly of more schools): only its holder sets it (issue 16.1).
  router.post('/console/users/:id/contacts', app.csrf.verify, withChangeableUser('user.contacts.edit', async (ctx, actor, user) => {
    const t = tr(ctx);
    const input = contactsForm.parse(ctx.request.body ?? {});
    const read = readFields({ snils: input.snils, email: input.email, phone: input.phone });
    if (!read.ok) return renderMessage(ctx, { title: t('console.user'), paragraphs: read.problems.map((p) => fieldText(t, p)), backUrl: `/console/users/${user.id}`, backText: t('console.back') }, 400);
    const { snils, email, phone } = read.values;
    const emailChanged = (email || null)?.toLowerCase() !== user.email?.toLowerCase();
    await app.db.transaction(async (trx) => {
      // Entered by the school: Gosuslugi links on this SNILS without asking the person (docs/esia.md),
      // and the link names this curator.
      await setContactsBySchool(trx, user, { snils: snils || null, phone }, actor.user.id);
      // The library's email_change row (the new address confirms itself, the old one is told);
      // recorded once, in user.contacts.edit below, by the curator.
      if (emailChanged) await changeEmail(app, trx, user, { email: email || null, enteredBy: actor.user.id, audit: false }, auditOf(ctx));
      await audit(ctx, actor, user, 'user.contacts.edit', { snils: Boolean(snils), snilsChanged: (snils || null) !== user.snils, email: emailChanged, phone: Boolean(phone) }, trx);
      // A link the old SNILS made by itself goes with it: no link stays behind that nobody sees.
      if ((snils || null) !== user.snils) await unlinkGosuslugi(app, trx, user, 'snils_removed', auditOf(ctx));
    });
    done(ctx, user, 'contacts');
  }, 'console.contacts.privileged'));

  router.post('/console/users/:id/esia-unlink', app.csrf.verify, withChangeableUser('esia.unlink', async (ctx, actor, user) => {
    // The curator's act, in their name (consoleActor bound it); the holder is told.
    await app.db.transaction((trx) => unlinkGosuslugi(app, trx, user, 'curator', auditOf(ctx)));
    done(ctx, user, 'esia');
  }));

  // The alternative to a password shown on screen: a single-use link to the confirmed address, so
  // the person sets a password nobody else knows (the old one works until then).
  router.post('/console/users/:id/password-link', app.csrf.verify, withChangeableUser('user.password.link', async (ctx, actor, user) => {
    if (!user.email || !user.email_verified_at || user.disabled_at) return done(ctx, user, 'link_none');
    const school = user.school_id ? await findSchoolById(app.db, user.school_id) : undefined;
    await app.db.transaction(async (trx) => {
      await sendRecoveryLetter(trx, app, [{ id: user.id, login: user.login, email: user.email!, first_name: user.first_name, school_name: school?.name ?? null, school_slug: school?.slug ?? null }], localeOf(ctx));
      await audit(ctx, actor, user, 'user.password.link', {}, trx);
    });
    done(ctx, user, 'link');
  }));

  router.post('/console/users/:id/resend', app.csrf.verify, withChangeableUser('user.email.resend', async (ctx, actor, user) => {
    if (!user.email || user.email_verified_at) return done(ctx, user, 'resend_none');
    await app.db.transaction(async (trx) => {
      await sendVerification(app, trx, user, user.email!);
      await audit(ctx, actor, user, 'user.email.resend', {}, trx);
    });
    done(ctx, user, 'resend');
  }));

  // A pupil moves to another school: see transfer.ts. The form names the school by its number or
  // address name, as people say it; the class and a new login are asked when needed.
  router.get('/console/users/:id/transfer', withChangeableUser('user.transfer.out', async (ctx, actor, user) => {
    const row = (await userDetails(app.db, actor, user.id))!;
    renderTransfer(ctx, user, { school: '', class: '', login: user.login, className: row.class_name });
  }));

  router.post('/console/users/:id/transfer', app.csrf.verify, withChangeableUser('user.transfer.out', async (ctx, actor, user) => {
    const t = tr(ctx);
    const f = transferForm.parse(ctx.request.body ?? {});
    const row = (await userDetails(app.db, actor, user.id))!;
    const again = (problem: MessageKey, status: number) => renderTransfer(ctx, user, { ...f, className: row.class_name, problem: t(problem) }, status);
    const target = await schoolFromHint(app.db, f.school.trim().toLowerCase());
    if (!target) return again('console.transfer.no_school', 400);
    const outcome = await transferStudent(app, { userId: user.id, toSchoolId: target.id, newLogin: f.login, className: f.class }, auditOf(ctx))
      .catch((err: unknown) => {
        // Nothing of the transfer was kept: the person is told the login is taken, as when asked first.
        if (err instanceof LoginTakenError) return { ok: false as const, reason: 'login_taken' as const };
        throw err;
      });
    if (!outcome.ok) return again(`console.transfer.${outcome.reason}`, outcome.reason === 'login_taken' ? 409 : 400);
    renderMessage(ctx, {
      title: t('console.transfer'),
      paragraphs: [t('console.transfer.done', { school: `${target.name} (${target.region})`, login: outcome.login })],
      backUrl: '/console', backText: t('console.title'),
    });
  }));

  function renderTransfer(ctx: Context, user: Account, v: { school: string; class: string; login: string; className: string | null; problem?: string }, status = 200) {
    render(ctx, 'console/transfer', { pageTitle: tr(ctx)('console.transfer'), csrfToken: app.csrf.token(ctx), user, v }, status);
  }

  // A pupil or staff member who left (or graduated): the roster entry is marked; the account stays
  // usable for LEAVER_GRACE_DAYS, then the lifecycle job disables it. Marking again undoes it.
  router.post('/console/users/:id/left', app.csrf.verify, withChangeableUser('person.left', async (ctx, actor, user) => {
    if (!user.person_id) return done(ctx, user, 'left_none');
    await app.db.transaction(async (trx) => {
      const person = await trx('people').where({ id: user.person_id, school_id: user.school_id }).forUpdate().first('id', 'left_at');
      if (!person) return;
      await trx('people').where({ id: person.id }).update({ left_at: person.left_at ? null : trx.fn.now(), updated_at: trx.fn.now() });
      await audit(ctx, actor, user, person.left_at ? 'person.returned' : 'person.left', { person: person.id }, trx);
    });
    done(ctx, user, 'left');
  }));

  // Deletion on the person's request: the curator types the login to confirm (no slip of a click).
  router.post('/console/users/:id/delete', app.csrf.verify, withChangeableUser('user.delete', async (ctx, actor, user) => {
    const t = tr(ctx);
    const typed = z.object({ confirm: text(100) }).parse(ctx.request.body ?? {}).confirm.trim().toLowerCase();
    if (typed !== user.login.toLowerCase()) {
      return renderMessage(ctx, { title: t('console.delete'), paragraphs: [t('console.delete.mismatch')], backUrl: `/console/users/${user.id}`, backText: t('console.back') }, 400);
    }
    if (user.id === actor.user.id) {
      return renderMessage(ctx, { title: t('console.delete'), paragraphs: [t('console.delete.self')], backUrl: `/console/users/${user.id}`, backText: t('console.back') }, 400);
    }
    await deleteAccount(app, user, auditOf(ctx));
    renderMessage(ctx, { title: t('console.delete'), paragraphs: [t('console.delete.done', { login: user.login })], backUrl: '/console', backText: t('console.title') });
  }));

  registerConsoleInviteRoutes(router, app);
  registerConsoleRosterRoutes(router, app);
  registerConsoleGuardianshipRoutes(router, app);
  registerConsoleAppRoutes(router, app);

  router.get('/console/audit', withActor(async (ctx, actor) => {
    const t = tr(ctx);
    const before = Number(ctx.query.before);
    const schoolId = currentSchoolId(actor, ctx.query.school);
    const entries = await listAudit(app.db, { schoolId, limit: 100, beforeId: Number.isSafeInteger(before) && before > 0 ? before : undefined });
    // Who and whom by login, for the accounts the curator may see; others stay an id prefix.
    // Users only: a client (the admin API approving an app for the school) is no account id.
    const ids = [...new Set(entries.flatMap((e) => [e.actor.type === 'user' ? e.actor.id : null, e.target?.type === 'user' ? e.target.id : null]).filter((id): id is string => Boolean(id)))];
    const logins: Record<string, string> = ids.length
      ? Object.fromEntries(((await usersInScope(app.db, actor).whereIn('u.id', ids).select('u.id', 'u.login')) as { id: string; login: string }[]).map((r) => [r.id, r.login]))
      : {};
    const [school, schools] = await Promise.all([findSchoolById(app.db, schoolId), actorSchools(app.db, actor)]);
    render(ctx, 'console/audit', { pageTitle: t('console.audit'), entries, logins, school, schools, next: entries.length === 100 ? entries[entries.length - 1]!.id : undefined });
  }));
}
