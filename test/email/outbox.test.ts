/**
 * The mail outbox against a real SMTP server on loopback: letters exist only if their
 * transaction commits, arrive once, wait while SMTP is down, fail visibly after the last attempt,
 * are never sent twice by two nodes, and become .eml files in development without SMTP.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { testConfig, freePort } from '../helpers/app.js';
import { startSmtp, type SmtpCatcher } from '../helpers/smtp.js';
import { createMailer, type Mailer } from '../../src/email/outbox.js';
import { createLogger } from '../../src/server/logger.js';
import { createDb, type Db } from '../../src/db/index.js';
import type { Config } from '../../src/config/index.js';

let testDb: TestDb;
let smtp: SmtpCatcher;

beforeAll(async () => {
  testDb = await createTestDb();
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp?.close();
  await testDb?.close();
});

function mailer(db: Db, env: Record<string, string>, logs?: string[], mail: Partial<Config['mail']> = {}): { mail: Mailer; config: Config } {
  const loaded = testConfig({ MAIL_BACKOFF_BASE_SECONDS: '0', ...env });
  const config = { ...loaded, mail: { ...loaded.mail, ...mail } };
  const logger = logs ? createLogger('debug', {}, (l) => logs.push(l)) : createLogger('silent');
  return { mail: createMailer({ db, config, logger }), config };
}

/** An SMTP server on loopback that misbehaves as told (refuses recipients, hangs on DATA). */
async function oddSmtp(options: SMTPServerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const server = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], logger: false, ...options });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const sentTo = (address: string) => smtp.messages.filter((m) => JSON.stringify(m.to).includes(`"${address}"`));
const rowOf = async (db: Db, address: string) => (await db('mail_outbox').where({ to_address: address }).first()) as Record<string, unknown>;

const letter = (to: string) => ({
  to,
  template: 'guardian-linked' as const,
  locale: 'ru' as const,
  locals: { guardianName: 'Елена Ивановна', childName: 'Петя Кузнецов', className: '2А', schoolName: 'Школа № 1399', newGuardianName: 'Кузнецов Иван' },
});

