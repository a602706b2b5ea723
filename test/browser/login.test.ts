/**
 * A person in a real browser (Chromium): the login page of the FAQ, typed into and submitted,
 * ends at the relying party with a code that openid-client exchanges. Also without JavaScript,
 * in English, and at a phone's width. Screenshots go to test-artifacts/.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import http from 'node:http';
import type { Browser as Chromium } from 'playwright-core';
import { startTestServer, addSchool, addAccount, freePort, type TestServer } from '../helpers/app.js';
import { discover, startLogin, oidc } from '../helpers/rp.js';
import { launchChromium, artifact } from '../helpers/chromium.js';

let srv: TestServer;
let chromium: Chromium;
let rpServer: http.Server;
let redirectUri: string;
let person: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  const rpPort = await freePort();
  redirectUri = `http://127.0.0.1:${rpPort}/callback`;
  rpServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party'));
  await new Promise<void>((r) => rpServer.listen(rpPort, '127.0.0.1', () => r()));
  srv = await startTestServer({ env: { JOURNAL_WEB_REDIRECT_URIS: redirectUri } });
  const school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  person = await addAccount(srv.app, school, { login: 'nikolaeva', kind: 'parent' });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await srv?.close();
  rpServer?.close();
});

async function flow(options: { javaScriptEnabled: boolean; locale: string; width: number; shot: string }) {
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399', scope: 'openid profile school roles' });
  const context = await chromium.newContext({
    javaScriptEnabled: options.javaScriptEnabled,
    locale: options.locale,
    viewport: { width: options.width, height: 800 },
  });
  const page = await context.newPage();
  const en = options.locale.startsWith('en');
  await page.goto(started.authUrl.toString());
  await page.screenshot({ path: artifact(`${options.shot}-login.png`), fullPage: true });
  const heading = await page.locator('h1').textContent();

  // A wrong password first: the FAQ's message, the login kept.
  await page.getByLabel(en ? 'Login' : 'Логин').fill('nikolaeva');
  await page.getByLabel(en ? 'Password' : 'Пароль').fill('WrongPass1');
  await page.getByRole('button', { name: en ? 'Sign in' : 'Войти', exact: true }).click();
  const error = await page.getByRole('alert').textContent();
  expect(await page.getByLabel(en ? 'Login' : 'Логин').inputValue()).toBe('nikolaeva');
  await page.screenshot({ path: artifact(`${options.shot}-error.png`), fullPage: true });

  await page.getByLabel(en ? 'Password' : 'Пароль').fill(person.password);
  await Promise.all([
    page.waitForURL((u) => u.toString().startsWith(redirectUri)),
    page.getByRole('button', { name: en ? 'Sign in' : 'Войти', exact: true }).click(),
  ]);
  const tokens = await oidc.authorizationCodeGrant(rp, new URL(page.url()), {
    pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce,
  });
  await context.close();
  return { heading, error, sub: tokens.claims()!.sub };
}

describe('login in Chromium', () => {
  it('Russian, desktop, with JavaScript', async () => {
    const r = await flow({ javaScriptEnabled: true, locale: 'ru-RU', width: 1280, shot: 'ru-desktop' });
    expect(r.heading).toBe('Вход в журнал');
    expect(r.error).toBe('Неверное имя пользователя или пароль. Пожалуйста, попробуйте еще раз!');
    expect(r.sub).toBe(person.id);
  });

  it('Russian, phone width, without JavaScript', async () => {
    const r = await flow({ javaScriptEnabled: false, locale: 'ru-RU', width: 375, shot: 'ru-phone-nojs' });
    expect(r.sub).toBe(person.id);
  });

  it('English from the browser language', async () => {
    const r = await flow({ javaScriptEnabled: true, locale: 'en-US', width: 1280, shot: 'en-desktop' });
    expect(r.heading).toBe('Sign in to the journal');
    expect(r.error).toBe('Wrong user name or password. Please try again!');
    expect(r.sub).toBe(person.id);
  });
});
