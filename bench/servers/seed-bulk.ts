/**
 * `npm run bench -- --seed-users N` (issue 8, part 3): a database the size of a region before the
 * server starts — N more accounts in schools of 1,000 (56 % pupils with their roster entry, 40 %
 * parents linked to a pupil, 4 % staff with theirs), 5 × N live oidc_models rows shaped and sized
 * as the adapter writes them (per account a session, a grant, a refresh token, an access token, and
 * one more: a rotated refresh token, a second access token, an interaction or a redeemed code), the
 * device of each grant (grant_devices), and N / 100 throttle counters of other addresses. Runs
 * after seed.ts, on PostgreSQL only.
 *
 * Fast on purpose: every row goes through COPY FROM STDIN into the real tables, every constraint
 * and foreign key checked; the indexes of users and oidc_models are dropped for the load and built
 * again from the catalog's own definitions (withIndexesRebuilt). Every account gets the one
 * argon2id hash seed.ts made for the bench's own students (the project's code at the project's
 * parameters), so each one can log in with the bench's password. Then VACUUM (ANALYZE): the
 * planner sees the sizes, and the freshly loaded pages are not left for autovacuum and hint-bit
 * writes to redo during the measured runs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export const SCHOOL_SIZE = 1000;
export const MODELS_PER_USER = 5;
/** Seconds every seeded oidc row has still to live when the load starts. */
const MIN_LEFT = 3600;

export interface BulkSeeded {
  users: number;
  schools: number;
  people: number;
  guardianships: number;
  oidcModels: number;
  grantDevices: number;
  throttle: number;
  seconds: number;
}

// ——— data that looks like a Russian school's ———

const SURNAMES = ['Иванов', 'Смирнов', 'Кузнецов', 'Попов', 'Васильев', 'Петров', 'Соколов', 'Михайлов', 'Новиков', 'Фёдоров', 'Морозов', 'Волков', 'Алексеев', 'Лебедев', 'Семёнов', 'Егоров', 'Павлов', 'Козлов', 'Степанов', 'Николаев', 'Орлов', 'Андреев', 'Макаров', 'Никитин', 'Захаров', 'Зайцев', 'Соловьёв', 'Борисов', 'Яковлев', 'Григорьев'];
const MALE = ['Александр', 'Максим', 'Иван', 'Артём', 'Дмитрий', 'Никита', 'Михаил', 'Даниил', 'Егор', 'Андрей', 'Кирилл', 'Илья', 'Сергей', 'Алексей', 'Роман'];
const FEMALE = ['Анастасия', 'Мария', 'Анна', 'Виктория', 'Екатерина', 'Наталья', 'Марина', 'Полина', 'София', 'Дарья', 'Алиса', 'Ксения', 'Елена', 'Ольга', 'Татьяна'];
const PATRONYMICS_M = ['Александрович', 'Сергеевич', 'Дмитриевич', 'Андреевич', 'Алексеевич', 'Иванович', 'Михайлович', 'Владимирович'];
const PATRONYMICS_F = ['Александровна', 'Сергеевна', 'Дмитриевна', 'Андреевна', 'Алексеевна', 'Ивановна', 'Михайловна', 'Владимировна'];
const REGIONS = ['Москва', 'Санкт-Петербург', 'Московская область', 'Свердловская область', 'Новосибирская область', 'Республика Татарстан', 'Краснодарский край', 'Нижегородская область', 'Самарская область', 'Ростовская область', 'Челябинская область', 'Республика Башкортостан', 'Пермский край', 'Воронежская область', 'Красноярский край', 'Омская область'];
const LETTERS = ['А', 'Б', 'В', 'Г'];
const POSITIONS = ['учитель математики', 'учитель русского языка', 'учитель физики', 'учитель начальных классов', 'учитель истории', 'заместитель директора'];
const CLIENTS = ['journal-web', 'diary-app', 'teacher-app'];
const DEVICES = ['Chrome, Android', 'Safari, iOS', 'Яндекс Браузер, Windows', 'Chrome, Windows', 'Safari, macOS', 'Firefox, Linux'];

const TRANSLIT: Record<string, string> = { а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y', к: 'k', л: 'l', м: 'm', н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya' };
const translit = (s: string) => [...s.toLowerCase()].map((c) => TRANSLIT[c] ?? c).join('');
const pick = <T>(list: readonly T[], n: number): T => list[n % list.length]!;
const feminine = (surname: string) => (surname.endsWith('ий') ? surname : `${surname}а`);

