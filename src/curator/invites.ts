/**
 * Invitations from the console: the school's classes with their pupils, and per class a batch of
 * codes (one for the pupil, parents' codes as chosen) printed at once — the same sheets as the
 * CLI's, one A5 invitation per page. The codes are in the response only (the database keeps
 * their HMACs), so the page is not cached; printing again means a new batch. A class's unused
 * codes can be revoked (a lost pile of sheets), which also frees the parents' limit for a reprint.
 */
import { auditOf } from '../audit/bound.js';
import type Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr, localeOf } from '../server/views.js';
import { listClasses, listPeople } from '../roster/queries.js';
import { normalizeClassName } from '../accounts/fields.js';
import { defaultExpiry, issueInvites, issueSettingsOf, revokeInviteIds, IssueError } from '../invites/issue.js';
import { listInvites, unusedCodesByClass } from '../invites/queries.js';
import { registrationAddress, renderSheets } from '../invites/sheets.js';
import { findSchoolById } from '../schools/queries.js';
import { consoleActor, consoleLoginNeeded } from './console-auth.js';
import { actorSchools, currentSchoolId } from './scope.js';

// Read as everywhere (fields.ts): «6а» finds 6А, as on the command line; what is no class finds nobody.
const classField = z.string().max(20).catch('').default('').transform((v) => normalizeClassName(v) ?? v.trim());
const issueForm = z.object({ class: classField, school: z.string().max(40).optional().catch(undefined), parents: z.enum(['0', '1', '2', '3', '4']).catch('2').default('2') });
const revokeForm = z.object({ class: classField, school: z.string().max(40).optional().catch(undefined) });

export function registerConsoleInviteRoutes(router: Router, app: AppContext): void {
  router.get('/console/invites', async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx);
    const schoolId = currentSchoolId(actor, ctx.query.school);
    const [school, schools, classes, unused] = await Promise.all([
      findSchoolById(app.db, schoolId),
      actorSchools(app.db, actor),
      listClasses(app.db, schoolId),
      unusedCodesByClass(app.db, schoolId), // for the «revoke» button
    ]);
    const done = typeof ctx.query.revoked === 'string' && /^\d{1,6}$/.test(ctx.query.revoked) ? ctx.query.revoked : undefined;
    render(ctx, 'console/invites', {
      pageTitle: tr(ctx)('console.invites'), csrfToken: app.csrf.token(ctx), school, schools,
      classes: classes.map((c) => ({ ...c, unused: unused.get(c.class_name) ?? 0 })),
      notice: done !== undefined ? tr(ctx)('console.invites.revoked', { n: done }) : undefined,
    });
  });

  router.post('/console/invites', app.csrf.verify, async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx);
    const t = tr(ctx);
    const f = issueForm.parse(ctx.request.body ?? {});
    const schoolId = currentSchoolId(actor, f.school);
    const school = (await findSchoolById(app.db, schoolId))!;
    // Only a class of a school in the actor's scope: the roster query is filtered by the school.
    const people = f.class ? await listPeople(app.db, schoolId, { className: f.class, kind: 'student' }) : [];
    const back = { backUrl: `/console/invites?school=${schoolId}`, backText: t('console.invites') };
    if (!people.length) return renderMessage(ctx, { title: t('console.invites'), paragraphs: [t('console.invites.empty')], ...back }, 404);
    let issued;
    try {
      ({ issued } = await app.db.transaction((trx) =>
        issueInvites(trx, issueSettingsOf(app.config), {
          schoolId, people, studentCodes: 1, parentCodes: Math.min(Number(f.parents), app.config.invites.maxParentsPerChild),
          expiresAt: defaultExpiry(app.config.invites.ttlDays), by: auditOf(ctx),
        }),
      ));
    } catch (err) {
      if (!(err instanceof IssueError)) throw err;
      return renderMessage(ctx, { title: t('console.invites'), paragraphs: [t('console.invites.limit')], ...back }, 409);
    }
    ctx.set('cache-control', 'no-store');
    ctx.type = 'html';
    ctx.body = renderSheets(issued, { school, address: registrationAddress(app.config, school), locale: localeOf(ctx), title: f.class, cssHref: '/static/sheets.css' });
  });

  // Every unused code of a class's pupils (theirs and their parents'), each revocation audited.
  router.post('/console/invites/revoke', app.csrf.verify, async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx);
    const f = revokeForm.parse(ctx.request.body ?? {});
    const schoolId = currentSchoolId(actor, f.school);
    const people = f.class ? await listPeople(app.db, schoolId, { className: f.class, kind: 'student' }) : [];
    const ids = people.length ? (await listInvites(app.db, schoolId, { personIds: people.map((p) => p.id), usableOnly: true })).map((i) => i.id) : [];
    const n = ids.length ? await app.db.transaction((trx) => revokeInviteIds(trx, schoolId, ids, auditOf(ctx))) : 0;
    ctx.status = 303;
    ctx.redirect(`/console/invites?school=${schoolId}&revoked=${n}`);
  });
}
