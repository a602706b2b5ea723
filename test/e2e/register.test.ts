/**
 * Registration by invite code over real HTTP: every error the FAQ names with its message, the
 * details page's rules, parents with several children, staff, claims at a relying party, and
 * all-or-nothing under an injected failure.
 */
import { systemAudit } from '../../src/audit/bound.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, login, oidc } from '../helpers/rp.js';
import { addStaff, addStudent, codeOf, issue } from '../helpers/school.js';
import type { School } from '../../src/schools/queries.js';
import { revokeInviteIds } from '../../src/invites/issue.js';
import { startSmtp } from '../helpers/smtp.js';

let srv: TestServer;
let school: School;
let otherSchool: School;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  srv = await startTestServer({ env: { JOURNAL_WEB_REDIRECT_URIS: REDIRECT } });
  school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
  otherSchool = await addSchool(srv.db);
});
afterAll(async () => {
  await srv?.close();
});

async function enterCode(browser: Browser, code: string, base = '/register'): Promise<{ status: number; html: string }> {
  const page = await browser.request(base);
  const form = formOf(await page.text(), /register$/);
  const res = await browser.postForm(form.action, { ...form.fields, code });
  return { status: res.status, html: await res.text() };
}

async function submitDetails(browser: Browser, html: string, fields: Record<string, string>): Promise<{ status: number; html: string }> {
  const form = formOf(html, /register\/details$/);
  const res = await browser.postForm(form.action, { ...form.fields, ...fields });
  return { status: res.status, html: await res.text() };
}

const GOOD = { password: 'Sirius2024x', password2: 'Sirius2024x', consent: '1' };
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&laquo;/g, '«').replace(/&raquo;/g, '»').replace(/\s+/g, ' ');

async function userinfo(browser: Browser, loginName: string, password: string, scope: string): Promise<Record<string, unknown>> {
  const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  const started = await startLogin(rp, { redirect_uri: REDIRECT, scope, school: school.slug });
  const url = (await login(browser, started, loginName, password)).toString();
  expect(url.startsWith(REDIRECT)).toBe(true);
  const tokens = await oidc.authorizationCodeGrant(rp, new URL(url), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
  return (await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub)) as Record<string, unknown>;
}

describe('the code page', () => {
  it('shows the FAQ form: «Введите приглашительный код», «Зарегистрироваться», the school hint and the links', async () => {
    const b = new Browser(srv.url);
    const res = await b.request('/register?school=1399');
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('Введите приглашительный код');
    expect(html).toContain('Зарегистрироваться');
    expect(html).toContain('Вы можете получить приглашительный код в школе.');
    expect(html).toContain('← Уже есть аккаунт');
    expect(html).toContain('Забыли пароль?');
    expect(html).toContain('Школа № 1399');
  });

  it('says exactly what is wrong with a code', async () => {
    const student = await addStudent(srv.app, school);
    const issued = await issue(srv.app, school, [student], { parents: 1 });
    const b = new Browser(srv.url);

    const empty = await enterCode(b, '   ');
    expect(empty.status).toBe(400);
    expect(text(empty.html)).toContain('Введите приглашительный код.');

    const unknown = await enterCode(b, 'st7x9k2m4p8q');
    expect(unknown.status).toBe(400);
    expect(text(unknown.html)).toContain('Неверный код приглашения. Проверьте, корректно ли введен выданный код.');
    expect(text(unknown.html)).toContain('«st»');
    expect(unknown.html).toContain('value="st7x9k2m4p8q"'); // what was typed survives

    const gibberish = await enterCode(b, '12345');
    expect(text(gibberish.html)).toContain('Неверный код приглашения');

    const foreign = await enterCode(b, 'xy12ab34cd');
    expect(foreign.status).toBe(400);
    expect(text(foreign.html)).toContain('нужно проходить регистрацию в другой системе');
    expect(text(foreign.html)).toContain('«xy»');

    // Revoked.
    const parentCode = codeOf(issued, student, 'parent');
    const parentInvite = issued.find((i) => i.code === parentCode)!.invite;
    await srv.db.transaction((trx) => revokeInviteIds(trx, school.id, [parentInvite.id], systemAudit(trx)));
    const revoked = await enterCode(b, parentCode);
    expect(revoked.status).toBe(410);
    expect(text(revoked.html)).toContain('Этот код больше не действует');

    // Expired.
    const later = await addStudent(srv.app, school);
    const old = await issue(srv.app, school, [later], { parents: 0, expiresAt: new Date(Date.now() + 1000) });
    await srv.db('invites').where({ id: old[0]!.invite.id }).update({ expires_at: new Date(Date.now() - 1000) });
    const expired = await enterCode(b, old[0]!.code);
    expect(expired.status).toBe(410);
    expect(text(expired.html)).toContain('Срок действия этого кода истёк');

    // Used: offers to log in and «Забыли пароль?».
    const studentCode = codeOf(issued, student, 'student');
    const page = await enterCode(b, studentCode);
    expect(page.status).toBe(200);
    const done = await submitDetails(b, page.html, { login: 'vanya.n', ...GOOD });
    expect(done.status).toBe(200);
    const used = await enterCode(new Browser(srv.url), studentCode);
    expect(used.status).toBe(409);
    expect(text(used.html)).toContain('Этот код уже использован');
    expect(used.html).toMatch(/<a href="[^"]*">Войти<\/a>/);
    expect(used.html).toMatch(/<a href="\/recover[^"]*">Забыли пароль\?<\/a>/);
  });

  it('accepts capitals, spaces, dashes and Cyrillic look-alikes typed by mistake', async () => {
    const student = await addStudent(srv.app, school);
    const issued = await issue(srv.app, school, [student], { parents: 0 });
    const code = codeOf(issued, student, 'student');
    const messy = `  ${code.slice(0, 2).toUpperCase().replace('T', 'Т')} ${code.slice(2, 6).toUpperCase()}-${code.slice(6)} `;
    const page = await enterCode(new Browser(srv.url), messy);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Регистрация в системе');
    expect(page.html).toContain(`value="${code}"`);
  });
});

