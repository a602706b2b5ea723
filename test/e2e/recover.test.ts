/**
 * Password recovery over real HTTP and real SMTP: the same page for every address, the lookup in
 * the worker (not the request), one letter with every login of the address, links that work once
 * and die when a newer one is sent, sessions ended after the new password, and letters that wait
 * for SMTP and arrive exactly once even with two provider processes.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, addAccount, type TestServer } from '../helpers/app.js';
import { createTestDb } from '../helpers/db.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, login, oidc } from '../helpers/rp.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';
import { startNodeProcess } from '../helpers/process.js';
import type { ParsedMail } from 'mailparser';

let srv: TestServer;
let smtp: SmtpCatcher;
const REDIRECT = 'http://127.0.0.1:9/callback';

beforeAll(async () => {
  smtp = await startSmtp();
  // Workers off: each test runs the recovery round itself, to see where the lookup happens.
  srv = await startTestServer({ env: { SMTP_URL: smtp.url, RUN_WORKERS: 'false', JOURNAL_WEB_REDIRECT_URIS: REDIRECT } });
});
afterAll(async () => {
  await srv?.close();
  await smtp?.close();
});

async function ask(b: Browser, email: string): Promise<{ status: number; html: string }> {
  const page = await b.request('/recover');
  const form = formOf(await page.text(), /\/recover/);
  const res = await b.postForm(form.action, { ...form.fields, email });
  return { status: res.status, html: await res.text() };
}

async function deliver(): Promise<void> {
  await srv.app.recovery.processDue();
  await srv.app.mail.deliverDue();
}

const to = (address: string) => (m: ParsedMail) => JSON.stringify(m.to).toLowerCase().includes(`"${address.toLowerCase()}"`);
/** The link under «Логин: <login>» in the letter. */
const linkFor = (m: ParsedMail, loginName: string) => new RegExp(`Логин: ${loginName.replace('.', '\\.')}\\b[^\\n]*\\n[^\\n]*?(http://\\S+/recover/[A-Za-z0-9_-]{43})`).exec(m.text ?? '')?.[1];
const links = (m: ParsedMail) => [...(m.text ?? '').matchAll(/(http:\/\/\S+\/recover\/[A-Za-z0-9_-]{43})/g)].map((x) => x[1]!);

