/**
 * People doing whole things over HTTP — registering with an invite code, logging in to an app —
 * with every response kept, so fault tests can judge each one: it either completed, or failed
 * cleanly (an error page or JSON error that shows no internals), never a cut connection or a stack.
 */
import { Browser, formOf } from './browser.js';
import { startLogin, oidc } from './rp.js';
import { addStudent, codeOf, issue } from './school.js';
import type { AppContext } from '../../src/server/context.js';
import type { School } from '../../src/schools/queries.js';

export interface Step {
  what: string;
  status: number;
  body: string;
  /** Set when there was no HTTP response at all (connection refused or cut). */
  networkError?: string;
}

export interface FlowResult<O extends string> {
  outcome: O | 'failed';
  steps: Step[];
}

async function step(steps: Step[], what: string, send: () => Promise<Response>): Promise<Step> {
  let s: Step;
  try {
    const res = await send();
    s = { what, status: res.status, body: await res.text() };
    (s as Step & { res?: Response }).res = res;
  } catch (err) {
    s = { what, status: 0, body: '', networkError: String((err as Error).cause ?? (err as Error).message) };
  }
  steps.push(s);
  return s;
}

const located = (s: Step) => (s as Step & { res?: Response }).res?.headers.get('location') ?? undefined;

/** Internals that must never reach a person: stack frames, driver and SQL messages. */
const INTERNALS = /\n\s+at \S|\bat [\w.<>]+ \(|ECONNREFUSED|ECONNRESET|terminating connection|Connection terminated|connect ETIMEDOUT|knex|Knex:|\bpg_|\bselect\b[^<]*\bfrom\b|\binsert into\b|\bupdate \w+ set\b|TypeError|ReferenceError/i;

/**
 * Whether a response is acceptable under a fault: success statuses, or an error answered in
 * the product's own shape (an HTML page with a title, or a JSON `error`) without internals.
 */
export function cleanStep(s: Step): boolean {
  if (s.networkError) return false;
  if (INTERNALS.test(s.body)) return false;
  if (s.status < 400) return true;
  if (/^\s*\{/.test(s.body)) {
    try {
      return typeof (JSON.parse(s.body) as { error?: unknown }).error === 'string';
    } catch {
      return false;
    }
  }
  return /<title>[^<]+<\/title>/.test(s.body) && /<html/i.test(s.body);
}

export interface Registrant {
  code: string;
  login: string;
  password: string;
  /** Parents type their names and must give an email. */
  parent?: { lastName: string; firstName: string; email: string };
}

/**
 * `children` pupils on the school's roster, each with a student code and a parent code: two
 * registrants per child (logins `<prefix>st<i>` and `<prefix>pt<i>`), for tests that fire many
 * registrations at once.
 */
export async function pupilsWithCodes(app: AppContext, school: School, children: number, prefix: string): Promise<Registrant[]> {
  const registrants: Registrant[] = [];
  for (let i = 0; i < children; i++) {
    const child = await addStudent(app, school);
    const issued = await issue(app, school, [child], { students: 1, parents: 1 });
    registrants.push({ code: codeOf(issued, child, 'student'), login: `${prefix}st${i}`, password: `Sirius${i}x2024` });
    registrants.push({
      code: codeOf(issued, child, 'parent'),
      login: `${prefix}pt${i}`,
      password: `Vega${i}x2024y`,
      parent: { lastName: 'Родителев', firstName: 'Пётр', email: `${prefix}pt${i}@mail.ru` },
    });
  }
  return registrants;
}

/** /register: the code, then the details; `registered` on «Регистрация в системе успешно завершена». */
export async function registerWithCode(base: string, r: Registrant): Promise<FlowResult<'registered' | 'code-used'>> {
  const started = await startRegistration(base, r);
  return 'submit' in started ? started.submit() : started;
}

/**
 * The code page only, up to the filled-in details form; `submit` sends it (so that many people
 * can press «Зарегистрироваться» at the same moment).
 */
export async function startRegistration(
  base: string,
  r: Registrant,
): Promise<FlowResult<'code-used'> | { steps: Step[]; submit(): Promise<FlowResult<'registered' | 'code-used'>> }> {
  const steps: Step[] = [];
  const b = new Browser(base);
  const page = await step(steps, 'GET /register', () => b.request('/register'));
  if (page.status !== 200) return { outcome: 'failed', steps };
  const start = formOf(page.body, /register$/);
  const details = await step(steps, 'POST /register', () => b.postForm(start.action, { ...start.fields, code: r.code }));
  if (details.status === 409) return { outcome: 'code-used', steps };
  if (details.status !== 200) return { outcome: 'failed', steps };
  const form = formOf(details.body, /details$/);
  const fields: Record<string, string> = { ...form.fields, login: r.login, password: r.password, password2: r.password, consent: '1' };
  if (r.parent) Object.assign(fields, { last_name: r.parent.lastName, first_name: r.parent.firstName, email: r.parent.email });
  return {
    steps,
    async submit() {
      const done = await step(steps, 'POST /register/details', () => b.postForm(form.action, fields));
      if (done.status === 200 && done.body.includes('Регистрация в системе успешно завершена')) return { outcome: 'registered', steps };
      if (done.status === 409 && done.body.includes('Этот код уже использован')) return { outcome: 'code-used', steps };
      return { outcome: 'failed', steps };
    },
  };
}

export interface LoginTarget {
  /** The relying party (discovered once, before any fault). */
  rp: oidc.Configuration;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  school: string;
}

/**
 * An app's login: /auth, the login form, the code at the callback, then /token. `logged-in`
 * when the token endpoint answers with an ID token.
 */
export async function logIn(base: string, t: LoginTarget, login: string, password: string): Promise<FlowResult<'logged-in'>> {
  const steps: Step[] = [];
  const b = new Browser(base);
  const started = await startLogin(t.rp, { redirect_uri: t.redirectUri, school: t.school });
  let s = await step(steps, 'GET /auth', () => b.request(started.authUrl.toString()));
  for (let i = 0; i < 5 && s.status >= 300 && s.status < 400; i++) {
    const next = new URL(located(s)!, base).toString();
    s = await step(steps, `GET ${new URL(next).pathname}`, () => b.request(next));
  }
  if (s.status !== 200 || !/\/login"/.test(s.body)) return { outcome: 'failed', steps };
  const form = formOf(s.body, /\/login$/);
  s = await step(steps, 'POST login', () => b.postForm(form.action, { ...form.fields, login, password }));
  let callback: URL | undefined;
  for (let i = 0; i < 5 && s.status >= 300 && s.status < 400; i++) {
    const next = new URL(located(s)!, base);
    if (next.origin !== new URL(base).origin) {
      callback = next;
      break;
    }
    s = await step(steps, `GET ${next.pathname}`, () => b.request(next.toString()));
  }
  const code = callback?.searchParams.get('code');
  if (!code) return { outcome: 'failed', steps };
  const token = await step(steps, 'POST /token', () =>
    fetch(`${base}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${t.clientId}:${t.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: t.redirectUri, code_verifier: started.verifier }),
    }),
  );
  return { outcome: token.status === 200 && token.body.includes('"id_token"') ? 'logged-in' : 'failed', steps };
}