describe('mail outbox', () => {
  it('a letter exists only if its transaction commits, and arrives once, in Russian, text and HTML', async () => {
    const logs: string[] = [];
    const { mail } = mailer(testDb.db, { SMTP_URL: smtp.url }, logs);
    await testDb.db
      .transaction(async (trx) => {
        await mail.enqueue(trx, letter('rolled-back@mail.ru'));
        throw new Error('the change failed');
      })
      .catch(() => undefined);
    await testDb.db.transaction((trx) => mail.enqueue(trx, letter('elena@mail.ru')));
    expect(await mail.deliverDue()).toBe(1);
    expect(await mail.deliverDue()).toBe(0);
    const got = await smtp.waitFor((m) => m.to !== undefined && JSON.stringify(m.to).includes('elena@mail.ru'));
    expect(got.subject).toBe('К дневнику вашего ребёнка получил доступ ещё один родитель');
    expect(got.text).toContain('Здравствуйте, Елена Ивановна!');
    expect(got.text).toContain('Петя Кузнецов (2А, Школа № 1399)');
    expect(got.html).toContain('Кузнецов Иван');
    expect(smtp.messages.filter((m) => JSON.stringify(m.to).includes('rolled-back'))).toHaveLength(0);
    expect(smtp.messages.filter((m) => JSON.stringify(m.to).includes('elena@mail.ru'))).toHaveLength(1);
    // Logs name the letter and the domain, never the body or the full address.
    const joined = logs.join('\n');
    expect(joined).toContain('mail.ru');
    expect(joined).not.toContain('elena@');
    expect(joined).not.toContain('Кузнецов');
  });

  it('while SMTP refuses, letters wait and count attempts; when it is back they go out', async () => {
    const { mail } = mailer(testDb.db, { SMTP_URL: smtp.url });
    smtp.refuse(true);
    await testDb.db.transaction((trx) => mail.enqueue(trx, letter('waiting@mail.ru')));
    expect(await mail.deliverDue()).toBe(1);
    let [row] = await mail.list({ limit: 1 });
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row!.last_error).toMatch(/451|try again/);
    smtp.refuse(false);
    expect(await mail.deliverDue()).toBe(1);
    [row] = await mail.list({ limit: 1 });
    expect(row).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
    await smtp.waitFor((m) => JSON.stringify(m.to).includes('waiting@mail.ru'));
  });

  it('after the last attempt a letter is failed and visible; an operator can retry it', async () => {
    const deadPort = await freePort(); // nothing listens there
    const { mail, config } = mailer(testDb.db, { SMTP_URL: `smtp://127.0.0.1:${deadPort}`, MAIL_MAX_ATTEMPTS: '2' });
    await testDb.db.transaction((trx) => mail.enqueue(trx, letter('lost@mail.ru')));
    await mail.deliverDue();
    await mail.deliverDue();
    const [failed] = await mail.list({ status: 'failed' });
    expect(failed).toMatchObject({ to_address: 'lost@mail.ru', attempts: 2, status: 'failed' });
    expect(failed!.last_error).toMatch(/ECONNREFUSED|connect/i);
    expect(await mail.deliverDue()).toBe(0);
    expect(config.mail.maxAttempts).toBe(2);
    // The operator fixed SMTP: retry sends it through a working server.
    const { mail: fixed } = mailer(testDb.db, { SMTP_URL: smtp.url });
    expect(await fixed.retry(failed!.id)).toBe(true);
    expect(await fixed.deliverDue()).toBe(1);
    await smtp.waitFor((m) => JSON.stringify(m.to).includes('lost@mail.ru'));
  });

  it('a refused recipient: the error is kept, and stored and logged with the address masked', async () => {
    const bouncer = await oddSmtp({
      onRcptTo: (address, _session, callback) => callback(Object.assign(new Error(`<${address.address}>: no such user`), { responseCode: 550 })),
    });
    try {
      const logs: string[] = [];
      const { mail } = mailer(testDb.db, { SMTP_URL: bouncer.url }, logs);
      await testDb.db.transaction((trx) => mail.enqueue(trx, letter('nobody.here@mail.ru')));
      expect(await mail.deliverDue()).toBe(1);
      const row = await rowOf(testDb.db, 'nobody.here@mail.ru');
      expect(row).toMatchObject({ status: 'pending', attempts: 1 });
      expect(row.last_error).toMatch(/550 .*n\*\*\*@mail\.ru/);
      expect(row.last_error).not.toContain('nobody.here');
      expect(logs.join('\n')).toContain('n***@mail.ru');
      expect(logs.join('\n')).not.toContain('nobody.here');
      await testDb.db('mail_outbox').where({ id: row.id }).update({ status: 'failed' }); // out of the other tests' way
    } finally {
      await bouncer.close();
    }
  });

  it('a node stuck past its lease loses the letter to another node; its late failure changes nothing', async () => {
    let reachedData!: () => void;
    const atData = new Promise<void>((resolve) => (reachedData = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const stuck = await oddSmtp({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => {
          reachedData();
          void released.then(() => callback(Object.assign(new Error('try again later'), { responseCode: 451 })));
        });
      },
    });
    try {
      const a = mailer(testDb.db, { SMTP_URL: stuck.url }, undefined, { leaseSeconds: 1 }).mail;
      const b = mailer(testDb.db, { SMTP_URL: smtp.url }).mail;
      await testDb.db.transaction((trx) => a.enqueue(trx, letter('taken-over@mail.ru')));
      const first = a.deliverDue();
      await atData; // node A is inside the SMTP exchange, as if it had hung or crashed
      expect(await b.deliverDue()).toBe(0); // leased to A
      await new Promise((r) => setTimeout(r, 1200));
      expect(await b.deliverDue()).toBe(1); // the lease ran out: B takes over
      await smtp.waitFor((m) => JSON.stringify(m.to).includes('taken-over@mail.ru'));
      release();
      expect(await first).toBe(1);
      expect(await rowOf(testDb.db, 'taken-over@mail.ru')).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
      expect(await b.deliverDue()).toBe(0);
      expect(sentTo('taken-over@mail.ru')).toHaveLength(1);
    } finally {
      release();
      await stuck.close();
    }
  });

  it('a running worker sends a letter as soon as its transaction commits, not at the next poll', async () => {
    const { mail } = mailer(testDb.db, { SMTP_URL: smtp.url, MAIL_POLL_SECONDS: '3600' });
    const worker = mail.startWorker();
    try {
      await new Promise((r) => setTimeout(r, 300)); // its first round is over; the next poll is an hour away
      await testDb.db.transaction((trx) => mail.enqueue(trx, letter('nudged@mail.ru')));
      await smtp.waitFor((m) => JSON.stringify(m.to).includes('nudged@mail.ru'), 5000);
      expect(sentTo('nudged@mail.ru')).toHaveLength(1);
    } finally {
      worker.stop();
    }
  });

  it('two nodes delivering at once never send a letter twice', async () => {
    // Two pools on one database: a real race on PostgreSQL; PGlite serialises them.
    const second = testDb.url ? createDb({ databaseUrl: testDb.url }) : testDb.db;
    try {
      const a = mailer(testDb.db, { SMTP_URL: smtp.url }).mail;
      const b = mailer(second, { SMTP_URL: smtp.url }).mail;
      await testDb.db.transaction(async (trx) => {
        for (let i = 0; i < 30; i++) await a.enqueue(trx, letter(`race${i}@mail.ru`));
      });
      const [na, nb] = await Promise.all([a.deliverDue(50), b.deliverDue(50)]);
      expect(na + nb).toBe(30);
      for (let i = 0; i < 30; i++) await smtp.waitFor((m) => JSON.stringify(m.to).includes(`race${i}@mail.ru`));
      for (let i = 0; i < 30; i++) expect(sentTo(`race${i}@mail.ru`)).toHaveLength(1);
    } finally {
      if (second !== testDb.db) await second.destroy();
    }
  });

  it('in development without SMTP, letters become .eml files in the data folder', async () => {
    const logs: string[] = [];
    const { mail, config } = mailer(testDb.db, {}, logs);
    await testDb.db.transaction((trx) => mail.enqueue(trx, letter('dev@mail.ru')));
    await mail.deliverDue();
    const dir = path.join(config.dataDir, 'mail');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const eml = fs.readFileSync(path.join(dir, files[0]!), 'utf8');
    expect(eml).toMatch(/^To: dev@mail\.ru$/m);
    expect(mail.describe).toContain(dir);
    expect(logs.join('\n')).toContain('.eml files');
  });

  it('the CLI lists failed letters (address masked) and retries one', async () => {
    const { dataDir } = testConfig();
    const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
    const run = (args: string[]) =>
      spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/cli/main.ts', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, NODE_ENV: 'development', DATA_DIR: dataDir, DEMO: 'false', ...(testDb.url ? { DATABASE_URL: testDb.url } : {}) },
        timeout: 60_000,
      });
    if (!testDb.url) expect(run(['migrate']).status).toBe(0);
    // The command's own database: the per-file PostgreSQL database, or the data folder's PGlite.
    const db = testDb.url ? testDb.db : createDb({ pgliteDir: path.join(dataDir, 'pgdata') });
    const [{ id }] = (await db('mail_outbox')
      .insert({ to_address: 'bounced@mail.ru', from_address: 'a@b.ru', subject: 's', text_body: 't', html_body: 'h', template: 'guardian-linked', status: 'failed', attempts: 8, last_error: '550 no such user' })
      .returning('id')) as { id: number }[];
    if (!testDb.url) await db.destroy();

    const list = run(['mail', 'list', '--failed']);
    expect(list.status).toBe(0);
    const line = list.stdout.split('\n').find((l) => l.startsWith(`${id}\t`))!;
    expect(line).toContain('failed');
    expect(line).toContain('550 no such user');
    expect(line).toContain('b***@mail.ru');
    expect(line).not.toContain('bounced@');
    const retry = run(['mail', 'retry', String(id)]);
    expect([retry.status, retry.stdout]).toEqual([0, expect.stringContaining('queued again')]);
    expect(run(['mail', 'retry', String(id)]).status).toBe(1); // not failed any more
    expect(run(['mail', 'retry', 'abc']).status).toBe(2);
  });
});
