/**
 * Issue 7, faults (the part that runs in `npm test`, on both databases):
 * - a node killed with SIGKILL in the middle of registrations leaves nothing half-written, and a
 *   new node on the same database finishes them (on PGlite: the embedded database in a data
 *   folder, opened again after the crash; on PostgreSQL: the per-file database);
 * - SMTP down loses no letter: confirmation and recovery letters wait in `mail_outbox` while the
 *   SMTP server is gone, and each arrives exactly once when it is back.
 * PostgreSQL restarted under load is `npm run test:faults` (postgres-restart.faults.ts).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import path from 'node:path';
import type { ParsedMail } from 'mailparser';
import { addAccount, addSchool, freePort, startTestServer, testConfig, type TestServer } from '../helpers/app.js';
import { createTestDb, onPostgres, type TestDb } from '../helpers/db.js';
import { startNodeProcess, type NodeProcess } from '../helpers/process.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, submitLogin, oidc } from '../helpers/rp.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';
import { pupilsWithCodes, registerWithCode, startRegistration, type FlowResult, type Registrant } from '../helpers/flows.js';
import { NOTHING_HALF_MADE, registrationInvariants, type RegistrationInvariants } from '../helpers/registration-invariants.js';
import { recordCounts } from '../helpers/security-counts.js';
import { createDb, type Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createAppContext } from '../../src/server/bootstrap.js';
import { createLogger } from '../../src/server/logger.js';
import type { Config } from '../../src/config/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a node killed with SIGKILL mid-registration', () => {
  const CHILDREN = 6; // a student code and a parent code each: 12 registrations at once
  const PREFIX = 'kill';
  let config: Config;
  let testDb: TestDb | undefined;
  const registrants: Registrant[] = [];
  const nodes: NodeProcess[] = [];

  /** The database as the test sees it: the per-file PostgreSQL one, or the data folder opened while no node runs. */
  async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (testDb) return fn(testDb.db);
    const db = createDb({ pgliteDir: path.join(config.dataDir, 'pgdata') });
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  const accountsOf = (db: Db) => db('users').where('login', 'like', `${PREFIX}%`).select('login');

  beforeAll(async () => {
    const port = await freePort();
    config = testConfig({ ISSUER: `http://127.0.0.1:${port}` });
    if (onPostgres) testDb = await createTestDb();
    await withDb(async (db) => {
      if (!testDb) await migrateLatest(db);
      const app = await createAppContext(config, { db, migrate: false, logger: createLogger('silent') });
      app.oidc.stop();
      registrants.push(...(await pupilsWithCodes(app, await addSchool(db), CHILDREN, PREFIX)));
    });
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await n.kill();
    await testDb?.close();
  });

  it('leaves no half-made account and no code used without its account; a new node on the same database finishes the rest', async () => {
    const first = await startNodeProcess(config, testDb?.url);
    nodes.push(first);

    // Everyone reaches the details page, then all press «Зарегистрироваться» at once.
    const ready = await Promise.all(registrants.map((r) => startRegistration(first.url, r)));
    const submits = ready.map((s) => {
      if (!('submit' in s)) throw new Error(`the code page failed before the fault: ${JSON.stringify(s.steps.at(-1))}`);
      return s.submit();
    });
    // The kill comes as soon as one registration is through: the others are hashing or inside their transaction.
    await Promise.race(submits);
    const killedBy = await first.kill();
    expect(killedBy).toBe('SIGKILL'); // the OS ended the node with the kill (it had not ended by itself)
    const before = await Promise.all(submits);
    expect(before.some((r) => r.outcome === 'registered')).toBe(true);
    // The fault happened mid-registration: some «Зарегистрироваться» were sent and never
    // answered — their connection was cut by the kill (not refused: they had reached the node).
    // Should every registration have finished before the kill, this fails: nothing was interrupted.
    const sent = before.filter((r) => r.steps.at(-1)?.what === 'POST /register/details');
    const cut = sent.filter((r) => r.outcome === 'failed' && r.steps.at(-1)!.networkError && !/ECONNREFUSED/.test(r.steps.at(-1)!.networkError!));
    expect({ sent: sent.length, cutByTheKill: cut.length > 0 }).toEqual({ sent: registrants.length, cutByTheKill: true });
    // Whatever did not succeed was cut, nothing else: no error page under the fault.
    expect(before.filter((r) => r.outcome !== 'registered' && !cut.includes(r)).map((r) => r.steps.at(-1))).toEqual([]);

    const afterKill = await withDb((db) => registrationInvariants(db, PREFIX));
    expect(afterKill).toEqual(NOTHING_HALF_MADE);
    // Every registration that was answered «успешно» is there, whole.
    const committed = new Set((await withDb(accountsOf)).map((u: { login: string }) => u.login));
    for (const [i, r] of before.entries()) if (r.outcome === 'registered') expect(committed).toContain(registrants[i]!.login);

    // A new node on the same database (the embedded one recovers from the crash): the others
    // register now; a code whose registration committed before the kill says it is used.
    const second = await startNodeProcess(config, testDb?.url);
    nodes.push(second);
    const again: FlowResult<string>[] = [];
    for (const r of registrants) {
      const res = await registerWithCode(second.url, r);
      again.push(res);
      expect({ login: r.login, outcome: res.outcome }).toEqual({ login: r.login, outcome: committed.has(r.login) ? 'code-used' : 'registered' });
    }
    expect(await second.stop()).toBe(0);

    const { invariants, accounts } = await withDb(async (db) => ({ invariants: await registrationInvariants(db, PREFIX), accounts: (await accountsOf(db)).length }));
    expect(invariants).toEqual(NOTHING_HALF_MADE);
    expect(accounts).toBe(registrants.length);

    const worst = (a: RegistrationInvariants, b: RegistrationInvariants) => (k: keyof RegistrationInvariants) => Math.max(a[k], b[k]);
    const of = worst(afterKill, invariants);
    recordCounts('faults', {
      'faults.sigkill.kills': [killedBy].filter((signal) => signal === 'SIGKILL').length,
      'faults.sigkill.registrations-fired': sent.length,
      'faults.sigkill.accounts-in-the-end': accounts,
      'faults.sigkill.half-made-accounts': of('halfMadeAccounts'),
      'faults.sigkill.codes-consumed-without-account': of('codesConsumedWithoutAccount'),
      'faults.sigkill.guardianships-missing-a-side': of('guardianshipsMissingASide'),
    });
  }, 120_000);
});

