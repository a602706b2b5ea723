/**
 * docs/account-effects.md's tables, rendered from the side-effect table itself: the page cannot
 * drift from what `applyEffects` does (test/accounts/effects-doc.test.ts compares them;
 * `npm run docs:effects` writes them).
 */
import { ACCOUNT_EFFECTS, PASSWORD_EFFECTS, type Effect, type Letter } from './effects.js';
import { CONTACT_EFFECTS } from './effects-contacts.js';

const SESSIONS: Record<Effect['sessions'], string> = {
  all: 'all (every browser, app tokens, console)',
  others: 'all but this browser',
  console: 'console sessions only',
  none: '—',
};
const DEVICE_COOKIES: Record<Effect['deviceCookies'], string> = { all: 'all die', 'all-but-this': "all die; this browser's re-issued", none: '—' };
const RECIPIENTS: Record<Letter['to'], string> = {
  confirmed: 'the confirmed email',
  old: 'the old email (when it was confirmed)',
  new: 'the new email',
  guardians: "the child's other guardians",
};

const cell = (text: string) => text.replace(/\|/g, '\\|');
const letters = (e: Effect) => (e.letters.length ? e.letters.map((l) => `\`${l.template}\` → ${RECIPIENTS[l.to]}`).join('; ') : '—');
const common = (cause: string, e: Effect) =>
  [`\`${cause}\``, cell(e.what), SESSIONS[e.sessions], DEVICE_COOKIES[e.deviceCookies], letters(e), e.liftThrottle ? 'yes' : '—', `\`${e.audit}\``];
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;

function table(rows: Record<string, Effect>, withPassword: boolean): string {
  const head = ['cause', 'what', 'sessions end', 'device cookies', 'letter', 'lock lifted', 'audit', ...(withPassword ? ['password', 'must change'] : [])];
  const lines = [row(head), row(head.map(() => '---'))];
  for (const [cause, e] of Object.entries(rows)) {
    const password = e.password
      ? [e.password.source === 'chosen' ? 'the rule, with login, names, birth date' : 'generated, shown once', e.password.mustChange ? 'yes' : '—']
      : [];
    lines.push(row([...common(cause, e), ...(withPassword ? password : [])]));
  }
  return lines.join('\n');
}

/** The three tables of the page, each under its heading. */
export function renderEffectTables(): string {
  const contacts = new Set(Object.keys(CONTACT_EFFECTS));
  const others = Object.fromEntries(Object.entries(ACCOUNT_EFFECTS).filter(([cause]) => !contacts.has(cause)));
  return [
    '## Setting a password',
    '',
    table(PASSWORD_EFFECTS, true),
    '',
    '## Second factors, status, roles, school, deletion, guardianships',
    '',
    table(others, false),
    '',
    '## Contacts: email, phone, SNILS, Gosuslugi links',
    '',
    table(CONTACT_EFFECTS, false),
    '',
  ].join('\n');
}

export const TABLES_BEGIN = '<!-- rendered from src/accounts/effects.ts by `npm run docs:effects`: edit the source, not this -->';
export const TABLES_END = '<!-- end of the rendered tables -->';

/** The page with its rendered part replaced. */
export function withRenderedTables(page: string): string {
  const begin = page.indexOf(TABLES_BEGIN);
  const end = page.indexOf(TABLES_END);
  if (begin < 0 || end < begin) throw new Error('docs/account-effects.md lacks the markers of its rendered part');
  return `${page.slice(0, begin + TABLES_BEGIN.length)}\n\n${renderEffectTables()}\n${page.slice(end)}`;
}
