/**
 * The name rule in Chromium (issue 17.2): the pupil Соколова Мария cannot choose her name in Latin
 * letters at any door that lets a person choose a password — registration (Sokolova2024), the
 * recovery link (sokolova1), /account (Masha2024x, the short form) and the forced change after a
 * one-time password (Mariia2024x) — and each door shows the same message, then takes a good one.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { systemAudit } from '../../src/audit/bound.js';
import type { Browser as Chromium, Locator, Page } from 'playwright-core';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { startRpStub, type RpStub } from '../helpers/rp-stub.js';
import { discover, startLogin } from '../helpers/rp.js';
import { launchChromium, artifact } from '../helpers/chromium.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';
import { addStudent, codeOf, issue } from '../helpers/school.js';
import { createAccount } from '../../src/accounts/create.js';
import type { School } from '../../src/schools/queries.js';

const NAME_RULE = 'Пароль не должен содержать ваши фамилию, имя или отчество';

let srv: TestServer;
let smtp: SmtpCatcher;
let chromium: Chromium;
let rpStub: RpStub;
let redirectUri: string;
let school: School;

beforeAll(async () => {
  rpStub = await startRpStub();
  redirectUri = rpStub.redirectUri;
  smtp = await startSmtp();
  srv = await startTestServer({ env: { SMTP_URL: smtp.url, JOURNAL_WEB_REDIRECT_URIS: redirectUri } });
  school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await srv?.close();
  await smtp?.close();
  rpStub?.close();
});

/** Мария Игоревна Соколова, born 5 March 2012; a login without her name, so the name rule answers. */
function maria(login: string, over: { email?: string; mustChangePassword?: boolean } = {}) {
  return createAccount(srv.db, srv.app.passwords, {
    schoolId: school.id, login, password: 'Kolobok2024x', kind: 'student', lastName: 'Соколова', firstName: 'Мария',
    middleName: 'Игоревна', birthDate: '2012-03-05', email: over.email, emailVerified: Boolean(over.email),
    mustChangePassword: over.mustChangePassword,
  }, systemAudit(srv.db, 'test set-up'));
}

async function newPage(): Promise<Page> {
  const context = await chromium.newContext({ locale: 'ru-RU', viewport: { width: 1024, height: 800 } });
  return context.newPage();
}

async function appLogin(page: Page, login: string, password: string) {
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  const started = await startLogin(rp, { redirect_uri: redirectUri, school: '1399', scope: 'openid' });
  await page.goto(started.authUrl.toString());
  await page.getByLabel('Логин').fill(login);
  await page.getByLabel('Пароль').fill(password);
  await page.getByRole('button', { name: 'Войти', exact: true }).click();
}

/** The new-password form of the recovery link, /account and the forced change: «Новый пароль», «Повторите пароль», «Сохранить». */
async function fillNewPassword(form: Page | Locator, password: string) {
  await form.getByLabel('Новый пароль').fill(password);
  await form.getByLabel('Повторите пароль').fill(password);
  await form.getByRole('button', { name: 'Сохранить' }).click();
}

async function refused(page: Page, shot: string) {
  await expect(page.getByRole('alert').filter({ hasText: NAME_RULE }).count()).resolves.toBe(1);
  await page.screenshot({ path: artifact(shot), fullPage: true });
}

describe('the name in Latin letters is refused at every door', () => {
  it('registration by invite code: Sokolova2024', async () => {
    const pupil = await addStudent(srv.app, school, { lastName: 'Соколова', firstName: 'Мария', middleName: 'Игоревна', birthDate: '2012-03-05' });
    const issued = await issue(srv.app, school, [pupil]);
    const page = await newPage();
    await page.goto(`${srv.url}/register?school=1399`);
    await page.getByLabel('Введите приглашительный код').fill(codeOf(issued, pupil, 'student'));
    await page.getByRole('button', { name: 'Зарегистрироваться' }).click();
    expect(await page.locator('h1').textContent()).toBe('Регистрация в системе');
    const fill = async (password: string) => {
      await page.getByLabel('Логин').fill('pchelka1');
      await page.getByLabel('Пароль', { exact: true }).fill(password);
      await page.getByLabel('Повторите пароль').fill(password);
      await page.getByRole('checkbox').check();
      await page.getByRole('button', { name: 'Зарегистрироваться' }).click();
    };
    await fill('Sokolova2024');
    await refused(page, 'name-rule-register.png');
    await fill('Podsolnuh77');
    expect(await page.locator('h1').textContent()).toBe('Регистрация в системе успешно завершена');
  });

  it('the recovery link: sokolova1', async () => {
    await maria('pchelka2', { email: 'pchelka2@mail.ru' });
    const page = await newPage();
    await page.goto(`${srv.url}/recover?school=1399`);
    await page.getByLabel('Введите ваш E-mail').fill('pchelka2@mail.ru');
    await page.getByRole('button', { name: 'Восстановить' }).click();
    const letter = await smtp.waitFor((m) => m.subject === 'Восстановление доступа к электронному журналу' && JSON.stringify(m.to).includes('pchelka2@mail.ru'));
    await page.goto(/(http:\/\/\S+\/recover\/[A-Za-z0-9_-]{43})/.exec(letter.text ?? '')![1]!);
    const fill = (password: string) => fillNewPassword(page, password);
    await fill('sokolova1');
    await refused(page, 'name-rule-recover.png');
    await fill('Podsolnuh77');
    expect(await page.locator('h1').textContent()).toBe('Пароль изменён');
  });

  it('/account: Masha2024x (the short form of Мария)', async () => {
    await maria('pchelka3');
    const page = await newPage();
    await page.goto(`${srv.url}/account`);
    await page.getByLabel('Логин').fill('pchelka3');
    await page.getByLabel('Пароль').fill('Kolobok2024x');
    await page.getByRole('button', { name: 'Войти', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/account');
    const fill = async (password: string) => {
      const form = page.locator('section#password');
      await form.getByLabel('Текущий пароль').fill('Kolobok2024x');
      await fillNewPassword(form, password);
    };
    await fill('Masha2024x');
    await refused(page, 'name-rule-account.png');
    await fill('Podsolnuh77');
    expect(await page.locator('h1').textContent()).toBe('Пароль изменён');
  });

  it('the forced change after a one-time password: Mariia2024x and Igorevna77', async () => {
    await maria('pchelka4', { mustChangePassword: true });
    const page = await newPage();
    await appLogin(page, 'pchelka4', 'Kolobok2024x');
    expect(await page.locator('h1').textContent()).toBe('Смена пароля');
    const fill = (password: string) => fillNewPassword(page, password);
    for (const password of ['Mariia2024x', 'Igorevna77']) {
      await fill(password);
      await refused(page, 'name-rule-change.png');
    }
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(redirectUri)), fill('Podsolnuh77')]);
  });
});
