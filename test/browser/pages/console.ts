/**
 * The catalogue of the console's pages: a school curator's (/console) and the platform's
 * (/console/platform). See test/browser/pages/public.ts for how catalogues work.
 *
 * The setup logs a curator (of two schools: the roster, invitation and audit pages show the school
 * switch) and a platform admin in once, over HTTP with the second factor (test/helpers/console.ts);
 * each case's fresh Chromium context gets a copy of that console session's cookie, so the cases
 * cost no password hash. Each case checks that the page's heading is in the case's language.
 */
import type { Page } from 'playwright-core';
import type { Catalogue, Say } from '../../helpers/page-check.js';
import { startTestServer, addSchool, addAccount, type TestServer } from '../../helpers/app.js';
import { addStudent } from '../../helpers/school.js';
import { consoleLogin } from '../../helpers/console.js';
import type { Browser } from '../../helpers/browser.js';
import { addGuardianships } from '../../../src/accounts/guardianships.js';
import { insertClient } from '../../../src/oidc/clients.js';
import { actorOf } from '../../../src/curator/scope.js';
import { grantCuratorSchool } from '../../../src/accounts/roles.js';
import { boundAudit } from '../../../src/audit/bound.js';

interface Fixture {
  srv: TestServer;
  /** The console session cookies (name=value) of the curator and of the platform admin. */
  curator: { name: string; value: string }[];
  admin: { name: string; value: string }[];
  /** A pupil with two parents, no email (the printed password sheet). */
  masha: string;
}

/** The console's session cookies from an HTTP login, to hand to a Chromium context. */
function consoleCookies(browser: Browser): { name: string; value: string }[] {
  return browser.cookieHeader(new URL('/console/', browser.base)).split('; ')
    .map((pair) => ({ name: pair.slice(0, pair.indexOf('=')), value: pair.slice(pair.indexOf('=') + 1) }))
    .filter((c) => c.name.startsWith('jid_console'));
}

/** Opens `path` in the console as `who` (a fresh context: the session cookies first). */
async function openAs(page: Page, fx: Fixture, who: 'curator' | 'admin', path: string): Promise<void> {
  const { hostname } = new URL(fx.srv.url);
  await page.context().addCookies(fx[who].map((c) => ({ ...c, domain: hostname, path: '/console', httpOnly: true, sameSite: 'Lax' as const })));
  await page.goto(`${fx.srv.url}${path}`);
}

/** The page's main heading, in the case's language: no page stays Russian for English readers. */
async function heading(page: Page, say: Say, ru: string, en: string, level = 1): Promise<void> {
  await page.getByRole('heading', { level, name: say(ru, en), exact: true }).waitFor({ timeout: 5000 });
}

const BAD_ROSTER = 'Фамилия;Имя;Класс;Тип\nОрлов;;7Б;ученик\nСоколова;Маша;7Б;директор\n';