describe('the details page', () => {
  it('registers a student: roster names, class claim, the FAQ success message, the login filled in next time', async () => {
    const student = await addStudent(srv.app, school, { lastName: 'Соколова', firstName: 'Маша', className: '7Б' });
    const issued = await issue(srv.app, school, [student], { parents: 0 });
    const b = new Browser(srv.url);
    const page = await enterCode(b, codeOf(issued, student, 'student'));
    expect(text(page.html)).toContain('Ученику (7Б)');
    expect(text(page.html)).toContain('Соколова Маша');
    expect(page.html).not.toContain('name="last_name"'); // the roster names the student
    expect(page.html).not.toContain('name="child1"'); // students have no «Дети»

    const done = await submitDetails(b, page.html, { login: 'Masha.Sokolova', email: '', phone: '8 (912) 345-67-89', ...GOOD });
    expect(done.status).toBe(200);
    expect(text(done.html)).toContain('Регистрация в системе успешно завершена');
    expect(text(done.html)).toContain('Masha.Sokolova');

    const user = await srv.db('users').where({ login: 'Masha.Sokolova' }).first();
    expect(user).toMatchObject({ kind: 'student', last_name: 'Соколова', first_name: 'Маша', person_id: student.id, phone: '+79123456789', email: null });
    const consents = await srv.db('consents').where({ user_id: user.id });
    expect(consents).toHaveLength(1);
    expect(consents[0].policy_version).toBe(srv.config.privacyPolicyVersion);
    const audit = await srv.db('audit_log').where({ action: 'user.register', target_id: user.id });
    expect(audit).toHaveLength(1);
    // The database holds no usable code: only HMACs, and nothing of the code in the audit.
    const code = codeOf(issued, student, 'student');
    const dump = JSON.stringify([await srv.db('invites'), await srv.db('audit_log')]);
    expect(dump).not.toContain(code);
    expect(dump).not.toContain(code.slice(2));

    // The next login form has the login filled in.
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: REDIRECT, scope: 'openid' });
    const login = await openLoginPage(b, started.authUrl);
    expect(login.html).toContain('value="Masha.Sokolova"');

    const claims = await userinfo(new Browser(srv.url), 'masha.sokolova', GOOD.password, 'openid profile school roles children');
    expect(claims).toMatchObject({ class: '7Б', roles: ['student'], family_name: 'Соколова', school: { number: '1399' }, children: [] });
  });

  it('refuses what the rules forbid and keeps what was typed (never the passwords)', async () => {
    const student = await addStudent(srv.app, school, { lastName: 'Петрова', firstName: 'Оля', birthDate: '2012-09-15' });
    const issued = await issue(srv.app, school, [student], { parents: 1 });
    const b = new Browser(srv.url);
    const page = await enterCode(b, codeOf(issued, student, 'parent'));
    expect(text(page.html)).toContain('Родителям (6А)');
    expect(page.html).toContain('name="last_name"');
    expect(page.html).toContain('У меня есть еще один пригласительный код');

    const cases: [Record<string, string>, string][] = [
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: '', ...GOOD }, 'Укажите адрес электронной почты'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'нет-почты', ...GOOD }, 'Проверьте адрес электронной почты'],
      [{ last_name: '', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', ...GOOD }, 'Укажите фамилию.'],
      [{ last_name: 'Петрова<script>', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', ...GOOD }, 'допустимы только русские или латинские буквы'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'a', email: 'anna@mail.ru', ...GOOD }, 'Логин может содержать от 3 до 50 символов'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', phone: '12', ...GOOD }, 'Телефон «12» не распознан: нужен мобильный номер'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', password: 'Sirius2024x', password2: 'Sirius2024y', consent: '1' }, 'Пароли не совпадают.'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', password: 'short1', password2: 'short1', consent: '1' }, 'не менее 8 символов'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', password: 'Sirius.2024', password2: 'Sirius.2024', consent: '1' }, 'только буквы и цифры'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', password: 'petrova2024', password2: 'petrova2024', consent: '1' }, 'не должен совпадать с логином'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', password: 'qwerty123', password2: 'qwerty123', consent: '1' }, 'слишком распространён'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', password: 'йцукен123', password2: 'йцукен123', consent: '1' }, 'слишком распространён'],
      [{ last_name: 'Петрова', first_name: 'Анна', login: 'petrova', email: 'anna@mail.ru', password: 'Sirius2024x', password2: 'Sirius2024x' }, 'нужно дать согласие на обработку персональных данных'],
    ];
    for (const [fields, message] of cases) {
      const r = await submitDetails(b, page.html, fields);
      expect([r.status, text(r.html)]).toEqual([400, expect.stringContaining(message)]);
      expect(r.html).toContain(`value="${fields.login}"`);
      if (fields.email) expect(r.html).toContain(`value="${fields.email.replace(/"/g, '&quot;')}"`);
      expect(r.html).not.toContain(fields.password!);
    }
    expect(await srv.db('users').where({ login: 'petrova' }).first()).toBeUndefined();
  });

  it('refuses a login taken in the school, case-insensitively', async () => {
    const [a, c] = [await addStudent(srv.app, school), await addStudent(srv.app, school)];
    const issued = await issue(srv.app, school, [a, c], { parents: 0 });
    const b = new Browser(srv.url);
    const first = await enterCode(b, codeOf(issued, a, 'student'));
    expect((await submitDetails(b, first.html, { login: 'twin', ...GOOD })).status).toBe(200);
    const second = await enterCode(b, codeOf(issued, c, 'student'));
    const r = await submitDetails(b, second.html, { login: 'TWIN', ...GOOD });
    expect(r.status).toBe(409);
    expect(text(r.html)).toContain('Этот логин уже занят в вашей школе');
    // The code was not consumed by the failed attempt.
    expect((await submitDetails(b, second.html, { login: 'twin2', ...GOOD })).status).toBe(200);
  });

  it('roster data today’s rules refuse (an older import) sends the person to the curator, not a 500; the code keeps working once corrected', async () => {
    const pupil = await addStudent(srv.app, school);
    const issued = await issue(srv.app, school, [pupil], { parents: 0 });
    // As an import under looser rules left it: a name with a digit and a tag in it.
    await srv.db('people').where({ id: pupil.id }).update({ first_name: 'Ваня2<b>' });
    const b = new Browser(srv.url);
    const page = await enterCode(b, codeOf(issued, pupil, 'student'));
    const r = await submitDetails(b, page.html, { login: 'roster-typo', ...GOOD });
    expect(r.status).toBe(422);
    expect(text(r.html)).toContain('В списке школы ваши данные записаны с ошибкой');
    expect(text(r.html)).toContain('Обратитесь к куратору электронного журнала в школе');
    expect(await srv.db('users').where({ login: 'roster-typo' }).first()).toBeUndefined();
    // The curator corrects the roster: the same code registers.
    await srv.db('people').where({ id: pupil.id }).update({ first_name: 'Ваня' });
    const again = await enterCode(b, codeOf(issued, pupil, 'student'));
    expect((await submitDetails(b, again.html, { login: 'roster-typo', ...GOOD })).status).toBe(200);
  });

  it('a parent registering with two codes gets both children; more codes are checked one by one', async () => {
    const [kid1, kid2, kid3] = [
      await addStudent(srv.app, school, { lastName: 'Кузнецов', firstName: 'Петя', className: '2А' }),
      await addStudent(srv.app, school, { lastName: 'Кузнецова', firstName: 'Даша', className: '9В' }),
      await addStudent(srv.app, school, { lastName: 'Кузнецов', firstName: 'Илья', className: '5Б' }),
    ];
    const elsewhere = await addStudent(srv.app, otherSchool);
    const issued = await issue(srv.app, school, [kid1, kid2, kid3]);
    const foreignIssued = await issue(srv.app, otherSchool, [elsewhere]);
    const b = new Browser(srv.url);
    const page = await enterCode(b, codeOf(issued, kid1, 'parent'));
    const base = { last_name: 'Кузнецова', first_name: 'Елена', login: 'kuznetsova', email: 'elena@mail.ru', ...GOOD };

    const wrong = await submitDetails(b, page.html, {
      ...base,
      child1: codeOf(issued, kid2, 'student'),
      child2: codeOf(foreignIssued, elsewhere, 'parent'),
      child3: codeOf(issued, kid1, 'parent', 1),
      child4: 'pt2222222222',
    });
    expect(wrong.status).toBe(400);
    const t = text(wrong.html);
    expect(t).toContain('вводятся только коды для родителей');
    expect(t).toContain('выдан другой школой');
    expect(t).toContain('выдан на ребёнка, который уже указан');
    expect(t).toContain('такого кода нет');
    expect(wrong.html).toMatch(/<details open/);

    const done = await submitDetails(b, page.html, { ...base, child1: codeOf(issued, kid2, 'parent').toUpperCase() });
    expect(done.status).toBe(200);
    const claims = await userinfo(new Browser(srv.url), 'kuznetsova', GOOD.password, 'openid profile school roles children');
    expect(claims.roles).toEqual(['parent']);
    const children = claims.children as { id: string; name: string; class: string }[];
    expect(children).toHaveLength(2);
    expect(children.map((c) => [c.name, c.class]).sort()).toEqual([['Кузнецов Петя Петрович', '2А'], ['Кузнецова Даша Петрович', '9В']]);
    expect(children.map((c) => c.id).sort()).toEqual([kid1.id, kid2.id].sort());
    // Both codes are used now; the parent's consent covers each child.
    const user = await srv.db('users').where({ login: 'kuznetsova' }).first();
    expect(await srv.db('invites').where({ redeemed_by: user.id }).count({ n: '*' })).toEqual([{ n: 2 }]);
    expect((await srv.db('consents').where({ user_id: user.id })).map((c: { person_id: string | null }) => c.person_id).sort()).toEqual([null, kid1.id, kid2.id].sort());
  });

  it('a teacher registers from the roster and links a child at the school', async () => {
    const teacher = await addStaff(srv.app, school, 'teacher', { lastName: 'Смирнова', firstName: 'Ольга' });
    const kid = await addStudent(srv.app, school, { lastName: 'Смирнов', firstName: 'Коля' });
    const staffCodes = await issue(srv.app, school, [teacher]);
    const kidCodes = await issue(srv.app, school, [kid]);
    const b = new Browser(srv.url);
    const page = await enterCode(b, codeOf(staffCodes, teacher, 'teacher'));
    expect(text(page.html)).toContain('Учителю');
    const noEmail = await submitDetails(b, page.html, { login: 'smirnova', ...GOOD });
    expect(text(noEmail.html)).toContain('Укажите адрес электронной почты');
    const done = await submitDetails(b, page.html, { login: 'smirnova', email: 'olga@school.ru', child1: codeOf(kidCodes, kid, 'parent'), ...GOOD });
    expect(done.status).toBe(200);
    const claims = await userinfo(new Browser(srv.url), 'smirnova', GOOD.password, 'openid school roles children');
    expect(new Set(claims.roles as string[])).toEqual(new Set(['teacher', 'parent']));
    expect((claims.children as unknown[]).length).toBe(1);
  });

  it('keeps a child to the configured number of guardians', async () => {
    const kid = await addStudent(srv.app, school);
    const limit = srv.config.invites.maxParentsPerChild;
    const issued = await issue(srv.app, school, [kid], { parents: limit });
    // Beyond the limit nothing is issued.
    await expect(issue(srv.app, school, [kid], { parents: 1 })).rejects.toThrow(/at most/);
    for (let i = 0; i < limit; i++) {
      const b = new Browser(srv.url);
      const page = await enterCode(b, codeOf(issued, kid, 'parent', i));
      const r = await submitDetails(b, page.html, { last_name: 'Родитель', first_name: `Номер`, login: `guardian${i}`, email: `g${i}@mail.ru`, ...GOOD });
      expect(r.status).toBe(200);
    }
    expect(await srv.db('guardianships').where({ person_id: kid.id }).count({ n: '*' })).toEqual([{ n: limit }]);
  });
});

