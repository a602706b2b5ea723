/**
 * The plans of the statements the hot paths send (issue 8, part 3): each operation runs once
 * through the project's own functions (adapter-queries, accounts, throttle, claims, purge) inside
 * a transaction that is rolled back, with knex's query events recorded; every statement it sent
 * is then run again as EXPLAIN (ANALYZE, BUFFERS), each in a rolled-back transaction of its own.
 * One line per statement: the operation, the statement, the plan's scans, the time and the pages
 * it touched. Flagged: a sequential scan of a table of more than LARGE rows, and a statement that
 * touches more than WIDE pages (a whole index read for want of a leading column costs as much as
 * a scan); on a hot path either makes the exit status 1. Nothing is left changed.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a journal-id database> node --import tsx bench/explain.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/explain.ts --seed-users 1000000
 *       the second: a database of its own on that server, loaded as `npm run bench -- --seed-users N`
 *       does (seed.ts, then seed-bulk.ts: minutes for a million), explained, then dropped
 *   --verbose   the whole plans too
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDb, type Db } from '../src/db/index.js';
import * as q from '../src/oidc/adapter-queries.js';
import { purgeOnce } from '../src/oidc/purge.js';
import { findAccountById, findAccountByLogin, recordLogin } from '../src/accounts/queries.js';
import { childrenOf } from '../src/accounts/guardianships.js';
import { findPersonById } from '../src/roster/queries.js';
import { approvingSchools } from '../src/clients/approvals.js';
import { findSchoolBySlug } from '../src/schools/queries.js';
import { hasConfirmedTotp } from '../src/mfa/queries.js';
import { createThrottle, loginKeys, type Policy } from '../src/throttle/throttle.js';
import { listSignedIn } from '../src/account/signed-in.js';
import type { AppContext } from '../src/server/context.js';
import { startJournalId } from './servers/journal-id.js';

/** Rows from which a sequential scan counts as one on a large table. */
const LARGE = 10_000;
/** Pages (8 kB) a keyed statement stays far below: a lookup or a small change touches tens. */
const WIDE = 1_000;

const { values } = parseArgs({ options: { 'seed-users': { type: 'string' }, verbose: { type: 'boolean', default: false } } });
const log = (line: string) => process.stderr.write(`explain: ${line}\n`);
if (!process.env.DATABASE_URL) {
  log('set DATABASE_URL (PostgreSQL): a journal-id database, or with --seed-users N the server to load one on');
  process.exit(2);
}
const seedUsers = Number(values['seed-users'] ?? 0);
const jid = seedUsers ? await startJournalId(process.env.DATABASE_URL, 1, { seedUsers, log }) : undefined;
await jid?.stop(); // only its database is wanted
const url = jid?.databaseUrl ?? process.env.DATABASE_URL;

interface Statement {
  sql: string;
  bindings: unknown[];
}
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Alias?: string;
  Plans?: PlanNode[];
}

