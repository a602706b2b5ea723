/**
 * `/hello`: the school search the apps send people to (FAQ «Как восстановить доступ при работе
 * через приложение…»): number or name and region → the school → its login form, with «Забыли
 * пароль?» and «Пригласительный код». The choice is remembered for later logins too.
 */
import type Router from '@koa/router';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr } from '../server/views.js';
import { searchSchools } from './queries.js';
import { rememberSchool, schoolForRequest, schoolFromHint } from './resolve.js';

export function registerSchoolRoutes(router: Router, app: AppContext): void {
  // A GET form: the search is bookmarkable and changes nothing, so it needs no CSRF token.
  router.get('/hello', async (ctx) => {
    const t = tr(ctx);
    const query = typeof ctx.query.q === 'string' ? ctx.query.q.slice(0, 100) : '';
    const current = query ? undefined : await schoolForRequest(app.db, ctx, typeof ctx.query.school === 'string' ? ctx.query.school : undefined);
    const schools = query ? await searchSchools(app.db, query) : [];
    render(
      ctx,
      'hello',
      {
        pageTitle: t('hello.title'),
        query,
        searched: Boolean(query),
        schools,
        current,
      },
      query && !schools.length ? 404 : 200,
    );
  });

  router.get('/hello/:school', async (ctx) => {
    const t = tr(ctx);
    const school = await schoolFromHint(app.db, ctx.params.school!.toLowerCase());
    if (!school) return renderMessage(ctx, { title: t('hello.title'), paragraphs: [t('school.not_found')], backUrl: '/hello', backText: t('hello.again') }, 404);
    rememberSchool(ctx, school);
    // Straight to that school's login form (FAQ: «появится окно для ввода логина и пароля, а
    // также ссылка «Забыли пароль?»»); after the login the person is on their own page.
    ctx.redirect(`/account?school=${encodeURIComponent(school.slug)}`);
  });
}