describe('a second guardian', () => {
  it('links, and the first parent gets a letter saying so (through the outbox, over SMTP)', async () => {
    const smtp = await startSmtp();
    const mailed = await startTestServer({ env: { SMTP_URL: smtp.url } });
    try {
      const s = await addSchool(mailed.db, { name: 'Школа № 57' });
      const kid = await addStudent(mailed.app, s, { lastName: 'Белова', firstName: 'Аня', className: '3В' });
      const issued = await issue(mailed.app, s, [kid], { parents: 2 });
      for (const [i, who] of [['Белова', 'Ирина'], ['Белов', 'Сергей']].entries()) {
        const b = new Browser(mailed.url);
        const page = await enterCode(b, codeOf(issued, kid, 'parent', i));
        const r = await submitDetails(b, page.html, { last_name: who[0]!, first_name: who[1]!, login: `belov${i}`, email: `parent${i}@mail.ru`, ...GOOD });
        expect(r.status).toBe(200);
      }
      const letter = await smtp.waitFor((m) => JSON.stringify(m.to).includes('parent0@mail.ru'));
      expect(letter.subject).toBe('К дневнику вашего ребёнка получил доступ ещё один родитель');
      expect(letter.text).toContain('Здравствуйте, Ирина!');
      expect(letter.text).toContain('Аня Белова (3В, Школа № 57)');
      expect(letter.text).toContain('Белов Сергей');
      // The first registration told nobody; the second parent gets no such letter.
      expect(smtp.messages.filter((m) => JSON.stringify(m.to).includes('parent1@mail.ru'))).toHaveLength(0);
      expect(smtp.messages).toHaveLength(1);
    } finally {
      await mailed.close();
      await smtp.close();
    }
  });
});

