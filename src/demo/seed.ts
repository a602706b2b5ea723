/**
 * First development start: a demo school, a demo relying party and one account per role, so a
 * newcomer can log in within a minute. Runs only on an empty database, never in production.
 */
import type { AppContext } from '../server/context.js';
import { countSchools, insertSchool } from '../schools/queries.js';
import { createAccount } from '../accounts/create.js';
import { generatePassword } from '../accounts/password-policy.js';
import { insertClient, newClientSecret } from '../oidc/clients.js';
import type { AccountKind } from '../accounts/queries.js';

export const DEMO_CLIENT_ID = 'demo-rp';

export interface DemoCredentials {
  school: string;
  client: { clientId: string; clientSecret: string; redirectUri: string };
  accounts: { role: string; login: string; password: string }[];
}

const PEOPLE: { role: string; login: string; kind: AccountKind; roles: string[]; last: string; first: string; middle: string }[] = [
  { role: 'ученик', login: 'student', kind: 'student', roles: [], last: 'Николаев', first: 'Ваня', middle: 'Петрович' },
  { role: 'родитель', login: 'parent', kind: 'parent', roles: [], last: 'Николаева', first: 'Вера', middle: 'Сергеевна' },
  { role: 'учитель', login: 'teacher', kind: 'staff', roles: ['teacher'], last: 'Иванова', first: 'Анна', middle: 'Михайловна' },
  { role: 'администрация', login: 'director', kind: 'staff', roles: ['administration'], last: 'Петров', first: 'Олег', middle: 'Иванович' },
  { role: 'куратор', login: 'curator', kind: 'staff', roles: ['curator', 'teacher'], last: 'Смирнова', first: 'Ольга', middle: 'Викторовна' },
];

export async function seedDemo(app: AppContext): Promise<DemoCredentials | undefined> {
  const { db, config, passwords } = app;
  if ((await countSchools(db)) > 0) return undefined;
  const school = await insertSchool(db, { number: '1399', name: 'Школа № 1399', region: 'Москва', slug: '1399' });
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
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access profile email phone school roles children',
    },
  });
  const accounts: DemoCredentials['accounts'] = [];
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
      },
      { type: 'system' },
    );
    accounts.push({ role: p.role, login: p.login, password });
  }
  return { school: `${school.name} (${school.slug})`, client: { clientId: DEMO_CLIENT_ID, clientSecret, redirectUri }, accounts };
}

export function formatDemo(d: DemoCredentials, issuer: string): string {
  const w = Math.max(...d.accounts.map((a) => a.role.length));
  return [
    '',
    '  Демо-данные созданы (показываются один раз) / demo data created (shown once):',
    `  школа / school: ${d.school}`,
    `  клиент / client: ${d.client.clientId}  secret: ${d.client.clientSecret}  redirect_uri: ${d.client.redirectUri}`,
    ...d.accounts.map((a) => `  ${a.role.padEnd(w)}  логин: ${a.login.padEnd(9)} пароль: ${a.password}`),
    `  discovery: ${issuer}/.well-known/openid-configuration`,
    '',
  ].join('\n');
}