type Kind = 'student' | 'parent' | 'staff';
/** 1 in 25 is staff, 10 in 25 parents, the rest pupils. */
const kindAt = (j: number): Kind => (j % 25 === 0 ? 'staff' : j % 25 <= 10 ? 'parent' : 'student');

// ——— COPY text format ———

/** A field of COPY's text format: \N for null; backslash, tab and line breaks escaped. */
function field(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  const s = String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : s;
}
const line = (fields: (string | number | null | undefined)[]) => fields.map(field).join('\t') + '\n';

/** 43-character base64url ids, as oidc-provider makes them (32 random bytes), from a pool. */
function idMaker(): () => string {
  let pool = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 32 > pool.length) {
      pool = randomBytes(32 * 16384);
      at = 0;
    }
    at += 32;
    return pool.toString('base64url', at - 32, at);
  };
}

/**
 * Streams `rows()` into `table` with COPY; a generator yields one row (a line) at a time and the
 * text goes out in chunks of about 1 MB, waiting whenever the socket is full.
 */
async function copyRows(client: pg.Client, table: string, columns: string[], total: number, rows: Iterable<string>, log: (l: string) => void): Promise<number> {
  const t0 = performance.now();
  const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  done.catch(() => {}); // awaited below; marked handled so an early failure is not an unhandled rejection
  let chunk: string[] = [];
  let size = 0;
  let n = 0;
  let nextReport = total / 10;
  for (const row of rows) {
    chunk.push(row);
    size += row.length;
    n++;
    if (size >= 1 << 20) {
      if (!stream.write(chunk.join(''))) await Promise.race([once(stream, 'drain'), done]);
      chunk = [];
      size = 0;
    }
    if (n >= nextReport && total >= 100_000) {
      log(`seeding ${table}: ${n.toLocaleString('en')}/${total.toLocaleString('en')} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      nextReport += total / 10;
    }
  }
  stream.end(chunk.join(''));
  await done;
  return n;
}

interface IndexDef {
  name: string;
  /** `pg_get_indexdef`, or the constraint's definition when a constraint owns the index. */
  def: string;
  constraint: boolean;
}

async function indexesOf(client: pg.Client, table: string): Promise<IndexDef[]> {
  const { rows } = await client.query<IndexDef & { referenced: boolean }>(
    `select ci.relname as name, coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(i.indexrelid)) as def, c.oid is not null as constraint,
            exists (select 1 from pg_constraint f where f.contype = 'f' and f.conindid = i.indexrelid) as referenced
       from pg_index i join pg_class ci on ci.oid = i.indexrelid
       left join pg_constraint c on c.conindid = i.indexrelid and c.contype in ('p', 'u', 'x')
      where i.indrelid = $1::regclass order by 1`,
    [table],
  );
  // An index a foreign key relies on stays (dropping it would mean dropping the key).
  return rows.filter((r) => !r.referenced).map(({ name, def, constraint }) => ({ name, def, constraint }));
}

/**
 * Runs `load` with the table's indexes dropped and builds them again afterwards, in one
 * transaction, from the catalog's own definitions, and checks they came back the same: random
 * keys inserted one by one into indexes larger than shared_buffers made the load of oidc_models
 * take several times longer than the sort of a CREATE INDEX. Indexes a foreign key uses stay.
 */
async function withIndexesRebuilt<T>(client: pg.Client, table: string, log: (l: string) => void, load: () => Promise<T>): Promise<T> {
  const before = await indexesOf(client, table);
  await client.query('begin');
  try {
    for (const ix of before) await client.query(ix.constraint ? `alter table ${table} drop constraint ${ix.name}` : `drop index ${ix.name}`);
    const result = await load();
    const t0 = performance.now();
    // Session settings only: a quicker sort, nothing changed on the server.
    await client.query(`set local maintenance_work_mem = '512MB'`);
    for (const ix of before) await client.query(ix.constraint ? `alter table ${table} add constraint ${ix.name} ${ix.def}` : ix.def);
    const after = await indexesOf(client, table);
    if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error(`seed-bulk: the indexes of ${table} did not come back the same`);
    await client.query('commit');
    log(`seeding ${table}: ${before.length} indexes built in ${((performance.now() - t0) / 1000).toFixed(0)} s (${before.map((i) => i.name).join(', ')})`);
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
}

interface School {
  id: string;
  number: string;
  size: number;
  /** Per member: account id, roster person id (pupils and staff), kind, login. */
  users: string[];
  persons: (string | null)[];
  logins: string[];
}

/**
 * Loads `users` accounts and 5 × `users` oidc rows into the database at `databaseUrl`, which
 * seed.ts has migrated and seeded (its students' hash is reused).
 */
export async function seedBulk(databaseUrl: string, users: number, log: (line: string) => void): Promise<BulkSeeded> {
  const t0 = performance.now();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // The bench's own students were hashed by the project's code at the project's parameters.
    const { rows: [seeded] } = await client.query<{ password_hash: string }>(`select password_hash from users where login like 'bench.student%' limit 1`);
    if (!seeded) throw new Error('seed-bulk: no bench student to take the password hash from (run seed.ts first)');
    const hash = seeded.password_hash;
    const nextId = idMaker();
    const now = Date.now();
    const nowS = Math.floor(now / 1000);
    const iso = (epochS: number) => new Date(epochS * 1000).toISOString();

    // Schools and every member's ids, first: the other tables refer to them.
    const schools: School[] = [];
    for (let k = 0, left = users; left > 0; k++, left -= SCHOOL_SIZE) {
      const size = Math.min(SCHOOL_SIZE, left);
      const s: School = { id: randomUUID(), number: String(2000 + k), size, users: [], persons: [], logins: [] };
      for (let j = 0; j < size; j++) {
        s.users.push(randomUUID());
        s.persons.push(kindAt(j) === 'parent' ? null : randomUUID());
      }
      schools.push(s);
    }
    log(`seeding ${users.toLocaleString('en')} users in ${schools.length} schools, ${(users * MODELS_PER_USER).toLocaleString('en')} oidc_models rows`);

    await copyRows(client, 'schools', ['id', 'number', 'name', 'region', 'slug'], schools.length,
      (function* () {
        for (const [k, s] of schools.entries()) yield line([s.id, s.number, `Школа № ${s.number}`, pick(REGIONS, k), `school-${s.number}`]);
      })(), log);

    // Names and birth dates are a function of the member's place, so every table agrees.
    const person = (k: number, j: number) => {
      const n = k * 7919 + j * 31;
      const male = (n >> 3) % 2 === 0;
      const surname = pick(SURNAMES, n >> 1);
      return {
        last: male ? surname : feminine(surname),
        first: male ? pick(MALE, n >> 4) : pick(FEMALE, n >> 4),
        middle: male ? pick(PATRONYMICS_M, n >> 2) : pick(PATRONYMICS_F, n >> 2),
        grade: 1 + (j % 11),
      };
    };
    const pad = (n: number) => String(n).padStart(2, '0');

    let people = 0;
    people = await copyRows(client, 'people',
      ['id', 'school_id', 'kind', 'staff_role', 'last_name', 'first_name', 'middle_name', 'birth_date', 'class_name', 'position', 'external_id'],
      Math.round(users * 0.6),
      (function* () {
        for (const [k, s] of schools.entries()) {
          for (let j = 0; j < s.size; j++) {
            const kind = kindAt(j);
            if (kind === 'parent') continue;
            const p = person(k, j);
            yield kind === 'student'
              ? line([s.persons[j], s.id, 'student', null, p.last, p.first, p.middle, `${2019 - p.grade}-${pad(1 + (j % 12))}-${pad(1 + (j % 28))}`, `${p.grade}${pick(LETTERS, j >> 4)}`, null, String(100000 + j)])
              : line([s.persons[j], s.id, 'staff', j % 100 === 0 ? 'administration' : 'teacher', p.last, p.first, p.middle, `${1965 + (j % 30)}-${pad(1 + (j % 12))}-${pad(1 + (j % 28))}`, null, pick(POSITIONS, j >> 2), String(100000 + j)]);
          }
        }
      })(), log);

    // Login: surname.initial + the member's number, unique in the school (as pupils pick them).
    await withIndexesRebuilt(client, 'users', log, () => copyRows(client, 'users',
      ['id', 'school_id', 'login', 'password_hash', 'kind', 'last_name', 'first_name', 'middle_name', 'birth_date', 'email', 'email_verified_at', 'phone', 'password_changed_at', 'last_login_at', 'person_id'],
      users,
      (function* () {
        for (const [k, s] of schools.entries()) {
          for (let j = 0; j < s.size; j++) {
            const kind = kindAt(j);
            const p = person(k, j);
            const login = `${translit(p.last)}.${translit(p.first)[0]}${j}`;
            s.logins.push(login);
            const birth = kind === 'student' ? `${2019 - p.grade}-${pad(1 + (j % 12))}-${pad(1 + (j % 28))}` : `${1965 + (j % 30)}-${pad(1 + (j % 12))}-${pad(1 + (j % 28))}`;
            // Parents must give an email; a third of pupils do; most confirm it.
            const email = kind === 'parent' || j % 3 === 0 ? `${login}.${s.number}@mail.example` : null;
            const phone = kind !== 'student' && j % 2 === 0 ? `+79${String(100000000 + k * 1000 + j).slice(-9)}` : null;
            const since = nowS - 86400 * (1 + ((k + j) % 700));
            yield line([s.users[j], s.id, login, hash, kind, p.last, p.first, p.middle, birth, email, email && j % 4 ? iso(since) : null, phone, iso(since), iso(nowS - 3600 * (1 + (j % 500))), s.persons[j]]);
          }
        }
      })(), log));

    // Each parent: one pupil of the same school (the next one in the list).
    const guardianships = await copyRows(client, 'guardianships', ['user_id', 'person_id'], Math.round(users * 0.4),
      (function* () {
        for (const s of schools) {
          for (let j = 0; j < s.size; j++) {
            if (kindAt(j) !== 'parent') continue;
            let c = j + 1;
            while (c < s.size && kindAt(c) !== 'student') c++;
            if (c >= s.size) for (c = 0; c < s.size && kindAt(c) !== 'student'; c++);
            if (c < s.size) yield line([s.users[j], s.persons[c]]);
          }
        }
      })(), log);

    // oidc_models, as the adapter fills the columns (adapter-queries.ts: upsert). Lifetimes are the
    // provider's (session 14 d, grant 180 d, refresh 30 d, access 1 h, interaction 1 h, code 60 s),
    // each row somewhere inside its own, but never under MIN_LEFT to go, so all stay live for a run.
    const left = (ttl: number, n: number) => Math.max(MIN_LEFT, Math.floor(ttl * ((Math.imul(n, 0x9e3779b1) >>> 0) / 2 ** 32)));
    const row = (model: string, id: string, payload: Record<string, unknown>, expiresIn: number, consumed: number | null = null) =>
      line([model, id, JSON.stringify({ ...payload, kind: model, jti: id }), (payload.grantId as string) ?? null, null, (payload.uid as string) ?? null, (payload.accountId as string) ?? null, iso(nowS + expiresIn), consumed === null ? null : iso(consumed)]);
    const grants: string[] = [];
    const oidcModels = await withIndexesRebuilt(client, 'oidc_models', log, () => copyRows(client, 'oidc_models',
      ['model', 'id', 'payload', 'grant_id', 'user_code', 'uid', 'account_id', 'expires_at', 'consumed_at'],
      users * MODELS_PER_USER,
      (function* () {
        let i = 0;
        for (const s of schools) {
          for (let j = 0; j < s.size; j++, i++) {
            const accountId = s.users[j]!;
            const clientId = kindAt(j) === 'staff' ? pick(CLIENTS, 2 * (j & 1)) : pick(CLIENTS, j & 1);
            const grantId = nextId();
            grants.push(grantId);
            const sessionUid = nextId();
            const scope = 'openid offline_access profile';
            const grantLeft = left(180 * 86400, i);
            const sessionLeft = left(14 * 86400, i + 1);
            const refreshLeft = left(30 * 86400, i + 2);
            const accessLeft = left(3600, i + 3);
            const authTime = nowS + sessionLeft - 14 * 86400;
            const acr = { acr: 'urn:journal:pwd', amr: ['pwd'] };
            yield row('Session', nextId(), { ...acr, exp: nowS + sessionLeft, iat: authTime, uid: sessionUid, loginTs: authTime, accountId, transient: true, authorizations: { [clientId]: { sid: nextId(), grantId, persistsLogout: true } } }, sessionLeft);
            yield row('Grant', grantId, { exp: nowS + grantLeft, iat: nowS + grantLeft - 180 * 86400, openid: { scope }, clientId, accountId }, grantLeft);
            const refresh = { ...acr, gty: 'authorization_code refresh_token', iiat: authTime, nonce: nextId().slice(0, 16), scope, grantId, authTime, clientId, accountId, sessionUid };
            yield row('RefreshToken', nextId(), { ...refresh, exp: nowS + refreshLeft, iat: nowS + refreshLeft - 30 * 86400, rotations: 1 + (j % 20) }, refreshLeft);
            const access = { gty: 'authorization_code refresh_token', scope, grantId, clientId, accountId, sessionUid };
            yield row('AccessToken', nextId(), { ...access, exp: nowS + accessLeft, iat: nowS + accessLeft - 3600 }, accessLeft);
            switch (i % 5) {
              case 0:
              case 1: { // the refresh token this one replaced: consumed, kept until it expires
                const oldLeft = Math.max(MIN_LEFT, refreshLeft - 3600);
                yield row('RefreshToken', nextId(), { ...refresh, exp: nowS + oldLeft, iat: nowS + oldLeft - 30 * 86400, rotations: j % 20 }, oldLeft, nowS + refreshLeft - 30 * 86400);
                break;
              }
              case 2: { // one more access token of the same grant, a little older
                const oldLeft = Math.max(MIN_LEFT, accessLeft - 600);
                yield row('AccessToken', nextId(), { ...access, exp: nowS + oldLeft, iat: nowS + oldLeft - 3600 }, oldLeft);
                break;
              }
              case 3: { // a login page left open
                const uid = nextId();
                yield row('Interaction', uid, {
                  cid: nextId(), exp: nowS + accessLeft, iat: nowS + accessLeft - 3600,
                  params: { nonce: nextId().slice(0, 16), scope, state: nextId().slice(0, 16), school: `school-${s.number}`, client_id: clientId, redirect_uri: `https://${clientId}.journal.example/cb`, response_type: 'code', code_challenge: nextId(), code_challenge_method: 'S256' },
                  prompt: { name: 'login', details: {}, reasons: ['no_session'] },
                  returnTo: `https://id.journal.example/auth/${uid}`,
                }, accessLeft);
                break;
              }
              default: // a code already exchanged for the tokens above (the payload as issued)
                yield row('AuthorizationCode', nextId(), { ...acr, exp: nowS + 60, iat: authTime, nonce: refresh.nonce, scope, grantId, authTime, clientId, accountId, sessionUid, redirectUri: `https://${clientId}.journal.example/cb`, codeChallenge: nextId(), codeChallengeMethod: 'S256' }, MIN_LEFT, authTime + 2);
            }
          }
        }
      })(), log));

    // The browser of each app sign-in (consent/routes.ts writes one per grant; the account page
    // lists them; they go with their grant, migration 014).
    let g = 0;
    const grantDevices = await copyRows(client, 'grant_devices', ['grant_id', 'account_id', 'device'], grants.length,
      (function* () {
        for (const s of schools) for (let j = 0; j < s.size; j++, g++) yield line([grants[g], s.users[j], pick(DEVICES, g >> 2)]);
      })(), log);

    // Failure counters of other people (never 127.0.0.1, the bench's own address): an account,
    // an (address, account) and an address each, some of them waiting.
    const throttleRows = Math.floor(users / 100);
    const throttle = await copyRows(client, 'throttle', ['key', 'count', 'last_at', 'blocked_until'], throttleRows,
      (function* () {
        for (let t = 0; t < throttleRows; t++) {
          // A distinct (school, member) per row: the keys are the primary key.
          const s = schools[t % schools.length]!;
          const j = Math.floor(t / schools.length) % s.size;
          const addr = `10.${(t >> 16) & 255}.${(t >> 8) & 255}.${t & 255}`;
          const key = [`login:acct:${s.id}:${s.logins[j]}`, `login:ipacct:${addr}:${s.id}:${s.logins[j]}`, `login:ip:${addr}`][t % 3];
          const count = 1 + (t % 7);
          const last = nowS - (t % 86400);
          yield line([key, count, iso(last), count > 5 ? iso(last + 60 * (count - 5)) : null]);
        }
      })(), log);

    const t1 = performance.now();
    log(`seeding: loaded in ${((t1 - t0) / 1000).toFixed(0)} s; vacuum (analyze)`);
    for (const table of ['schools', 'people', 'users', 'guardianships', 'oidc_models', 'grant_devices', 'throttle']) await client.query(`vacuum (analyze) ${table}`);
    const seconds = Math.round((performance.now() - t0) / 1000);
    log(`seeding: done in ${seconds} s (vacuum ${((performance.now() - t1) / 1000).toFixed(0)} s)`);
    return { users, schools: schools.length, people, guardianships, oidcModels, grantDevices, throttle, seconds };
  } finally {
    await client.end();
  }
}