describe('inside an OIDC interaction', () => {
  it('«Пригласительный код» on the login page registers and the login form returns to the relying party', async () => {
    const student = await addStudent(srv.app, school, { lastName: 'Орлов', firstName: 'Дима' });
    const issued = await issue(srv.app, school, [student], { parents: 0 });
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: REDIRECT, scope: 'openid school roles', school: school.slug });
    const b = new Browser(srv.url);
    const login = await openLoginPage(b, started.authUrl);
    const link = /href="(\/interaction\/[^"]+\/register[^"]*)"/.exec(login.html)?.[1]?.replace(/&amp;/g, '&');
    expect(link).toBeDefined();
    const codePage = await b.request(link!);
    const form = formOf(await codePage.text(), /register$/);
    const details = await b.postForm(form.action, { ...form.fields, code: codeOf(issued, student, 'student') });
    const done = await submitDetails(b, await details.text(), { login: 'orlov', ...GOOD });
    expect(done.status).toBe(200);
    expect(text(done.html)).toContain('Регистрация в системе успешно завершена');
    expect(done.html).toContain('value="orlov"');

    const { url } = await submitLogin(b, done.html, 'orlov', GOOD.password);
    expect(url.startsWith(REDIRECT)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(url), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    const claims = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    expect(claims).toMatchObject({ class: '6А', roles: ['student'] });
    const audit = await srv.db('audit_log').where({ action: 'user.register', target_id: claims.sub }).first();
    expect(audit.client_id).toBe('journal-web');
  });
});

