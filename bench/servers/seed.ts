/**
 * Seeds what the bench needs into journal-id's database, through the project's own layer (the
 * CLI's code paths): a school, students with a known password (the count is the argument), and a first-party confidential
 * client allowed the code, refresh and client_credentials grants, and (second argument) as many
 * pupils on the roster with an unused student invite code each, for the registration scenario. Run as a process of its own
 * (the embedded database admits one process at a time), before the server; prints one JSON line.
 */
import { cliAudit } from '../../src/audit/bound.js';
import { loadConfig } from '../../src/config/index.js';
import { withApp } from '../../src/cli/commands.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { openDb } from '../../src/server/bootstrap.js';
import { addSchool } from '../../src/schools/add.js';
import { createAccount } from '../../src/accounts/create.js';
import { registerClient } from '../../src/clients/manage.js';
import { insertPerson, type Person } from '../../src/roster/queries.js';
import { issueInvites } from '../../src/invites/issue.js';

const BENCH_PASSWORD = 'Sirius2026load';
/** Roster names as the field rules take them (letters only: «Ученик12» is refused at registration). */
const PUPIL_NAMES = ['Анна', 'Борис', 'Вера', 'Глеб', 'Дарья', 'Егор', 'Жанна', 'Захар', 'Ирина', 'Кирилл'];
const BENCH_REDIRECT = 'https://rp.bench.invalid/cb';

const students = Number(process.argv[2] ?? 16);
const registrations = Number(process.argv[3] ?? 0);
const config = loadConfig();
const db = openDb(config);
await migrateLatest(db);
await db.destroy();

await withApp(config, async (app) => {
  const cli = cliAudit(app.db);
  const school = await addSchool(app.db, { number: '1001', name: 'Школа № 1001', region: 'Бенчмарк', slug: 'bench' }, cli);
  // One student per connection: concurrent logins to one account would trip its throttle.
  const logins = Array.from({ length: students }, (_, i) => `bench.student${i + 1}`);
  for (const login of logins) {
    await createAccount(app.db, app.passwords, { schoolId: school.id, login, password: BENCH_PASSWORD, kind: 'student', lastName: 'Нагрузкин', firstName: 'Тест' }, cliAudit(app.db));
  }
  // Pupils on the roster, each with a printed student code, as a curator's invitation sheet gives.
  const inviteCodes: string[] = [];
  if (registrations > 0) {
    const people: Person[] = [];
    for (let i = 0; i < registrations; i++) {
      people.push(await insertPerson(app.db, school.id, {
        kind: 'student', staffRole: null, lastName: 'Регистров', firstName: PUPIL_NAMES[i % PUPIL_NAMES.length]!, middleName: null,
        birthDate: '2013-04-05', className: '7Б', position: null, snils: null, phone: null, externalId: null,
      }));
    }
    const { issued } = await app.db.transaction((trx) =>
      issueInvites(
        trx,
        { pepper: app.config.secrets.invitePepper, codeLength: app.config.invites.codeLength, maxParentsPerChild: app.config.invites.maxParentsPerChild },
        { schoolId: school.id, people, studentCodes: 1, parentCodes: 0, expiresAt: null, by: cliAudit(trx) },
      ),
    );
    inviteCodes.push(...issued.map((i) => i.code));
  }
  const { client, secret } = await registerClient(
    app,
    {
      client_id: 'bench-rp',
      client_name: 'Bench RP',
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [BENCH_REDIRECT],
      scope: 'openid offline_access profile',
      first_party: true,
    },
    cliAudit(app.db),
  );
  process.stdout.write(JSON.stringify({ school: school.slug, logins, password: BENCH_PASSWORD, clientId: client.client_id, clientSecret: secret, redirectUri: BENCH_REDIRECT, inviteCodes }) + '\n');
  return 0;
});
