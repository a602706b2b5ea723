/**
 * The catalogue of the pages people see without a console: home, login, registration, recovery,
 * consent, errors, the account page, Gosuslugi's pages and the provider's logout pages. Each case
 * brings a fresh browser (no cookies, in the case's language) to one page; checkCatalogue runs them
 * (test/browser/a11y-public.test.ts) and page-inventory.test.ts checks that, with the console's
 * catalogue, they cover every HTML route and every view.
 *
 * Pages reached after a form are reached by filling the form in the browser. Nothing a case does
 * changes what a later case needs: forms that would (a registration, a new password) get their own
 * data per language.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { Catalogue, Locale, Say } from '../../helpers/page-check.js';
import { startTestServer, addSchool, addAccount, freePort, type TestServer } from '../../helpers/app.js';
import { addStudent, codeOf, issue } from '../../helpers/school.js';
import { discover, startLogin, oidc } from '../../helpers/rp.js';
import { startFakeEsia, type FakeEsia } from '../../../fake-esia/server.js';
import { insertClient } from '../../../src/oidc/clients.js';
import { createAccount } from '../../../src/accounts/create.js';
import { issueToken } from '../../../src/email/tokens.js';
import { cliAudit } from '../../../src/audit/bound.js';

type Account = Awaited<ReturnType<typeof addAccount>>;

interface Fixture {
  srv: TestServer;
  esia: FakeEsia;
  /** The journal's own web app (first party: no consent page). */
  rp: oidc.Configuration;
  /** A third-party app (consent page). */
  lib: oidc.Configuration;
  parent: Account;
  pupil: Account;
  /** Must change the password the school set (the change-password prompt). */
  newbie: Account;
  /** A parent without an email (the confirm-email prompt). */
  noEmail: Account;
  /** Must give a second factor (the mfa page). */
  curator: Account;
  /** A parent's invite code (the details page; never submitted). */
  parentCode: string;
  /** A pupil's code per language: the done page uses one up. */
  pupilCodes: Record<Locale, string>;
  /** The links of the letters (recovery, confirmation): GET never uses them up. */
  recoverToken: string;
  verifyToken: string;
}

const LIB_SECRET = 'library-secret-0123456789-0123456789-abcdef';
/** ESIA people: one whose confirmed email two accounts share, one known by phone only, one unknown. */
const ESIA = { twoAccounts: 2000000001, phoneOnly: 2000000002, unknown: 2000000003 };

/** The login page of the journal's web app, in the school of number `school` (none: the school choice). */
async function openLogin(page: Page, fx: Fixture, school: string | null = '1399') {
  const started = await startLogin(fx.rp, { redirect_uri: fx.srv.config.firstPartyClients.journalWeb.redirectUris[0]!, ...(school ? { school } : {}) });
  await page.goto(started.authUrl.toString());
}

async function signIn(page: Page, say: Say, login: string, password: string) {
  await page.getByLabel(say('Логин', 'Login')).fill(login);
  await page.getByLabel(say('Пароль', 'Password')).fill(password);
  await page.getByRole('button', { name: say('Войти', 'Sign in'), exact: true }).click();
}

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name, exact: true }).waitFor();

/** «Войти через Госуслуги» as ESIA person `oid` (the fake skips its picker), back to our result page. */
async function throughEsia(page: Page, fx: Fixture, say: Say, oid: number) {
  fx.esia.loginAs(oid);
  await openLogin(page, fx);
  await page.getByRole('button', { name: say('Войти через Госуслуги', 'Sign in with Gosuslugi') }).click();
  await page.waitForURL(/\/esia\/result$/);
}

