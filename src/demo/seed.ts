/**
 * First development start: a demo school with a class on its roster, a demo relying party, one
 * account per role and two invite codes, so a newcomer can log in and register within a minute.
 * Runs only on an empty database, never in production.
 */
import { systemAudit } from '../audit/bound.js';
import fs from 'node:fs';
import path from 'node:path';
import type { AppContext } from '../server/context.js';
import { countSchools, insertSchool } from '../schools/queries.js';
import { createAccount } from '../accounts/create.js';
import { generatePassword } from '../accounts/password-policy.js';
import { insertClient, newClientSecret } from '../oidc/clients.js';
import { approveClient } from '../clients/approvals.js';
import type { AccountKind } from '../accounts/queries.js';
import { addGuardianships } from '../accounts/guardianships.js';
import { insertPerson } from '../roster/queries.js';
import { issueInvites } from '../invites/issue.js';

export const DEMO_CLIENT_ID = 'demo-rp';
/**
 * The demo client's credentials for the sample relying party (`npm run example`), in the data
 * folder beside the development secrets (mode 0600): the example reads them, nobody copies the
 * secret by hand. Development only, like the whole demo.
 */
export const DEMO_CLIENT_FILE = 'demo-client.json';

export interface DemoCredentials {
  school: string;
  /** clientFile: where the sample relying party reads these (DEMO_CLIENT_FILE), if it was written. */
  client: { clientId: string; clientSecret: string; redirectUri: string; clientFile?: string };
  accounts: { role: string; login: string; password: string }[];
  /** Codes to try registration with (/register). */
  invites: { role: string; forWhom: string; code: string }[];
}

// The curator's SNILS is the fake ESIA's «Смирнова Ольга» (fake-esia/people.json): with
// `npm run esia:fake` and ESIA_PRESET=local, «Войти через Госуслуги» finds her; being a curator,
// she confirms the link once with her password and authenticator code (docs/esia.md).
const PEOPLE: { role: string; login: string; kind: AccountKind; roles: string[]; last: string; first: string; middle: string; snils?: string }[] = [
  { role: 'ученик', login: 'student', kind: 'student', roles: [], last: 'Николаев', first: 'Ваня', middle: 'Петрович' },
  { role: 'родитель', login: 'parent', kind: 'parent', roles: [], last: 'Николаева', first: 'Вера', middle: 'Сергеевна' },
  { role: 'учитель', login: 'teacher', kind: 'staff', roles: ['teacher'], last: 'Иванова', first: 'Анна', middle: 'Михайловна' },
  { role: 'администрация', login: 'director', kind: 'staff', roles: ['administration'], last: 'Петров', first: 'Олег', middle: 'Иванович' },
  { role: 'куратор', login: 'curator', kind: 'staff', roles: ['curator', 'teacher'], last: 'Смирнова', first: 'Ольга', middle: 'Викторовна', snils: '123-456-789 64' },
];