const db: Db = createDb({ databaseUrl: url, poolMax: 1 });
const client = new pg.Client({ connectionString: url });
let flagged = 0;
try {
  await client.connect();
  const one = async <T>(sql: string): Promise<T> => {
    const { rows } = await client.query(sql);
    if (!rows[0]) throw new Error(`explain: nothing found by ${sql} (is the database seeded?)`);
    return rows[0] as T;
  };
  const sizes = new Map((await client.query<{ relname: string; n: number }>(`select relname, reltuples::float8 as n from pg_class where relkind = 'r'`)).rows.map((r) => [r.relname, r.n]));
  log(`oidc_models ≈ ${Math.round(sizes.get('oidc_models') ?? 0).toLocaleString('en')} rows, users ≈ ${Math.round(sizes.get('users') ?? 0).toLocaleString('en')}`);

  // Keys that exist, picked at random among the live rows (a sample of pages, not a scan).
  const live = `expires_at > now() + interval '5 minutes'`;
  const refresh = await one<{ id: string; grant_id: string; account_id: string }>(`select id, grant_id, account_id from oidc_models tablesample system (1) where model = 'RefreshToken' and consumed_at is null and ${live} limit 1`);
  const access = await one<{ id: string }>(`select id from oidc_models tablesample system (1) where model = 'AccessToken' and ${live} limit 1`);
  const session = await one<{ id: string; uid: string; account_id: string }>(`select id, uid, account_id from oidc_models tablesample system (1) where model = 'Session' and ${live} limit 1`);
  const interaction = await one<{ id: string }>(`select id from oidc_models tablesample system (1) where model in ('Interaction', 'Session') and ${live} order by model limit 1`);
  const parent = await one<{ id: string; login: string; school_id: string; slug: string }>(`select u.id, u.login, u.school_id, s.slug from users u tablesample system (1) join schools s on s.id = u.school_id where u.kind = 'parent' limit 1`);
  const pupil = await one<{ id: string; person_id: string }>(`select id, person_id from users tablesample system (1) where kind = 'student' and person_id is not null limit 1`);

  const policy: Policy = { free: 5, baseDelaySeconds: 1, maxDelaySeconds: 900, forgetAfterSeconds: 86_400 };
  const keys = loginKeys(parent.school_id, parent.login, '203.0.113.7');
  const newId = () => randomBytes(32).toString('base64url');
  const tokenPayload = { grantId: refresh.grant_id, accountId: refresh.account_id, clientId: 'bench-rp', scope: 'openid offline_access' };

  // [hot path?, operation, what it does through the project's code]
  const operations: [boolean, string, (trx: Db) => Promise<unknown>][] = [
    [true, 'adapter find (refresh, userinfo)', (t) => q.find(t, 'RefreshToken', refresh.id)],
    [true, 'adapter findAmong (introspection)', (t) => q.findAmong(t, ['AccessToken', 'ClientCredentials', 'RefreshToken'], access.id)],
    [true, 'adapter upsert (new access token)', (t) => q.upsert(t, 'AccessToken', newId(), tokenPayload, 3600)],
    [true, 'adapter upsert + consume (rotation)', (t) => q.upsert(t, 'RefreshToken', newId(), tokenPayload, 30 * 86400, refresh.id)],
    [true, 'adapter consume', (t) => q.consume(t, 'RefreshToken', refresh.id)],
    [true, 'adapter findByUid (session)', (t) => q.findByUid(t, 'Session', session.uid)],
    [true, 'adapter findByUserCode (device)', (t) => q.findByUserCode(t, 'DeviceCode', 'BCDF-GHJK')],
    [true, 'adapter revokeByGrantId', (t) => q.revokeByGrantId(t, 'RefreshToken', refresh.grant_id)],
    [true, 'adapter destroy', (t) => q.destroy(t, 'Interaction', interaction.id)],
    [true, 'adapter revokeGrant (code reuse)', (t) => q.revokeGrant(t, refresh.grant_id)],
    [true, 'login school by slug', (t) => findSchoolBySlug(t, parent.slug)],
    [true, 'login account by login', (t) => findAccountByLogin(t, parent.school_id, parent.login.toUpperCase())],
    [true, 'login throttle take', (t) => createThrottle(t).take([{ key: keys.account, policy }, { key: keys.addressLogin, policy }, { key: keys.address, policy }])],
    [true, 'login throttle succeed', (t) => createThrottle(t).succeed(keys.account)],
    [true, 'login throttle refund', (t) => createThrottle(t).refund(keys.address, policy)],
    [true, 'login record', (t) => recordLogin(t, parent.id)],
    [true, 'login second factor?', (t) => hasConfirmedTotp(t, parent.id)],
    [true, 'claims account by id', (t) => findAccountById(t, session.account_id)],
    [true, "claims pupil's roster entry", (t) => findPersonById(t, pupil.person_id)],
    [true, "claims parent's children", (t) => childrenOf(t, parent.id)],
    [true, 'claims school approvals', (t) => approvingSchools(t, 'bench-rp', [parent.school_id])],
    [false, 'account sessions (findByAccountId)', (t) => q.findByAccountId(t, 'Session', session.account_id)],
    // Only the database of the app: its clients are not looked up for a list no one renders.
    [false, 'account page: signed-in apps', (t) => listSignedIn({ db: t, oidc: { provider: { Client: { find: async () => undefined } } } } as unknown as AppContext, refresh.account_id)],
    [false, 'end sessions (destroyByAccountId)', (t) => q.destroyByAccountId(t, session.account_id)],
    [false, 'operator unlock login', (t) => createThrottle(t).unlockLogin(parent.school_id, parent.login)],
    [false, 'purge (every node, periodic)', (t) => purgeOnce(t)],
  ];

  const recorded: Statement[] = [];
  db.on('query', (e: { sql: string; bindings?: unknown[] }) => {
    if (/^\s*(select|insert|update|delete|with)\b/i.test(e.sql)) recorded.push({ sql: e.sql, bindings: e.bindings ?? [] });
  });
  class Rollback extends Error {}

  const scans = (n: PlanNode): string[] => {
    // A bitmap index scan names its index only: the heap scan above it names the table.
    const here = !/Scan/.test(n['Node Type']) ? []
      : n['Relation Name'] ? [`${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''} on ${n['Relation Name']}${n.Alias && n.Alias !== n['Relation Name'] ? ` ${n.Alias}` : ''}`]
      : n['Index Name'] ? [`${n['Node Type']} of ${n['Index Name']}`]
      : [];
    return [...here, ...(n.Plans ?? []).flatMap(scans)];
  };
  const seqOnLarge = (n: PlanNode): string[] => [
    ...(n['Node Type'] === 'Seq Scan' && (sizes.get(n['Relation Name']!) ?? 0) > LARGE ? [n['Relation Name']!] : []),
    ...(n.Plans ?? []).flatMap(seqOnLarge),
  ];

  for (const [hot, name, run] of operations) {
    recorded.length = 0;
    await db.transaction(async (trx) => {
      await run(trx);
      throw new Rollback();
    }).catch((err) => {
      if (!(err instanceof Rollback)) throw err;
    });
    const statements = [...recorded];
    for (const s of statements) {
      await client.query('begin');
      try {
        const { rows } = await client.query(`explain (analyze, buffers, format json) ${s.sql}`, s.bindings);
        const top = (rows[0]['QUERY PLAN'] as { Plan: PlanNode & { 'Shared Hit Blocks': number; 'Shared Read Blocks': number }; 'Execution Time': number }[])[0]!;
        const pages = top.Plan['Shared Hit Blocks'] + top.Plan['Shared Read Blocks'];
        const flag = seqOnLarge(top.Plan).length ? 'SEQ SCAN' : pages > WIDE ? 'WIDE' : '';
        if (flag && hot) flagged++;
        const nodes = scans(top.Plan);
        process.stdout.write(
          `${(hot ? flag : flag.toLowerCase()).padEnd(10)}${name}: ${s.sql.replace(/\s+/g, ' ').slice(0, 110)}\n` +
          `          → ${nodes.length ? [...new Set(nodes)].join('; ') : top.Plan['Node Type']}  (${top['Execution Time'].toFixed(2)} ms, ${pages} pages: hit ${top.Plan['Shared Hit Blocks']}, read ${top.Plan['Shared Read Blocks']})\n`,
        );
        if (values.verbose) {
          const text = await client.query(`explain (analyze, buffers) ${s.sql}`, s.bindings);
          process.stdout.write(text.rows.map((r) => `            ${r['QUERY PLAN']}`).join('\n') + '\n');
        }
      } finally {
        await client.query('rollback');
      }
    }
  }
  const rule = `a sequential scan of a table of more than ${LARGE.toLocaleString('en')} rows or more than ${WIDE.toLocaleString('en')} pages touched`;
  log(flagged ? `${flagged} hot-path statement(s) flagged (${rule})` : `no hot-path statement flagged (${rule})`);
} finally {
  await client.end().catch(() => {});
  await db.destroy();
  await jid?.close();
}
process.exitCode = flagged ? 1 : 0;
