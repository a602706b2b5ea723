/**
 * The curator console in Chromium: the curator logs in (password, then the authenticator app —
 * enrolled at this first login), finds a pupil, sets a new password, and prints the class's
 * invitations. Screenshots: console-mfa-enrol.png, console-search.png, console-user.png,
 * console-password.png, console-invites.png.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { Browser as Chromium } from 'playwright-core';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { addStudent } from '../helpers/school.js';
import { launchChromium, artifact } from '../helpers/chromium.js';
import { totp } from '../../src/mfa/totp.js';

let srv: TestServer;
let chromium: Chromium;
let curator: Awaited<ReturnType<typeof addAccount>>;
let pupil: Awaited<ReturnType<typeof addAccount>>;

beforeAll(async () => {
  srv = await startTestServer();
  const school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  const masha = await addStudent(srv.app, school, { lastName: 'Соколова', firstName: 'Маша', className: '6Б' });
  await addStudent(srv.app, school, { lastName: 'Орлов', firstName: 'Петя', className: '6Б' });
  curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['curator', 'teacher'] });
  pupil = await addAccount(srv.app, school, { login: 'masha', kind: 'student', personId: masha.id });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await srv?.close();
});

describe('the curator console in Chromium', () => {
  it('log in with the second factor, find a pupil, reset the password, print the class\'s invitations', async () => {
    const context = await chromium.newContext({ locale: 'ru-RU', viewport: { width: 1024, height: 800 } });
    const page = await context.newPage();
    const auditBefore = Number((await srv.db('audit_log').max('id as id').first())?.id ?? 0);
    await page.goto(`${srv.url}/console`);
    // The only school: its login form at once, «для входа в „Консоль куратора“».
    expect(await page.locator('body').innerText()).toContain('Консоль куратора');
    await page.getByLabel('Логин').fill('kurator');
    await page.getByLabel('Пароль').fill(curator.password);
    await page.getByRole('button', { name: 'Войти', exact: true }).click();

    await page.getByRole('heading', { name: 'Включите двухэтапную проверку' }).waitFor();
    expect(await page.locator('figure.qr svg').count()).toBe(1);
    await page.screenshot({ path: artifact('console-mfa-enrol.png'), fullPage: true });
    const key = (await page.locator('code.key').textContent())!.replace(/\s/g, '');
    await page.getByLabel('Код из приложения').fill(totp(key));
    await page.getByRole('button', { name: 'Включить и войти' }).click();
    await page.getByRole('heading', { name: 'Консоль куратора' }).waitFor();

    await page.getByLabel('Фамилия, имя или логин').fill('соколова');
    await page.getByRole('button', { name: 'Найти' }).click();
    await page.screenshot({ path: artifact('console-search.png'), fullPage: true });
    await page.getByRole('link', { name: /Тестов|Соколова/ }).first().click();
    expect(await page.locator('#login').textContent()).toBe('masha');
    await page.screenshot({ path: artifact('console-user.png'), fullPage: true });

    await page.getByRole('button', { name: 'Установить новый пароль' }).click();
    const password = (await page.locator('#new-password').textContent())!;
    expect(password.length).toBeGreaterThanOrEqual(8);
    await page.screenshot({ path: artifact('console-password.png'), fullPage: true });
    const row = await srv.db('users').where({ id: pupil.id }).first();
    expect(row.must_change_password).toBe(true);
    expect(await srv.app.passwords.verify(row.password_hash, password)).toBe(true);

    await page.goto(`${srv.url}/console/invites`);
    await page.getByRole('button', { name: 'Напечатать приглашения 6Б' }).click();
    await page.waitForLoadState('load');
    const text = await page.locator('body').innerText();
    expect(text).toContain('Соколова Маша');
    expect(text).toContain('Орлов Петя');
    await page.screenshot({ path: artifact('console-invites.png'), fullPage: true });

    // A pupil without email: the reset is printed on a sheet, opened in a new tab to print.
    await page.goto(`${srv.url}/console/users/${pupil.id}`);
    const [sheet] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Сбросить пароль и распечатать лист' }).click()]);
    await sheet.waitForLoadState('load');
    expect(await sheet.locator('#sheet-login').textContent()).toBe('masha');
    const printed = (await sheet.locator('#sheet-password').textContent())!;
    expect(await srv.app.passwords.verify((await srv.db('users').where({ id: pupil.id }).first()).password_hash, printed)).toBe(true);
    await sheet.screenshot({ path: artifact('console-password-sheet.png'), fullPage: true });

    await page.goto(`${srv.url}/console/roster`);
    expect(await page.locator('input[type=file]').count()).toBe(1);
    await page.screenshot({ path: artifact('console-roster.png'), fullPage: true });

    // The curator edits the pupil's contacts: every record of what the curator did names the
    // curator — never the pupil, never «system» (issue 17: audit from the request).
    await page.goto(`${srv.url}/console/users/${pupil.id}`);
    const contacts = page.locator('#contacts');
    await contacts.getByLabel('Электронная почта').fill('masha.sokolova@mail.ru');
    await contacts.getByLabel('Мобильный телефон').fill('+7 916 123-45-67');
    await contacts.getByRole('button', { name: 'Сохранить' }).click();
    await page.waitForURL(/done=contacts/);
    const records = (await srv.db('audit_log').where({ target_id: pupil.id }).where('id', '>', auditBefore).orderBy('id')) as { action: string; actor_type: string; actor_id: string | null; ip: string | null; request_id: string | null }[];
    const byCurator = records.filter((r) => !r.action.startsWith('login.') && !r.action.startsWith('mfa.'));
    expect(byCurator.map((r) => r.action)).toEqual(expect.arrayContaining([expect.stringMatching(/password/), expect.stringMatching(/contacts|email|phone/)]));
    for (const r of byCurator) {
      expect({ action: r.action, actor: [r.actor_type, r.actor_id] }).toEqual({ action: r.action, actor: ['user', curator.id] });
      expect([r.action, r.ip]).toEqual([r.action, expect.any(String)]);
      expect(r.request_id).toBeTruthy();
    }
    await context.close();
  });
});
