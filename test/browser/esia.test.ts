/**
 * «Войти через Госуслуги» in Chromium: the login page's button → the fake ESIA's person picker →
 * back to journal-id → the account chooser → logged in at the relying party; and the page shown
 * when no account matches. Screenshots of the button, the chooser and the no-match page go to
 * test-artifacts/.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { Browser as Chromium } from 'playwright-core';
import { startFakeEsia, type FakeEsia } from '../../fake-esia/server.js';
import { startTestServer, addSchool, addAccount, freePort, type TestServer } from '../helpers/app.js';
import { discover, startLogin, oidc } from '../helpers/rp.js';
import { launchChromium, artifact } from '../helpers/chromium.js';

let srv: TestServer;
let fake: FakeEsia;
let chromium: Chromium;
let rpServer: http.Server;
let redirectUri: string;
let teacher: Awaited<ReturnType<typeof addAccount>>;
let parent: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  const rpPort = await freePort();
  redirectUri = `http://127.0.0.1:${rpPort}/callback`;
  rpServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party'));
  await new Promise<void>((r) => rpServer.listen(rpPort, '127.0.0.1', () => r()));
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-esia-browser-'));
  const certFile = path.join(dir, 'client-cert.pem');
  fake = await startFakeEsia({
    port: 0,
    clients: [{ clientId: 'JOURNALID', redirectUris: [`http://localhost:${port}/esia/callback`], certificate: () => fs.readFileSync(certFile, 'utf8') }],
    people: [
      { oid: 1000000101, lastName: 'Смирнова', firstName: 'Ольга', middleName: 'Викторовна', trusted: true, snils: '123-456-789 64', contacts: [{ type: 'EML', value: 'o.smirnova@example.ru', vrfStu: 'VERIFIED' }] },
      { oid: 1000000102, lastName: 'Орлов', firstName: 'Пётр', trusted: true, contacts: [{ type: 'EML', value: 'nobody@example.ru', vrfStu: 'VERIFIED' }] },
    ],
  });
  fs.writeFileSync(path.join(dir, 'esia.pem'), fake.certificate);
  srv = await startTestServer({
    port,
    env: {
      JOURNAL_WEB_REDIRECT_URIS: redirectUri,
      ESIA_CLIENT_ID: 'JOURNALID', ESIA_URL: fake.url, ESIA_CERTS: path.join(dir, 'esia.pem'),
      ESIA_SIGNER: 'dev', ESIA_KEY_FILE: path.join(dir, 'client-key.pem'), ESIA_CERT_FILE: certFile,
    },
  });
  const a = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  const b = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57' });
  teacher = await addAccount(srv.app, a, { login: 'smirnova', kind: 'staff', roles: ['teacher'], email: 'o.smirnova@example.ru' });
  parent = await addAccount(srv.app, b, { login: 'smirnova.mama', kind: 'parent', email: 'o.smirnova@example.ru' });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await srv?.close();
  await fake?.close();
  rpServer?.close();
});

async function toPicker(width: number) {
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399', scope: 'openid profile school roles' });
  const context = await chromium.newContext({ locale: 'ru-RU', viewport: { width, height: 800 } });
  const page = await context.newPage();
  await page.goto(started.authUrl.toString());
  return { rp, started, context, page };
}

describe('Gosuslugi in Chromium', () => {
  it('button → ESIA person picker → chooser → logged in at the app as the chosen account', async () => {
    const { rp, started, context, page } = await toPicker(1280);
    const button = page.getByRole('button', { name: 'Войти через Госуслуги' });
    expect(await button.isVisible()).toBe(true);
    await page.screenshot({ path: artifact('esia-button.png'), fullPage: true });
    await button.click();
    await page.waitForURL((u) => u.toString().startsWith(fake.url));
    await page.getByRole('button', { name: /Смирнова Ольга/ }).click();
    await page.getByRole('heading', { name: 'Выберите учётную запись' }).waitFor();
    const text = await page.locator('main, body').first().innerText();
    for (const s of ['Школа № 1399', 'Школа № 57', 'smirnova', 'smirnova.mama', 'Сотрудник школы', 'Родитель']) expect(text).toContain(s);
    await page.screenshot({ path: artifact('esia-chooser.png'), fullPage: true });
    await Promise.all([
      page.waitForURL((u) => u.toString().startsWith(redirectUri)),
      page.getByRole('button', { name: 'Войти как smirnova.mama' }).click(),
    ]);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(page.url()), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.claims()!.sub).toBe(parent.id);
    expect(tokens.claims()!.sub).not.toBe(teacher.id);
    expect(tokens.claims()!.amr).toEqual(['esia']);
    await context.close();
  });

  it('no matching account: the FAQ page at phone width, and the password form from its link', async () => {
    const { context, page } = await toPicker(375);
    await page.getByRole('button', { name: 'Войти через Госуслуги' }).click();
    await page.getByRole('button', { name: /Орлов Пётр/ }).click();
    await page.getByRole('heading', { name: 'Не удалось найти возможного пользователя для авторизации' }).waitFor();
    const body = await page.locator('body').innerText();
    expect(body).toContain('СНИЛС, email, мобильный телефон');
    expect(body).toContain('куратору электронного журнала');
    const overflow = await page.evaluate('document.documentElement.scrollWidth > window.innerWidth');
    expect(overflow).toBe(false);
    await page.screenshot({ path: artifact('esia-not-found.png'), fullPage: true });
    await page.getByRole('link', { name: 'Войти по логину и паролю' }).click();
    await page.getByLabel('Логин').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Вход в журнал');
    await context.close();
  });
});
