/**
 * The platform's pages in the console (`/console/platform/…`, under the console's cookie path):
 * - admin: schools (with counts; add one), curators (grant, another school, revoke), clients
 *   (read-only), and everything support sees;
 * - support: health, counts per school, the audit log's metadata.
 * Neither sees personal data of users: every read goes through scope.ts, which gives platform
 * roles aggregates and role metadata only. Every page checks the role here; a curator (or support
 * on an admin page) gets the console's 403 page.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import { consoleActor, consoleLoginNeeded, refuseConsoleArea, startConsoleLogin, PLATFORM_HOME } from '../curator/console-auth.js';
import { ADMIN, SUPPORT, auditMetadata, curatorList, schoolCounts, type Actor, type ConsoleRole } from '../curator/scope.js';
import { addSchool, parseSchoolInput, SchoolError } from '../schools/add.js';
import type { MessageKey } from '../i18n/index.js';
import { grantCuratorRole, grantCuratorSchool, revokeCurator, type RoleOutcome } from '../accounts/roles.js';
import { clientEntries } from './clients.js';
import { platformHealth } from './health.js';
import { registerPlatformLoginRoutes } from './login.js';
import { auditOf } from '../audit/bound.js';

const text = (max: number) => z.string().max(max).catch('').default('');
const schoolForm = z.object({ number: text(40), name: text(300), region: text(200), slug: text(80) });
const grantForm = z.object({ school: text(64), login: text(100) });
const pairForm = z.object({ user: text(64), school: text(64) });
const DONE = ['school', 'grant', 'grant_school', 'revoke'] as const;
const AUDIT_PAGE = 100;

type SchoolValues = z.infer<typeof schoolForm>;

export function registerPlatformRoutes(router: Router, app: AppContext): void {
  registerPlatformLoginRoutes(router, app);

  const withRole = (roles: ConsoleRole[], handler: (ctx: Context, actor: Actor) => Promise<void>) => async (ctx: Context) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx, PLATFORM_HOME);
    if (!roles.includes(actor.role)) return refuseConsoleArea(ctx);
    await handler(ctx, actor);
  };
  const staff = [ADMIN, SUPPORT] as ConsoleRole[];
  const admins = [ADMIN] as ConsoleRole[];
  const notice = (ctx: Context) => {
    const done = DONE.find((d) => d === ctx.query.done);
    return done ? tr(ctx)(`platform.done.${done}` as MessageKey) : undefined;
  };
  const seeOther = (ctx: Context, url: string) => {
    ctx.status = 303;
    ctx.redirect(url);
  };

  router.get(PLATFORM_HOME, withRole(staff, async (ctx, actor) => {
    render(ctx, 'platform/home', { pageTitle: tr(ctx)('platform.title'), actor: { login: actor.user.login, role: actor.role }, isAdmin: actor.role === ADMIN, csrfToken: app.csrf.token(ctx) });
  }));

  router.get(`${PLATFORM_HOME}/login`, (ctx) => startConsoleLogin(app, ctx, true));

  // ——— support (and admin) ———

  router.get(`${PLATFORM_HOME}/health`, withRole(staff, async (ctx) => {
    render(ctx, 'platform/health', { pageTitle: tr(ctx)('platform.health'), health: await platformHealth(app) });
  }));

  router.get(`${PLATFORM_HOME}/counts`, withRole(staff, async (ctx, actor) => {
    render(ctx, 'platform/counts', { pageTitle: tr(ctx)('platform.counts'), schools: await schoolCounts(app.db, actor) });
  }));

  router.get(`${PLATFORM_HOME}/audit`, withRole(staff, async (ctx, actor) => {
    const before = Number(ctx.query.before);
    const entries = await auditMetadata(app.db, actor, { limit: AUDIT_PAGE, beforeId: Number.isSafeInteger(before) && before > 0 ? before : undefined });
    render(ctx, 'platform/audit', { pageTitle: tr(ctx)('platform.audit'), entries, next: entries.length === AUDIT_PAGE ? entries[entries.length - 1]!.id : undefined });
  }));

  // ——— admin ———

  const showSchools = async (ctx: Context, actor: Actor, v: { values?: SchoolValues; error?: string } = {}, status = 200) => {
    render(ctx, 'platform/schools', {
      pageTitle: tr(ctx)('platform.schools'), csrfToken: app.csrf.token(ctx), schools: await schoolCounts(app.db, actor),
      values: v.values ?? { number: '', name: '', region: '', slug: '' }, error: v.error, notice: notice(ctx),
    }, status);
  };

  router.get(`${PLATFORM_HOME}/schools`, withRole(admins, (ctx, actor) => showSchools(ctx, actor)));

  router.post(`${PLATFORM_HOME}/schools`, app.csrf.verify, withRole(admins, async (ctx, actor) => {
    const t = tr(ctx);
    const values = schoolForm.parse(ctx.request.body ?? {});
    const input = parseSchoolInput(values);
    if (!input.ok) return showSchools(ctx, actor, { values, error: t(`platform.schools.problem.${input.problem}` as MessageKey) }, 400);
    try {
      await addSchool(app.db, input.value, auditOf(ctx));
    } catch (err) {
      if (!(err instanceof SchoolError)) throw err;
      return showSchools(ctx, actor, { values, error: t(`platform.schools.problem.${err.problem}` as MessageKey) }, 409);
    }
    seeOther(ctx, `${PLATFORM_HOME}/schools?done=school`);
  }));

  const showCurators = async (ctx: Context, actor: Actor, v: { grant?: z.infer<typeof grantForm>; error?: string } = {}, status = 200) => {
    const [curators, schools] = await Promise.all([curatorList(app.db, actor), schoolCounts(app.db, actor)]);
    // Each curator once for «another school»: by login and own school.
    const people = [...new Map(curators.map((c) => [c.userId, { id: c.userId, label: `${c.login} (№ ${c.homeSchoolNumber})` }])).values()];
    render(ctx, 'platform/curators', {
      pageTitle: tr(ctx)('platform.curators'), csrfToken: app.csrf.token(ctx), curators, people, schools,
      grant: v.grant ?? { school: '', login: '' }, error: v.error, notice: notice(ctx),
    }, status);
  };
  const roleDone = async (ctx: Context, actor: Actor, outcome: RoleOutcome, done: (typeof DONE)[number], grant?: z.infer<typeof grantForm>) => {
    if (outcome.ok) return seeOther(ctx, `${PLATFORM_HOME}/curators?done=${done}`);
    const status = outcome.problem === 'no_account' || outcome.problem === 'no_school' ? 404 : outcome.problem === 'already' ? 409 : 400;
    await showCurators(ctx, actor, { grant, error: tr(ctx)(`platform.curators.problem.${outcome.problem}` as MessageKey) }, status);
  };
  const by = (ctx: Context, actor: Actor) => ({ actor, audit: auditOf(ctx) });

  router.get(`${PLATFORM_HOME}/curators`, withRole(admins, (ctx, actor) => showCurators(ctx, actor)));

  router.post(`${PLATFORM_HOME}/curators/grant`, app.csrf.verify, withRole(admins, async (ctx, actor) => {
    const f = grantForm.parse(ctx.request.body ?? {});
    const login = f.login.trim();
    if (!login) return roleDone(ctx, actor, { ok: false, problem: 'no_account' }, 'grant', f);
    await roleDone(ctx, actor, await grantCuratorRole(app, by(ctx, actor), { schoolId: f.school, login }), 'grant', f);
  }));

  router.post(`${PLATFORM_HOME}/curators/school`, app.csrf.verify, withRole(admins, async (ctx, actor) => {
    const f = pairForm.parse(ctx.request.body ?? {});
    await roleDone(ctx, actor, await grantCuratorSchool(app, by(ctx, actor), { userId: f.user, schoolId: f.school }), 'grant_school');
  }));

  router.post(`${PLATFORM_HOME}/curators/revoke`, app.csrf.verify, withRole(admins, async (ctx, actor) => {
    const f = pairForm.parse(ctx.request.body ?? {});
    await roleDone(ctx, actor, await revokeCurator(app, by(ctx, actor), { userId: f.user, schoolId: f.school }), 'revoke');
  }));

  router.get(`${PLATFORM_HOME}/clients`, withRole(admins, async (ctx) => {
    render(ctx, 'platform/clients', { pageTitle: tr(ctx)('platform.clients'), clients: await clientEntries(app) });
  }));
}