export async function seedDemo(app: AppContext): Promise<DemoCredentials | undefined> {
  const { db, config, passwords } = app;
  if ((await countSchools(db)) > 0) return undefined;
  const school = await insertSchool(db, { number: '1399', name: 'Школа № 1399', region: 'Москва', slug: '1399' });
  // The addresses of the sample relying party (examples/journal-web, `npm run example`).
  const redirectUri = 'http://localhost:8080/callback';
  const clientSecret = newClientSecret();
  await insertClient(db, config.secrets.keyEncryptionKey, {
    clientId: DEMO_CLIENT_ID,
    name: 'Демо-приложение',
    firstParty: false,
    secret: clientSecret,
    metadata: {
      client_id: DEMO_CLIENT_ID,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: ['http://localhost:8080/'],
      backchannel_logout_uri: 'http://localhost:8080/backchannel-logout',
      backchannel_logout_session_required: true,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access profile email phone school roles children',
    },
  });
  // The demo school approves its demo app: pupils sign in to it without a «not approved» page.
  await db.transaction((trx) => approveClient(trx, { schoolId: school.id, clientId: DEMO_CLIENT_ID, approvedBy: 'demo', by: systemAudit(trx, 'demo seed') }));
  // The roster: the demo student's class, and a pupil nobody has registered for yet.
  const pupil = (lastName: string, firstName: string, middleName: string, birthDate: string) =>
    insertPerson(db, school.id, {
      kind: 'student', staffRole: null, lastName, firstName, middleName, birthDate, className: '6А',
      position: null, snils: null, phone: null, externalId: null,
    });
  const vanya = await pupil('Николаев', 'Ваня', 'Петрович', '2013-04-05');
  const masha = await pupil('Соколова', 'Маша', 'Андреевна', '2013-09-12');
  const accounts: DemoCredentials['accounts'] = [];
  const ids: Record<string, string> = {};
  for (const p of PEOPLE) {
    const password = generatePassword();
    await createAccount(
      db,
      passwords,
      {
        schoolId: school.id,
        login: p.login,
        password,
        kind: p.kind,
        roles: p.roles,
        lastName: p.last,
        firstName: p.first,
        middleName: p.middle,
        personId: p.login === 'student' ? vanya.id : undefined,
        snils: p.snils,
      },
      systemAudit(db),
    ).then((a) => (ids[p.login] = a.id));
    accounts.push({ role: p.role, login: p.login, password });
  }
  await addGuardianships(db, ids.parent!, [{ personId: vanya.id, inviteId: null }]);
  const { issued } = await db.transaction((trx) =>
    issueInvites(
      trx,
      { pepper: config.secrets.invitePepper, codeLength: config.invites.codeLength, maxParentsPerChild: config.invites.maxParentsPerChild },
      { schoolId: school.id, people: [masha], studentCodes: 1, parentCodes: 1, expiresAt: null, by: systemAudit(db, 'demo seed') },
    ),
  );
  const invites = issued.map((i) => ({
    role: i.invite.role === 'student' ? 'ученик' : 'родитель',
    forWhom: `${masha.last_name} ${masha.first_name} (${masha.class_name})`,
    code: i.code,
  }));
  const clientFile = writeDemoClient(config.dataDir, { issuer: config.issuer, client_id: DEMO_CLIENT_ID, client_secret: clientSecret });
  return { school: `${school.name} (${school.slug})`, client: { clientId: DEMO_CLIENT_ID, clientSecret, redirectUri, clientFile }, accounts, invites };
}

/** The file's path, or undefined when the data folder cannot be written (the demo goes on without it). */
function writeDemoClient(dataDir: string, credentials: { issuer: string; client_id: string; client_secret: string }): string | undefined {
  const file = path.join(dataDir, DEMO_CLIENT_FILE);
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
    fs.chmodSync(file, 0o600); // a file left from an earlier data folder keeps its mode otherwise
    return file;
  } catch {
    return undefined;
  }
}

export function formatDemo(d: DemoCredentials, issuer: string): string {
  const w = Math.max(...d.accounts.map((a) => a.role.length));
  return [
    '',
    '  Демо-данные созданы (показываются один раз) / demo data created (shown once):',
    `  школа / school: ${d.school}`,
    `  клиент / client: ${d.client.clientId}  secret: ${d.client.clientSecret}  redirect_uri: ${d.client.redirectUri}`,
    ...(d.client.clientFile ? [`  пример / sample app: npm run example → http://localhost:8080 (the client from ${d.client.clientFile})`] : []),
    ...d.accounts.map((a) => `  ${a.role.padEnd(w)}  логин: ${a.login.padEnd(9)} пароль: ${a.password}`),
    `  регистрация / registration: ${issuer}/register`,
    ...d.invites.map((i) => `  ${i.role.padEnd(w)}  код: ${i.code}  (${i.forWhom})`),
    `  discovery: ${issuer}/.well-known/openid-configuration`,
    '',
  ].join('\n');
}