export const publicPages: Catalogue<Fixture> = {
  title: 'pages without a console',
  async setup() {
    // ESIA knows journal-id's callback address before it starts: the port is chosen first.
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-pages-esia-'));
    const certFile = path.join(dir, 'client-cert.pem');
    const contact = (type: 'EML' | 'MBT', value: string) => ({ type, value, vrfStu: 'VERIFIED' as const });
    const esia = await startFakeEsia({
      port: 0,
      clients: [{ clientId: 'JOURNALID', redirectUris: [`http://localhost:${port}/esia/callback`], certificate: () => fs.readFileSync(certFile, 'utf8') }],
      people: [
        { oid: ESIA.twoAccounts, lastName: 'Смирнова', firstName: 'Ольга', trusted: true, contacts: [contact('EML', 'o.smirnova@example.ru')] },
        { oid: ESIA.phoneOnly, lastName: 'Орлова', firstName: 'Нина', trusted: true, contacts: [contact('MBT', '+7(999)1234567')] },
        { oid: ESIA.unknown, lastName: 'Орлов', firstName: 'Пётр', trusted: true, contacts: [] },
      ],
    });
    fs.writeFileSync(path.join(dir, 'esia.pem'), esia.certificate);
    const srv = await startTestServer({
      port,
      env: {
        ESIA_CLIENT_ID: 'JOURNALID', ESIA_URL: esia.url, ESIA_CERTS: path.join(dir, 'esia.pem'),
        ESIA_SIGNER: 'dev', ESIA_KEY_FILE: path.join(dir, 'client-key.pem'), ESIA_CERT_FILE: certFile,
      },
    });
    const school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399', region: 'Москва' });
    const other = await addSchool(srv.db, { number: '57', slug: '57', name: 'Школа № 57', region: 'Москва' });
    await addSchool(srv.db, { number: '7', slug: 'a-7', name: 'Гимназия № 7', region: 'Казань' });
    await addSchool(srv.db, { number: '7', slug: 'b-7', name: 'Лицей № 7', region: 'Тверь' });
    const parent = await addAccount(srv.app, school, { login: 'vera', kind: 'parent' });
    const pupil = await addAccount(srv.app, school, { login: 'kostya', kind: 'student' });
    const noEmail = await addAccount(srv.app, school, { login: 'ivanova.m', kind: 'parent', email: null });
    const curator = await addAccount(srv.app, school, { login: 'kurator', kind: 'staff', roles: ['teacher', 'curator'] });
    const newbie = { ...(await createAccount(srv.app.db, srv.app.passwords, { schoolId: school.id, login: 'newbie', password: 'Temp2024abc', kind: 'student', mustChangePassword: true }, cliAudit(srv.app.db))), password: 'Temp2024abc' };
    // Gosuslugi: two accounts with the person's confirmed email (the chooser), one with the phone only (the password once).
    await addAccount(srv.app, school, { login: 'smirnova', kind: 'staff', roles: ['teacher'], email: 'o.smirnova@example.ru' });
    await addAccount(srv.app, other, { login: 'smirnova.mama', kind: 'parent', email: 'o.smirnova@example.ru' });
    await addAccount(srv.app, school, { login: 'babushka', kind: 'parent', phone: '8 999 123-45-67' });

    const masha = await addStudent(srv.app, school, { className: '6А' });
    const petya = await addStudent(srv.app, school, { className: '7Б' });
    const kolya = await addStudent(srv.app, school, { className: '8В' });
    const codes = await issue(srv.app, school, [masha, petya, kolya], { students: 1, parents: 1 });
    // The links the letters carry, made as the letters make them (no mail round trip needed to open them).
    const ttlSeconds = 3600;
    const recoverToken = await issueToken(srv.db, { userId: parent.id, purpose: 'recover', email: parent.email!, ttlSeconds });
    const verifyToken = await issueToken(srv.db, { userId: noEmail.id, purpose: 'verify', email: 'ivanova.m@mail.ru', ttlSeconds });

    await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
      clientId: 'library', name: 'Школьная библиотека', firstParty: false, secret: LIB_SECRET,
      metadata: { client_id: 'library', redirect_uris: ['http://127.0.0.1:9/cb'], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
    });
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const lib = await discover(srv.url, 'library', LIB_SECRET);
    return {
      srv, esia, rp, lib, parent, pupil, newbie, noEmail, curator,
      parentCode: codeOf(codes, masha, 'parent'),
      pupilCodes: { ru: codeOf(codes, petya, 'student'), en: codeOf(codes, kolya, 'student') },
      recoverToken,
      verifyToken,
      async close() {
        await srv.close();
        await esia.close();
      },
    };
  },
  cases: [
    {
      name: 'home',
      route: '/',
      view: 'message',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/`)),
    },
    {
      // A school's own address remembers the school and goes on to the home page.
      name: 'school-address',
      route: '/s/:school',
      view: 'message',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/s/1399`)),
    },
    {
      name: 'login',
      route: '/interaction/:uid',
      view: 'login',
      screenshots: true,
      open: (page, fx) => openLogin(page, fx),
    },
    {
      // «Сменить школу», then a number that several schools share: the list to choose from (a POST).
      name: 'school-choice',
      route: '/interaction/:uid/school',
      view: 'school',
      async open(page, fx, say) {
        await openLogin(page, fx);
        await page.getByRole('link', { name: say('Сменить школу', 'Change school') }).click();
        await page.getByLabel(say('Номер или название школы', 'School number or name')).fill('7');
        await page.getByRole('button', { name: say('Найти', 'Find') }).click();
        await page.getByRole('button', { name: /Лицей № 7/ }).waitFor();
      },
    },
    {
      name: 'registration',
      route: '/register',
      view: 'register-code',
      screenshots: true,
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/register`)),
    },
    {
      // A parent's code: the longest form (names, contacts, «Дети»), opened from the login page.
      name: 'registration-details',
      route: '/interaction/:uid/register',
      view: 'register-details',
      async open(page, fx, say) {
        await openLogin(page, fx);
        await page.getByRole('link', { name: say('Пригласительный код', 'Invitation code') }).click();
        await page.getByLabel(say('Введите приглашительный код', 'Enter your invitation code')).fill(fx.parentCode);
        await page.getByRole('button', { name: say('Зарегистрироваться', 'Register') }).click();
        await page.getByText(say('У меня есть еще один пригласительный код', 'I have another invitation code')).click();
      },
    },
    {
      // A pupil registers (one code per language): the success page.
      name: 'registration-done',
      route: '/register',
      view: 'register-done',
      async open(page, fx, say, locale) {
        await page.goto(`${fx.srv.url}/register`);
        await page.getByLabel(say('Введите приглашительный код', 'Enter your invitation code')).fill(fx.pupilCodes[locale]);
        await page.getByRole('button', { name: say('Зарегистрироваться', 'Register') }).click();
        await page.getByLabel(say('Логин', 'Login')).fill(`pupil.${locale}`);
        await page.getByLabel(say('Пароль', 'Password'), { exact: true }).fill('Berezka2024');
        await page.getByLabel(say('Повторите пароль', 'Repeat the password')).fill('Berezka2024');
        await page.getByRole('checkbox').check();
        await page.getByRole('button', { name: say('Зарегистрироваться', 'Register') }).click();
        await heading(page, say('Регистрация в системе успешно завершена', 'Registration completed successfully'));
      },
    },
    {
      name: 'recover',
      route: '/recover',
      view: 'recover',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/recover?school=1399`)),
    },
    {
      name: 'recover-link',
      route: '/recover/:token',
      view: 'recover-link',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/recover/${fx.recoverToken}`)),
    },
    {
      name: 'verify',
      route: '/verify/:token',
      view: 'verify',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/verify/${fx.verifyToken}`)),
    },
    {
      // The school search of the apps, with its answer.
      name: 'hello',
      route: '/hello',
      view: 'hello',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/hello?q=${encodeURIComponent('1399 москва')}`)),
    },
    {
      // A school of the search: that school's login form (of the account page).
      name: 'hello-school',
      route: '/hello/:school',
      view: 'login',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/hello/1399`)),
    },
    {
      name: 'account',
      route: '/account',
      view: 'account',
      async open(page, fx, say) {
        await page.goto(`${fx.srv.url}/account?school=1399`);
        await signIn(page, say, 'vera', fx.parent.password);
        await heading(page, say('Личный кабинет', 'My account'));
      },
    },
    {
      name: 'consent',
      route: '/interaction/:uid',
      view: 'consent',
      screenshots: true,
      async open(page, fx, say) {
        const started = await startLogin(fx.lib, { redirect_uri: 'http://127.0.0.1:9/cb', scope: 'openid profile school', school: '1399' });
        await page.goto(started.authUrl.toString());
        await signIn(page, say, 'vera', fx.parent.password);
        await page.getByRole('button', { name: say('Разрешить', 'Allow') }).waitFor();
      },
    },
    {
      // A pupil at an app the school has not approved: a 403 page.
      name: 'consent-not-approved',
      route: '/interaction/:uid',
      view: 'consent-not-approved',
      errorStatus: true,
      async open(page, fx, say) {
        const started = await startLogin(fx.lib, { redirect_uri: 'http://127.0.0.1:9/cb', scope: 'openid profile school', school: '1399' });
        await page.goto(started.authUrl.toString());
        await signIn(page, say, 'kostya', fx.pupil.password);
        await heading(page, say('Приложение не одобрено школой', 'App not approved by the school'));
      },
    },
    {
      name: 'change-password',
      route: '/interaction/:uid',
      view: 'change-password',
      async open(page, fx, say) {
        await openLogin(page, fx);
        await signIn(page, say, 'newbie', fx.newbie.password);
        await heading(page, say('Смена пароля', 'Change your password'));
      },
    },
    {
      name: 'confirm-email',
      route: '/interaction/:uid',
      view: 'confirm-email',
      async open(page, fx, say) {
        await openLogin(page, fx);
        await signIn(page, say, 'ivanova.m', fx.noEmail.password);
        await heading(page, say('Обновление информации о пользователе', 'Update your information'));
      },
    },
    {
      // A curator's password login asks for a second factor: first the enrolment with its QR code.
      name: 'mfa',
      route: '/interaction/:uid',
      view: 'mfa',
      async open(page, fx, say) {
        await openLogin(page, fx);
        await signIn(page, say, 'kurator', fx.curator.password);
        await heading(page, say('Включите двухэтапную проверку', 'Turn on two-step verification'));
      },
    },
    {
      name: 'esia-choose',
      route: '/interaction/:uid/esia/result',
      view: 'esia-choose',
      open: (page, fx, say) => throughEsia(page, fx, say, ESIA.twoAccounts),
    },
    {
      name: 'esia-confirm',
      route: '/interaction/:uid/esia/result',
      view: 'esia-confirm',
      open: (page, fx, say) => throughEsia(page, fx, say, ESIA.phoneOnly),
    },
    {
      name: 'esia-not-found',
      route: '/interaction/:uid/esia/result',
      view: 'esia-not-found',
      errorStatus: true,
      open: (page, fx, say) => throughEsia(page, fx, say, ESIA.unknown),
    },
    {
      // The confirmation needs a session (without one the provider signs out at once): the account
      // page's own login gives one. The provider renders this page: its language switch, clicked there
      // and back, keeps the page.
      name: 'logout',
      route: '/session/end',
      view: 'logout',
      async open(page, fx, say) {
        await page.goto(`${fx.srv.url}/account?school=1399`);
        await signIn(page, say, 'vera', fx.parent.password);
        await heading(page, say('Личный кабинет', 'My account'));
        await page.goto(`${fx.srv.url}/session/end?client_id=journal-web`);
        await page.getByRole('link', { name: say('English', 'Русский') }).click();
        await heading(page, say('Sign out', 'Выход из журнала'));
        await page.getByRole('link', { name: say('Русский', 'English') }).click();
        await heading(page, say('Выход из журнала', 'Sign out'));
      },
    },
    {
      // Without a session /session/end goes straight to its end.
      name: 'logged-out',
      route: '/session/end/success',
      view: 'message',
      async open(page, fx) {
        await page.goto(`${fx.srv.url}/session/end`);
        await page.waitForURL(/\/session\/end\/success/);
      },
    },
    {
      // Where Gosuslugi's logout returns (docs/esia.md «Logout at ESIA»); without the signed cookie
      // of a logout in progress it goes nowhere else: «Вы вышли».
      name: 'esia-logged-out',
      route: '/esia/logout',
      view: 'message',
      async open(page, fx) {
        await page.goto(`${fx.srv.url}/esia/logout`);
      },
    },
    {
      // The switch clicked on a page that answers a form (a wrong password): the login form in the
      // other language, not a «not found»; the choice holds on a page opened later without it, against
      // the browser's own language; and back.
      name: 'language-switch',
      route: '/privacy',
      view: 'privacy',
      errorStatus: true, // the wrong password's answer is a 400
      async open(page, fx, say) {
        const other: Say = (ru, en) => say(en, ru);
        await openLogin(page, fx);
        await signIn(page, say, 'vera', 'not-the-password');
        await page.getByRole('alert').waitFor();
        await page.getByRole('link', { name: say('English', 'Русский') }).click();
        await heading(page, other('Вход в журнал', 'Sign in to the journal'));
        await page.goto(`${fx.srv.url}/recover`);
        await heading(page, other('Восстановление пароля', 'Password recovery'));
        await page.getByRole('link', { name: other('English', 'Русский') }).click();
        await heading(page, say('Восстановление пароля', 'Password recovery'));
        await page.goto(`${fx.srv.url}/privacy`);
        await heading(page, say('Политика обработки персональных данных', 'Personal data processing policy'));
      },
    },
    {
      name: 'error',
      route: '/interaction/:uid',
      view: 'message',
      screenshots: true,
      errorStatus: true,
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/interaction/expired`)),
    },
  ],
};
