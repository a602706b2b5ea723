/**
 * Every page of the foundation renders in Chromium, in Russian and English, with no console
 * errors (CSP violations included) and no horizontal scrolling at a phone's width; screenshots
 * go to test-artifacts/ for people to look at.
 */
import { describe, it, expect, beforeAll, beforeEach, afterAll } from '@jest/globals';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { discover, startLogin, oidc } from '../helpers/rp.js';
import { launchChromium, artifact } from '../helpers/chromium.js';
import { insertClient } from '../../src/oidc/clients.js';
import { createAccount } from '../../src/accounts/create.js';
import { cliAudit } from '../../src/audit/bound.js';

let srv: TestServer;
let chromium: Chromium;
let rp: oidc.Configuration;
let lib: oidc.Configuration;
let person: Awaited<ReturnType<typeof addAccount>>;
let pupil: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  srv = await startTestServer();
  const school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  await addSchool(srv.db, { number: '7', slug: 'a-7', name: 'Гимназия № 7', region: 'Казань' });
  await addSchool(srv.db, { number: '7', slug: 'b-7', name: 'Лицей № 7', region: 'Тверь' });
  // A parent: pupils never see a consent page (the school decides, issue 6).
  person = await addAccount(srv.app, school, { login: 'vera', kind: 'parent' });
  pupil = await addAccount(srv.app, school, { login: 'kostya', kind: 'student' });
  await createAccount(srv.app.db, srv.app.passwords, { schoolId: school.id, login: 'newbie', password: 'Temp2024abc', kind: 'student', mustChangePassword: true }, cliAudit(srv.app.db));
  await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
    clientId: 'library', name: 'Школьная библиотека', firstParty: false, secret: 'library-secret-0123456789-0123456789-abcdef',
    metadata: { client_id: 'library', redirect_uris: ['http://127.0.0.1:9/cb'], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
  });
  rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  lib = await discover(srv.url, 'library', 'library-secret-0123456789-0123456789-abcdef');
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await srv?.close();
});

async function check(page: Page, name: string, errors: string[]) {
  await page.screenshot({ path: artifact(`${name}.png`), fullPage: true });
  expect(errors).toEqual([]);
  const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
  expect(overflow).toBe(false);
}

for (const locale of ['ru', 'en'] as const) {
  for (const [device, width] of [['desktop', 1280], ['phone', 375]] as const) {
    describe(`${locale}, ${device}`, () => {
      let page: Page;
      /** This test's console errors (CSP violations included) and uncaught page errors. */
      let errors: string[] = [];
      const shot = (n: string) => `page-${n}-${locale}-${device}`;
      const t = (ru: string, en: string) => (locale === 'ru' ? ru : en);

      beforeAll(async () => {
        const context = await chromium.newContext({ locale, viewport: { width, height: 800 } });
        page = await context.newPage();
        // Listening from the page's creation, whichever test runs first or alone.
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
      });
      beforeEach(() => {
        errors = [];
      });
      afterAll(async () => page.context().close());

      it('home, coming-soon and error pages', async () => {
        for (const [path, name] of [['/', 'home'], ['/recover', 'recover'], ['/register', 'register'], ['/nope', 'not-found'], ['/interaction/expired', 'expired']]) {
          await page.goto(`${srv.url}${path}`);
          expect(await page.locator('h1').count()).toBe(1);
          await check(page, shot(name), errors.filter((e) => !/Failed to load resource/.test(e)));
        }
      });

      it('school choice with several matches', async () => {
        await page.context().clearCookies();
        const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]! });
        await page.goto(started.authUrl.toString());
        await page.getByLabel(t('Номер или название школы', 'School number or name')).fill('7');
        await page.getByRole('button', { name: t('Найти', 'Find') }).click();
        expect(await page.getByRole('button', { name: /Лицей № 7/ }).count()).toBe(1);
        await check(page, shot('school-choice'), errors);
      });

      it('consent of a third-party app', async () => {
        await page.context().clearCookies();
        const started = await startLogin(lib, { redirect_uri: 'http://127.0.0.1:9/cb', scope: 'openid profile school', school: '1399' });
        await page.goto(started.authUrl.toString());
        await page.getByLabel(t('Логин', 'Login')).fill('vera');
        await page.getByLabel(t('Пароль', 'Password')).fill(person.password);
        await page.getByRole('button', { name: t('Войти', 'Sign in'), exact: true }).click();
        await page.getByRole('button', { name: t('Разрешить', 'Allow') }).waitFor();
        await check(page, shot('consent'), errors);
      });

      it('a pupil at an app the school has not approved', async () => {
        await page.context().clearCookies();
        const started = await startLogin(lib, { redirect_uri: 'http://127.0.0.1:9/cb', scope: 'openid profile school', school: '1399' });
        await page.goto(started.authUrl.toString());
        await page.getByLabel(t('Логин', 'Login')).fill('kostya');
        await page.getByLabel(t('Пароль', 'Password')).fill(pupil.password);
        await page.getByRole('button', { name: t('Войти', 'Sign in'), exact: true }).click();
        await page.getByRole('heading', { name: t('Приложение не одобрено школой', 'App not approved by the school') }).waitFor();
        await check(page, shot('not-approved'), errors.filter((e) => !/Failed to load resource/.test(e))); // the page is a 403
      });

      it('change of a password set by someone else', async () => {
        await page.context().clearCookies();
        const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1399' });
        await page.goto(started.authUrl.toString());
        await page.getByLabel(t('Логин', 'Login')).fill('newbie');
        await page.getByLabel(t('Пароль', 'Password')).fill('Temp2024abc');
        await page.getByRole('button', { name: t('Войти', 'Sign in'), exact: true }).click();
        await page.getByLabel(t('Новый пароль', 'New password')).waitFor();
        await check(page, shot('change-password'), errors);
      });

      it('logout confirmation', async () => {
        await page.goto(`${srv.url}/session/end?client_id=journal-web`);
        await page.getByRole('button', { name: t('Выйти', 'Sign out') }).waitFor();
        await check(page, shot('logout'), errors);
        await page.getByRole('button', { name: t('Выйти', 'Sign out') }).click();
        await page.locator('h1').waitFor();
        await check(page, shot('logged-out'), errors);
      });
    });
  }
}