describe('all or nothing', () => {
  it('a failure after the account insert leaves neither an account nor a used code', async () => {
    const kid = await addStudent(srv.app, school);
    const issued = await issue(srv.app, school, [kid], { parents: 1 });
    const code = codeOf(issued, kid, 'parent');
    // A real fault inside the transaction, after the users insert: the guardianship insert fails.
    await srv.db.raw(`create function jid_test_fail() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`);
    await srv.db.raw(`create trigger jid_test_fail before insert on guardianships for each row execute function jid_test_fail()`);
    const usersBefore = await srv.db('users').count({ n: '*' });
    const b = new Browser(srv.url);
    const page = await enterCode(b, code);
    const fields = { last_name: 'Сбой', first_name: 'Тест', login: 'failing', email: 'fail@mail.ru', ...GOOD };
    try {
      const r = await submitDetails(b, page.html, fields);
      expect(r.status).toBe(500);
      expect(r.html).not.toContain('injected failure');
    } finally {
      await srv.db.raw('drop trigger jid_test_fail on guardianships');
      await srv.db.raw('drop function jid_test_fail()');
    }
    expect(await srv.db('users').count({ n: '*' })).toEqual(usersBefore);
    expect(await srv.db('users').where({ login: 'failing' }).first()).toBeUndefined();
    const invite = await srv.db('invites').where({ id: issued.find((i) => i.code === code)!.invite.id }).first();
    expect(invite.redeemed_at).toBeNull();
    expect(await srv.db('audit_log').where({ action: 'user.register' }).whereRaw(`details->>'invites' like ?`, [`%${invite.id}%`])).toHaveLength(0);
    // The same code works afterwards.
    const again = await enterCode(b, code);
    expect((await submitDetails(b, again.html, fields)).status).toBe(200);
  });
});

