/**
 * Invitations from the console: the school's classes with their pupils, and per class a batch of
 * codes (one for the pupil, parents' codes as chosen) printed at once — the same sheets as the
 * CLI's, one A5 invitation per page. The codes are in the response only (the database keeps
 * their HMACs), so the page is not cached; printing again means a new batch.
 */
import type Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr, localeOf } from '../server/views.js';
import { listClasses, listPeople } from '../roster/queries.js';
import { defaultExpiry, issueInvites, issueSettingsOf, IssueError } from '../invites/issue.js';
import { registrationAddress, renderSheets } from '../invites/sheets.js';
import { findSchoolById } from '../schools/queries.js';
import { consoleActor, startConsoleLogin } from './console-auth.js';

const issueForm = z.object({ class: z.string().trim().max(20).catch('').default(''), parents: z.enum(['0', '1', '2', '3', '4']).catch('2').default('2') });

export function registerConsoleInviteRoutes(router: Router, app: AppContext): void {
  router.get('/console/invites', async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return startConsoleLogin(app, ctx);
    const classes = await listClasses(app.db, actor.schoolIds[0]!);
    render(ctx, 'console/invites', { pageTitle: tr(ctx)('console.invites'), csrfToken: app.csrf.token(ctx), classes });
  });

  router.post('/console/invites', app.csrf.verify, async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return ctx.redirect('/console');
    const t = tr(ctx);
    const f = issueForm.parse(ctx.request.body ?? {});
    const schoolId = actor.schoolIds[0]!;
    const school = (await findSchoolById(app.db, schoolId))!;
    // Only a class of the actor's own school: the roster query is filtered by the school.
    const people = f.class ? await listPeople(app.db, schoolId, { className: f.class, kind: 'student' }) : [];
    const back = { backUrl: '/console/invites', backText: t('console.invites') };
    if (!people.length) return renderMessage(ctx, { title: t('console.invites'), paragraphs: [t('console.invites.empty')], ...back }, 404);
    let issued;
    try {
      ({ issued } = await app.db.transaction((trx) =>
        issueInvites(trx, issueSettingsOf(app.config), {
          schoolId, people, studentCodes: 1, parentCodes: Math.min(Number(f.parents), app.config.invites.maxParentsPerChild),
          expiresAt: defaultExpiry(app.config.invites.ttlDays), actor: { type: 'user', id: actor.user.id },
        }),
      ));
    } catch (err) {
      if (!(err instanceof IssueError)) throw err;
      return renderMessage(ctx, { title: t('console.invites'), paragraphs: [err.message], ...back }, 409);
    }
    ctx.set('cache-control', 'no-store');
    ctx.type = 'html';
    ctx.body = renderSheets(issued, { school, address: registrationAddress(app.config, school), locale: localeOf(ctx), title: `${school.name} — ${f.class}`, cssHref: '/static/sheets.css' });
  });
}