describe('recovery', () => {
  it('the page of the FAQ: «Введите ваш E-mail», «Восстановить», the half hour, «Спам», the curator', async () => {
    const html = await (await new Browser(srv.url).request('/recover')).text();
    for (const s of ['Восстановление пароля', 'Введите ваш E-mail', 'Восстановить', 'в течение получаса', '«Спам»', 'куратору', '← Вход в журнал', 'Регистрация']) {
      expect(html).toContain(s);
    }
  });

  it('answers the same for known, unconfirmed and unknown addresses, and looks nothing up in the request', async () => {
    const school = await addSchool(srv.db);
    await addAccount(srv.app, school, { login: 'known1', email: 'known@mail.ru' });
    const unconfirmed = await addAccount(srv.app, school, { login: 'unconf1', email: 'unconfirmed@mail.ru' });
    await srv.db('users').where({ id: unconfirmed.id }).update({ email_verified_at: null });

    const pages: string[] = [];
    const queries: string[][] = [];
    for (const email of ['known@mail.ru', 'unconfirmed@mail.ru', 'nobody@mail.ru']) {
      const b = new Browser(srv.url);
      await b.request('/recover'); // the CSRF cookie first, so the POST's work is only the request's
      const seen: string[] = [];
      const listen = (q: { sql: string }) => seen.push(q.sql);
      srv.db.on('query', listen);
      const r = await ask(b, email);
      srv.db.off('query', listen);
      expect(r.status).toBe(200);
      pages.push(r.html.replace(/name="_csrf" value="[^"]*"/g, '').replace(email, 'EMAIL'));
      queries.push(seen);
    }
    expect(pages[1]).toBe(pages[0]);
    expect(pages[2]).toBe(pages[0]);
    expect(pages[0]).toContain('Проверьте почту');
    // The request's database work is the same for all three, and never reads the accounts.
    expect(queries[1]).toEqual(queries[0]);
    expect(queries[2]).toEqual(queries[0]);
    expect(queries[0]!.join('\n')).not.toMatch(/"users"|\busers\b/);
    expect(queries[0]!.join('\n')).toMatch(/recovery_requests/);

    await deliver();
    await smtp.waitFor(to('known@mail.ru'));
    expect(smtp.messages.filter(to('unconfirmed@mail.ru'))).toHaveLength(0);
    expect(smtp.messages.filter(to('nobody@mail.ru'))).toHaveLength(0);
  });

  it('one letter lists every account of the address (two schools); each link works once; sessions end', async () => {
    const a = await addSchool(srv.db, { name: 'Школа № 11' });
    const b = await addSchool(srv.db, { name: 'Гимназия № 22' });
    const first = await addAccount(srv.app, a, { login: 'mama.a', email: 'Mama@Mail.ru', kind: 'parent' });
    await addAccount(srv.app, b, { login: 'mama.b', email: 'mama@mail.ru', kind: 'parent' });

    // A refresh token of an app, to see it die with the new password.
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const started = await startLogin(rp, { redirect_uri: REDIRECT, school: a.slug, scope: 'openid offline_access', prompt: 'consent' });
    const cb = await login(new Browser(srv.url), started, 'mama.a', first.password);
    const tokens = await oidc.authorizationCodeGrant(rp, cb, { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce });
    expect(tokens.refresh_token).toBeDefined();

    const browser = new Browser(srv.url);
    expect((await ask(browser, 'MAMA@mail.ru')).status).toBe(200);
    await deliver();
    const letter = await smtp.waitFor(to('Mama@Mail.ru'));
    expect(letter.subject).toBe('Восстановление доступа к электронному журналу');
    expect(letter.text).toContain('mama.a (Школа № 11)');
    expect(letter.text).toContain('mama.b (Гимназия № 22)');
    const [linkA, linkB] = [linkFor(letter, 'mama.a'), linkFor(letter, 'mama.b')];
    expect(links(letter)).toHaveLength(2);
    expect(linkA && linkB).toBeTruthy();

    // The link's page shows the account and the rule; GET does not use it up.
    const page = await browser.request(linkA!);
    const html = await page.text();
    expect(html).toContain('mama.a');
    expect((await browser.request(linkA!)).status).toBe(200);
    const form = formOf(html, /\/recover\//);
    const weak = await browser.postForm(form.action, { ...form.fields, password: 'qwerty123', repeat: 'qwerty123' });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('слишком распространён');
    const ok = await browser.postForm(form.action, { ...form.fields, password: 'Vesna2027new', repeat: 'Vesna2027new' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Пароль изменён');

    // Once only: the same link now gets a clear page.
    const again = await browser.request(linkA!);
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('Ссылка недействительна');
    // The app's refresh token ended with the sessions; the new password logs in.
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const next = await startLogin(rp, { redirect_uri: REDIRECT, school: a.slug, scope: 'openid' });
    expect((await login(new Browser(srv.url), next, 'mama.a', 'Vesna2027new')).toString()).toContain('code=');
    // A letter says the password changed.
    await srv.app.mail.deliverDue();
    const changed = await smtp.waitFor((m) => to('Mama@Mail.ru')(m) && m.subject === 'Пароль в электронном журнале изменён');
    expect(changed.text).toContain('mama.a');
    // The other account's link still works (each account has its own).
    expect((await browser.request(linkB!)).status).toBe(200);
  });

  it('a newer letter makes the older links useless', async () => {
    const school = await addSchool(srv.db);
    await addAccount(srv.app, school, { login: 'twice', email: 'twice@mail.ru' });
    const b = new Browser(srv.url);
    await ask(b, 'twice@mail.ru');
    await deliver();
    const older = links(await smtp.waitFor(to('twice@mail.ru')))[0]!;
    await ask(b, 'twice@mail.ru');
    await deliver();
    await smtp.waitFor((m) => smtp.messages.filter(to('twice@mail.ru')).length === 2 && Boolean(m));
    const newer = links(smtp.messages.filter(to('twice@mail.ru'))[1]!)[0]!;
    expect(newer).not.toBe(older);
    expect((await b.request(older)).status).toBe(410);
    expect((await b.request(newer)).status).toBe(200);
    expect((await b.request('/recover/not-a-token')).status).toBe(410);
  });

  it('is throttled per address typed, the same way for every address', async () => {
    const b = new Browser(srv.url);
    const { free } = srv.config.throttle.recoverEmail;
    for (let i = 0; i < free; i++) expect((await ask(b, 'hammered@mail.ru')).status).toBe(200);
    const refused = await ask(b, 'hammered@mail.ru');
    expect(refused.status).toBe(429);
    expect(refused.html).toContain('Слишком много запросов');
    expect((await ask(b, 'not-an-address')).status).toBe(400);
  });
});

describe('recovery while SMTP is down, with two provider processes (PostgreSQL)', () => {
  it('the request answers normally; the letter arrives once SMTP is back, exactly once', async () => {
    const pg = await createTestDb({ postgres: true });
    const down = await startSmtp();
    const port = down.port;
    await down.close(); // SMTP is down: nothing listens on its port
    const main = await startTestServer({ testDb: pg, env: { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_BACKOFF_BASE_SECONDS: '1', MAIL_POLL_SECONDS: '1' } });
    const second = await startNodeProcess(main.config, pg.url!, { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_BACKOFF_BASE_SECONDS: '1', MAIL_POLL_SECONDS: '1' });
    let back: SmtpCatcher | undefined;
    try {
      const school = await addSchool(main.db);
      await addAccount(main.app, school, { login: 'offline', email: 'offline@mail.ru' });
      const r = await ask(new Browser(second.url), 'offline@mail.ru');
      expect(r.status).toBe(200);
      expect(r.html).toContain('Проверьте почту');
      // Both nodes try and fail; the letter waits.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const row = await main.db('mail_outbox').where({ to_address: 'offline@mail.ru' }).first();
        if (row && row.attempts >= 1 && row.last_error) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      const waiting = await main.db('mail_outbox').where({ to_address: 'offline@mail.ru' });
      expect(waiting).toHaveLength(1);
      expect(waiting[0].status).toBe('pending');
      back = await startSmtp(port);
      await back.waitFor(to('offline@mail.ru'), 30_000);
      await new Promise((res) => setTimeout(res, 3000)); // time for a duplicate, if there were one
      expect(back.messages.filter(to('offline@mail.ru'))).toHaveLength(1);
      expect((await main.db('mail_outbox').where({ to_address: 'offline@mail.ru' }).first()).status).toBe('sent');
    } finally {
      await second.stop();
      await main.close();
      await back?.close();
      await pg.close();
    }
  });
});