describe('SMTP down loses no letter', () => {
  const REDIRECT = 'http://127.0.0.1:9/callback';
  const RECOVERIES = 4;
  const CONFIRMATIONS = 4;
  let srv: TestServer;
  let smtp: SmtpCatcher;
  let back: SmtpCatcher | undefined;
  let rp: oidc.Configuration;
  let school: Awaited<ReturnType<typeof addSchool>>;

  beforeAll(async () => {
    smtp = await startSmtp();
    srv = await startTestServer({
      env: { SMTP_URL: smtp.url, MAIL_BACKOFF_BASE_SECONDS: '1', MAIL_POLL_SECONDS: '1', MAIL_MAX_ATTEMPTS: '50', JOURNAL_WEB_REDIRECT_URIS: REDIRECT },
    });
    school = await addSchool(srv.db);
    rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  });
  afterAll(async () => {
    await srv?.close();
    await back?.close();
    await smtp?.close().catch(() => undefined);
  });

  /** «Забыли пароль?» for a confirmed address: the page answers at once, the letter comes from the worker. */
  async function recover(email: string): Promise<void> {
    const b = new Browser(srv.url);
    const form = formOf(await (await b.request('/recover')).text(), /\/recover/);
    const res = await b.postForm(form.action, { ...form.fields, email });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Проверьте почту');
  }

  /** A parent logs in and, on «Обновление информации о пользователе», saves the address: a confirmation letter. */
  async function confirm(login: string, password: string, email: string): Promise<void> {
    const b = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: REDIRECT, school: school.slug });
    const page = await openLoginPage(b, started.authUrl);
    const { res } = await submitLogin(b, page.html, login, password);
    const form = formOf(await res.text(), /\/email$/);
    const saved = await b.postForm(form.action, { ...form.fields, action: 'save', password, email });
    expect(saved.status).toBe(303); // on to the app; the letter is on its way
  }

  const to = (address: string) => (m: ParsedMail) => JSON.stringify(m.to).toLowerCase().includes(`"${address}"`);
  const outboxOf = (addresses: string[]) => srv.db('mail_outbox').whereIn('to_address', addresses).select('to_address', 'template', 'status', 'attempts', 'last_error');

  it('letters wait in the outbox while SMTP is gone and each arrives exactly once when it is back', async () => {
    const people = async (kind: 'recover' | 'confirm', n: number) =>
      Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const email = `${kind}${i}@mail.ru`;
          const a = await addAccount(srv.app, school, { login: `${kind}${i}`, kind: 'parent', email, emailVerified: kind === 'recover' });
          return { login: a.login, password: a.password, email };
        }),
      );
    const recovering = await people('recover', RECOVERIES + 1);
    const confirming = await people('confirm', CONFIRMATIONS + 1);

    // While SMTP is up, one of each goes straight out.
    const [r0, ...rs] = recovering;
    const [c0, ...cs] = confirming;
    await recover(r0!.email);
    await confirm(c0!.login, c0!.password, c0!.email);
    await smtp.waitFor(to(r0!.email), 30_000);
    await smtp.waitFor(to(c0!.email), 30_000);

    // SMTP goes away: nothing listens on its port any more.
    const sentWhileUp = smtp.messages.length; // what the SMTP server received before it went
    await smtp.close();
    for (const p of rs) await recover(p.email);
    for (const p of cs) await confirm(p.login, p.password, p.email);
    const waiting = [...rs, ...cs].map((p) => p.email);
    // Each letter is written, tried, and kept with the error for the next attempt.
    const deadline = Date.now() + 30_000;
    let rows = await outboxOf(waiting);
    while (!(rows.length === waiting.length && rows.every((r) => r.attempts >= 1 && r.last_error))) {
      if (Date.now() > deadline) throw new Error(`letters not tried while SMTP was down: ${JSON.stringify(rows)}`);
      await sleep(200);
      rows = await outboxOf(waiting);
    }
    expect(rows.every((r) => r.status === 'pending')).toBe(true);
    const queuedWhileDown = rows.filter((r) => r.status === 'pending' && r.attempts >= 1 && r.last_error).length;
    expect(rows.map((r) => r.template).sort()).toEqual([...Array(CONFIRMATIONS).fill('verify-email'), ...Array(RECOVERIES).fill('recovery')].sort());

    // SMTP is back on the same port: every letter arrives, and only once.
    back = await startSmtp(smtp.port);
    for (const email of waiting) await back.waitFor(to(email), 60_000);
    let sent = await outboxOf([...waiting, r0!.email, c0!.email]);
    const settle = Date.now() + 30_000;
    while (sent.some((r) => r.status !== 'sent') && Date.now() < settle) {
      await sleep(200);
      sent = await outboxOf([...waiting, r0!.email, c0!.email]);
    }
    expect(sent.map((r) => r.status)).toEqual(Array(waiting.length + 2).fill('sent'));
    expect(await srv.app.mail.deliverDue()).toBe(0); // nothing left that could go out again

    const all = [...smtp.messages, ...back.messages];
    const counts = [...recovering, ...confirming].map((p) => all.filter(to(p.email)).length);
    expect(counts).toEqual(Array(counts.length).fill(1));
    recordCounts('faults', {
      'faults.smtp.letters-queued-while-down': queuedWhileDown,
      'faults.smtp.letters-sent-while-up': sentWhileUp,
      'faults.smtp.letters-lost': counts.filter((n) => n === 0).length,
      'faults.smtp.letters-duplicated': counts.filter((n) => n > 1).length,
    });
  }, 120_000);
});