describe('guessing', () => {
  it('is throttled per address; a real code does not count against the address', async () => {
    const guard = await startTestServer({ env: { JOURNAL_WEB_REDIRECT_URIS: REDIRECT } });
    try {
      const s = await addSchool(guard.db);
      const kid = await addStudent(guard.app, s);
      const issued = await issue(guard.app, s, [kid], { parents: 0 });
      const { free } = guard.config.throttle.inviteAddress;
      const b = new Browser(guard.url);
      const wrong = (i: number) => enterCode(b, `st${String(i).padStart(8, 'a')}zz`);
      for (let i = 0; i < free - 1; i++) expect((await wrong(i)).status).toBe(400);
      expect((await enterCode(b, codeOf(issued, kid, 'student'))).status).toBe(200);
      expect((await wrong(free)).status).toBe(400);
      const blocked = await wrong(free + 1);
      expect(blocked.status).toBe(429);
      expect(text(blocked.html)).toContain('Слишком много попыток ввода кода');
      // Even a real code waits now: the answer must not tell a guesser which codes exist.
      expect((await enterCode(b, codeOf(issued, kid, 'student'))).status).toBe(429);

      // Per code: a used code asked about again and again starts to wait, whatever the address.
      await guard.app.throttle.unlock('invite:ip:127.0.0.1');
      const c = new Browser(guard.url);
      const details = await enterCode(c, codeOf(issued, kid, 'student'));
      expect((await submitDetails(c, details.html, { login: 'polled', ...GOOD })).status).toBe(200);
      const { free: codeFree } = guard.config.throttle.inviteCode;
      for (let i = 0; i < codeFree; i++) expect((await enterCode(c, codeOf(issued, kid, 'student'))).status).toBe(409);
      expect((await enterCode(c, codeOf(issued, kid, 'student'))).status).toBe(429);
    } finally {
      await guard.close();
    }
  });
});