export const consolePages: Catalogue<Fixture> = {
  title: 'console pages',
  async setup() {
    const srv = await startTestServer();
    const a = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
    const b = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57' });
    const masha = await addStudent(srv.app, a, { lastName: 'Соколова', firstName: 'Маша', middleName: null, className: '6Б' });
    await addStudent(srv.app, a, { lastName: 'Орлов', firstName: 'Петя', className: '6Б' });
    await addStudent(srv.app, b, { lastName: 'Орлова', firstName: 'Оля', className: '5А' });
    const pupil = await addAccount(srv.app, a, { login: 'masha', kind: 'student', personId: masha.id });
    const mama = await addAccount(srv.app, a, { login: 'mama', kind: 'parent' });
    await addGuardianships(srv.db, mama.id, [{ personId: masha.id, inviteId: null }]);
    const curator = await addAccount(srv.app, a, { login: 'kurator', kind: 'staff', roles: ['curator'] });
    const admin = await addAccount(srv.app, null, { login: 'admin', roles: ['admin'] });
    await grantCuratorSchool(srv.app, { actor: (await actorOf(srv.db, admin))!, audit: boundAudit(srv.db, { actor: { type: 'user', id: admin.id }, ip: '127.0.0.1' }) }, { userId: curator.id, schoolId: b.id });
    await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
      clientId: 'library-app', name: 'Школьная библиотека', firstParty: false, secret: 'library-secret-0123456789-0123456789-abcdef',
      metadata: { client_id: 'library-app', redirect_uris: ['http://localhost:9999/cb'], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid profile school' },
    });
    const curatorSession = consoleCookies(await consoleLogin(srv.url, '1399', curator));
    const adminSession = consoleCookies(await consoleLogin(srv.url, '', admin, { platform: true }));
    return { srv, curator: curatorSession, admin: adminSession, masha: pupil.id, close: () => srv.close() };
  },
  cases: [
    {
      // Without a session the console sends a curator to log in: the school choice comes first.
      name: 'console-login-school',
      route: '/console',
      view: 'school',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/console`)),
    },
    {
      name: 'console-users',
      route: '/console',
      view: 'console/users',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', `/console?q=${encodeURIComponent('соколова')}`);
        await heading(page, say, 'Консоль куратора', 'Curator console');
      },
    },
    {
      name: 'console-user',
      route: '/console/users/:id',
      view: 'console/user',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', `/console/users/${fx.masha}`);
        await heading(page, say, 'Родители', 'Parents', 2);
      },
    },
    {
      name: 'console-transfer',
      route: '/console/users/:id/transfer',
      view: 'console/transfer',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', `/console/users/${fx.masha}/transfer`);
        await heading(page, say, 'Перевести в другую школу', 'Transfer to another school');
      },
    },
    {
      // A new password shown once (the pupil's: the curator's own session stays).
      name: 'console-password',
      route: '/console/users/:id',
      view: 'console/password',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', `/console/users/${fx.masha}`);
        await page.getByRole('button', { name: say('Установить новый пароль', 'Set a new password') }).click();
        await heading(page, say, 'Новый пароль', 'New password');
      },
    },
    {
      // The printed one-time password sheet (the form opens it in a new tab: here in the same one).
      name: 'console-reset-sheet',
      route: '/console/users/:id',
      view: 'console/reset-sheet',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', `/console/users/${fx.masha}`);
        await page.locator('form:has(#reset-sheet)').evaluate((form) => form.removeAttribute('target'));
        await page.locator('#reset-sheet').click();
        await page.locator('#sheet-password').waitFor();
        await page.getByText(say('Временный пароль:', 'Temporary password:'), { exact: true }).first().waitFor({ timeout: 5000 });
      },
    },
    {
      name: 'console-invites',
      route: '/console/invites',
      view: 'console/invites',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', '/console/invites');
        await heading(page, say, 'Приглашения', 'Invitations');
      },
    },
    {
      // The printed invitations of a class (a pupil's and one parent's sheet each).
      name: 'invites-sheets',
      route: '/console/invites',
      view: 'invites/sheets',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', '/console/invites');
        const form = page.locator('form', { has: page.getByRole('button', { name: say('Напечатать приглашения 6Б', 'Print invitations for 6Б') }) });
        await form.locator('select').selectOption('1');
        await form.getByRole('button').click();
        await page.locator('section.invitation').first().waitFor();
        await page.getByText(say('Ваш приглашительный код:', 'Your invitation code:'), { exact: true }).first().waitFor({ timeout: 5000 });
      },
    },
    {
      name: 'console-roster',
      route: '/console/roster',
      view: 'console/roster',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', '/console/roster');
        await heading(page, say, 'Список школы', 'School roster');
      },
    },
    {
      // An upload with bad rows: nothing imported, the errors by line (a 400).
      name: 'console-roster-errors',
      route: '/console/roster',
      view: 'console/roster-errors',
      errorStatus: true,
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', '/console/roster');
        await page.locator('#file').setInputFiles({ name: 'список.csv', mimeType: 'text/csv', buffer: Buffer.from(BAD_ROSTER) });
        await page.locator('#import button[type=submit]').click();
        await page.locator('#errors').waitFor();
        await heading(page, say, 'Список школы', 'School roster');
      },
    },
    {
      name: 'console-apps',
      route: '/console/apps',
      view: 'console/apps',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', '/console/apps');
        await heading(page, say, 'Приложения школы', 'School apps');
      },
    },
    {
      name: 'console-audit',
      route: '/console/audit',
      view: 'console/audit',
      async open(page, fx, say) {
        await openAs(page, fx, 'curator', '/console/audit');
        await heading(page, say, 'Журнал действий школы', 'School audit log');
      },
    },
    {
      // Platform staff have their own login form (no school).
      name: 'platform-login',
      route: '/console/platform',
      view: 'platform/login',
      async open(page, fx, say) {
        await page.goto(`${fx.srv.url}/console/platform`);
        await heading(page, say, 'Вход для сотрудников платформы', 'Platform staff login');
      },
    },
    {
      name: 'platform-home',
      route: '/console/platform',
      view: 'platform/home',
      async open(page, fx, say) {
        await openAs(page, fx, 'admin', '/console/platform');
        await heading(page, say, 'Консоль платформы', 'Platform console');
      },
    },
    {
      name: 'platform-health',
      route: '/console/platform/health',
      view: 'platform/health',
      async open(page, fx, say) {
        await openAs(page, fx, 'admin', '/console/platform/health');
        await heading(page, say, 'Состояние сервиса', 'Service health');
      },
    },
    {
      name: 'platform-counts',
      route: '/console/platform/counts',
      view: 'platform/counts',
      async open(page, fx, say) {
        await openAs(page, fx, 'admin', '/console/platform/counts');
        await heading(page, say, 'Счётчики по школам', 'Counts per school');
      },
    },
    {
      name: 'platform-audit',
      route: '/console/platform/audit',
      view: 'platform/audit',
      async open(page, fx, say) {
        await openAs(page, fx, 'admin', '/console/platform/audit');
        await heading(page, say, 'Журнал действий (без персональных данных)', 'Audit log (no personal data)');
      },
    },
    {
      name: 'platform-schools',
      route: '/console/platform/schools',
      view: 'platform/schools',
      async open(page, fx, say) {
        await openAs(page, fx, 'admin', '/console/platform/schools');
        await heading(page, say, 'Школы', 'Schools');
      },
    },
    {
      name: 'platform-curators',
      route: '/console/platform/curators',
      view: 'platform/curators',
      async open(page, fx, say) {
        await openAs(page, fx, 'admin', '/console/platform/curators');
        await heading(page, say, 'Кураторы', 'Curators');
      },
    },
    {
      name: 'platform-clients',
      route: '/console/platform/clients',
      view: 'platform/clients',
      async open(page, fx, say) {
        await openAs(page, fx, 'admin', '/console/platform/clients');
        await heading(page, say, 'Приложения (клиенты)', 'Apps (clients)');
      },
    },
  ],
};
