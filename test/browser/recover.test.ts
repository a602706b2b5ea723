/**
 * In Chromium, as a parent would: log in → confirm the email from the letter → log out →
 * «Забыли пароль?» → set a new password from the letter → log in with it. And the school search
 * of the apps (`/hello`) in a phone-sized window. Letters arrive over real SMTP on loopback.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startTestServer, addSchool, addAccount, freePort, type TestServer } from '../helpers/app.js';
import { discover, startLogin, oidc } from '../helpers/rp.js';
import { launchChromium, artifact } from '../helpers/chromium.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';

let srv: TestServer;
let smtp: SmtpCatcher;
let chromium: Chromium;
let rpServer: http.Server;
let redirectUri: string;

beforeAll(async () => {
  const rpPort = await freePort();
  redirectUri = `http://127.0.0.1:${rpPort}/callback`;
  rpServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party'));
  await new Promise<void>((r) => rpServer.listen(rpPort, '127.0.0.1', () => r()));
  smtp = await startSmtp();
  srv = await startTestServer({
    env: { SMTP_URL: smtp.url, JOURNAL_WEB_REDIRECT_URIS: redirectUri, JOURNAL_WEB_POST_LOGOUT_REDIRECT_URIS: `http://127.0.0.1:${rpPort}/` },
  });
  await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399', region: 'Москва' });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await srv?.close();
  await smtp?.close();
  rpServer?.close();
});

const linkIn = (text: string | undefined, path: string) => new RegExp(`(http://\\S+/${path}/[A-Za-z0-9_-]{43})`).exec(text ?? '')?.[1];

async function appLogin(page: Page, login: string, password: string) {
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399', scope: 'openid email' });
  await page.goto(started.authUrl.toString());
  await page.getByLabel('Логин').fill(login);
  await page.getByLabel('Пароль').fill(password);
  await page.getByRole('button', { name: 'Войти', exact: true }).click();
  return { rp, started };
}

describe('email confirmation and recovery in Chromium', () => {
  it('log in → confirm email from the letter → log out → recover → log in with the new password', async () => {
    const school = (await srv.db('schools').where({ slug: '1399' }).first())!;
    const parent = await addAccount(srv.app, school, { login: 'ivanova.m', kind: 'parent', email: null });
    const context = await chromium.newContext({ locale: 'ru-RU', viewport: { width: 1024, height: 800 } });
    const page = await context.newPage();

    // Log in: the FAQ's «Обновление информации о пользователе».
    await appLogin(page, 'ivanova.m', parent.password);
    expect(await page.locator('h1').textContent()).toBe('Обновление информации о пользователе');
    await page.getByLabel('Текущий пароль').fill(parent.password);
    await page.getByLabel('Электронная почта').fill('ivanova.m@mail.ru');
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(redirectUri)), page.getByRole('button', { name: 'Сохранить' }).click()]);

    // The letter's link confirms the address.
    const confirmLetter = await smtp.waitFor((m) => m.subject === 'Подтвердите адрес электронной почты' && JSON.stringify(m.to).includes('ivanova.m@mail.ru'));
    await page.goto(linkIn(confirmLetter.text, 'verify')!);
    await page.getByRole('button', { name: 'Подтвердить' }).click();
    expect(await page.locator('h1').textContent()).toBe('Адрес подтверждён');

    // Log out of the journal.
    await page.goto(`${srv.url}/session/end`);
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForLoadState();

    // «Забыли пароль?» from the login page.
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const again = await startLogin(rp, { redirect_uri: redirectUri, school: '1399', scope: 'openid email' });
    await page.goto(again.authUrl.toString());
    await page.getByRole('link', { name: 'Забыли пароль?' }).click();
    expect(await page.locator('h1').textContent()).toBe('Восстановление пароля');
    await page.getByLabel('Введите ваш E-mail').fill('ivanova.m@mail.ru');
    await page.getByRole('button', { name: 'Восстановить' }).click();
    expect(await page.locator('h1').textContent()).toBe('Проверьте почту');
    await page.screenshot({ path: artifact('recover-sent.png'), fullPage: true });

    const letter = await smtp.waitFor((m) => m.subject === 'Восстановление доступа к электронному журналу');
    expect(letter.text).toContain('ivanova.m');
    await page.goto(linkIn(letter.text, 'recover')!);
    await page.getByLabel('Новый пароль').fill('Sosna2027tree');
    await page.getByLabel('Повторите пароль').fill('Sosna2027tree');
    await page.screenshot({ path: artifact('recover-link.png'), fullPage: true });
    await page.getByRole('button', { name: 'Сохранить' }).click();
    expect(await page.locator('h1').textContent()).toBe('Пароль изменён');

    // Log in with the new password: straight to the app (the address is confirmed now).
    const { rp: rp2, started } = await appLogin(page, 'ivanova.m', 'Sosna2027tree');
    await page.waitForURL((u) => u.toString().startsWith(redirectUri));
    const tokens = await oidc.authorizationCodeGrant(rp2, new URL(page.url()), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const claims = await oidc.fetchUserInfo(rp2, tokens.access_token, tokens.claims()!.sub);
    expect(claims).toMatchObject({ email: 'ivanova.m@mail.ru', email_verified: true });
    await context.close();
  });
});

describe('/hello in a phone-sized window', () => {
  it('finds the school and opens its login form with «Забыли пароль?»', async () => {
    const context = await chromium.newContext({ locale: 'ru-RU', viewport: { width: 375, height: 740 }, isMobile: true });
    const page = await context.newPage();
    await page.goto(`${srv.url}/hello`);
    await page.getByLabel('Номер или название школы, регион').fill('1399 москва');
    await page.getByRole('button', { name: 'Найти' }).click();
    await page.screenshot({ path: artifact('hello-phone.png'), fullPage: true });
    await page.getByRole('link', { name: /Школа № 1399/ }).click();
    // That school's login form, with «Забыли пароль?».
    expect(await page.locator('h1').textContent()).toBe('Вход в журнал');
    expect(await page.locator('.school').textContent()).toContain('Школа № 1399');
    expect(await page.getByRole('link', { name: 'Забыли пароль?' }).getAttribute('href')).toBe('/recover?school=1399');
    await page.screenshot({ path: artifact('hello-login-phone.png'), fullPage: true });
    const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
    expect(overflow).toBe(false);
    await context.close();
  });
});
