/**
 * The school's commands: the roster (add one person, import a CSV file, list) and invite codes
 * (issue and print, reprint, revoke, list). The curator console (a later issue) calls the same
 * modules; these commands are how a school starts before it exists.
 */
import { cliAudit } from '../audit/bound.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { AppContext } from '../server/context.js';
import { schoolFromHint } from '../schools/resolve.js';
import type { School } from '../schools/queries.js';
import { parsePerson } from '../roster/person-input.js';
import { parseRosterCsv } from '../roster/csv-import.js';
import { findPersonById, importPeople, insertPerson, listPeople, personName, type Person } from '../roster/queries.js';
import { unlinkAfterRosterSnilsChange } from '../accounts/gosuslugi-links.js';
import { defaultExpiry, issueInvites, issueSettingsOf, reprintInvites, revokeInviteIds, IssueError, type IssuedInvite } from '../invites/issue.js';
import { inviteState, listInvites } from '../invites/queries.js';
import { INVITE_ROLES, type InviteRole } from '../invites/code.js';
import { codesCsv, registrationAddress, renderSheets } from '../invites/sheets.js';
import { fieldTexts, readField } from '../accounts/fields.js';
import { CliError, UsageError, out, parse, required, withApp } from './commands.js';
import type { Locale } from '../i18n/index.js';

type Command = (config: Config, args: string[]) => Promise<number>;

async function requireSchool(app: AppContext, hint: string | undefined): Promise<School> {
  const value = required(hint, 'school');
  const school = await schoolFromHint(app.db, value.toLowerCase());
  if (!school) throw new CliError(`no school "${value}" (use its address name or a unique number)`);
  return school;
}

const personFlags = {
  school: { type: 'string' },
  kind: { type: 'string' },
  role: { type: 'string' },
  'last-name': { type: 'string' },
  'first-name': { type: 'string' },
  'middle-name': { type: 'string' },
  'birth-date': { type: 'string' },
  class: { type: 'string' },
  position: { type: 'string' },
  snils: { type: 'string' },
  phone: { type: 'string' },
  'external-id': { type: 'string' },
} as const;

const rosterAdd: Command = (config, args) => {
  const { values: v } = parse(args, personFlags);
  const parsed = parsePerson({
    kind: v.kind,
    staffRole: v.role,
    lastName: v['last-name'],
    firstName: v['first-name'],
    middleName: v['middle-name'],
    birthDate: v['birth-date'],
    className: v.class,
    position: v.position,
    snils: v.snils,
    phone: v.phone,
    externalId: v['external-id'],
  });
  if (!parsed.ok) throw new UsageError(parsed.problems.map((p) => `${p.field}: ${p.messageEn}`).join('; '));
  return withApp(config, async (app) => {
    const school = await requireSchool(app, v.school);
    const person = await app.db.transaction(async (trx) => {
      const p = await insertPerson(trx, school.id, parsed.value).catch((err: { code?: string }) => {
        if (err.code === '23505') throw new CliError(`someone with external id ${parsed.value.externalId} is on the roster already`);
        throw err;
      });
      await cliAudit(trx).record({ action: 'roster.add', schoolId: school.id, target: { type: 'person', id: p.id } });
      return p;
    });
    out(`${personName(person)}${person.class_name ? ` (${person.class_name})` : ''} added: id ${person.id}`);
    return 0;
  });
};

const rosterImport: Command = (config, args) => {
  const { values, positionals } = parse(args, { school: { type: 'string' } });
  const file = positionals[0];
  if (!file) throw new UsageError('usage: roster import --school SLUG FILE.csv');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new CliError(`cannot read ${file}`);
  }
  const parsed = parseRosterCsv(bytes);
  if (!parsed.ok) {
    // Nothing of a file with a bad row is imported: the school fixes the file and imports it again.
    throw new CliError(`${file}: nothing imported\n${parsed.errors.map((e) => `  ${e.messageEn}`).join('\n')}`);
  }
  return withApp(config, async (app) => {
    const school = await requireSchool(app, values.school);
    const result = await app.db.transaction(async (trx) => {
      const { snilsReplaced, kept: _kept, ...r } = await importPeople(trx, school.id, parsed.people);
      const by = cliAudit(trx);
      await by.record({ action: 'roster.import', schoolId: school.id, details: { file: path.basename(file), rows: parsed.people.length, ...r, snilsReplaced: snilsReplaced.length } });
      // A Gosuslugi link an old roster SNILS made by itself goes with it (issue 16.1).
      await unlinkAfterRosterSnilsChange(app, trx, snilsReplaced, by);
      return r;
    });
    out(`${file}: ${parsed.people.length} row(s): ${result.added} added, ${result.updated} updated, ${result.unchanged} unchanged`);
    return 0;
  });
};

const rosterList: Command = (config, args) => {
  const { values } = parse(args, { school: { type: 'string' }, class: { type: 'string' }, kind: { type: 'string' } });
  const className = classArg(values.class);
  if (values.kind && !['student', 'staff'].includes(values.kind)) throw new UsageError('--kind must be student or staff');
  return withApp(config, async (app) => {
    const school = await requireSchool(app, values.school);
    const people = await listPeople(app.db, school.id, { className, kind: values.kind as Person['kind'] | undefined });
    if (!people.length) out('nobody on the roster matches');
    for (const p of people) out(`${p.id}\t${p.kind === 'student' ? p.class_name : (p.staff_role ?? '')}\t${personName(p)}\t${p.birth_date ?? ''}`);
    return 0;
  });
};

function classArg(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const c = readField('className', value, true);
  if (!c.ok) throw new UsageError(`--class: ${fieldTexts(c.problem).messageEn}`);
  return c.value!;
}

function localeArg(value: string | undefined): Locale {
  if (value && value !== 'ru' && value !== 'en') throw new UsageError('--lang must be ru or en');
  return (value ?? 'ru') as Locale;
}

function expiryArg(config: Config, expires: string | undefined): Date | null {
  if (expires === undefined) return defaultExpiry(config.invites.ttlDays);
  if (expires === 'never') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(expires);
  const day = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!day || day.toISOString().slice(0, 10) !== expires) throw new UsageError('--expires must be a date YYYY-MM-DD or "never"');
  // Valid through that whole day in Moscow, the journal's reference time.
  const date = new Date(`${expires}T23:59:59+03:00`);
  if (date <= new Date()) throw new UsageError('--expires must be in the future');
  return date;
}

function count(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max) throw new UsageError(`--${flag} must be a number from 0 to ${max}`);
  return Number(value);
}

/** Writes the sheet and the CSV of a batch; returns their paths. */
function writeBatch(app: AppContext, school: School, issued: IssuedInvite[], o: { outDir: string; name: string; locale: Locale }): string[] {
  fs.mkdirSync(o.outDir, { recursive: true });
  const base = path.join(o.outDir, o.name);
  const html = renderSheets(issued, { school, address: registrationAddress(app.config, school), locale: o.locale, title: o.name });
  // The files hold usable codes: readable by their owner only.
  fs.writeFileSync(`${base}.html`, html, { mode: 0o600 });
  fs.writeFileSync(`${base}.csv`, codesCsv(issued, o.locale), { mode: 0o600 });
  return [`${base}.html`, `${base}.csv`];
}

const stamp = () => new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
const safeName = (s: string) => s.replace(/[^\p{L}\p{N}_-]+/gu, '_');

const invitesIssue: Command = (config, args) => {
  const { values } = parse(args, {
    school: { type: 'string' },
    class: { type: 'string' },
    person: { type: 'string', multiple: true },
    staff: { type: 'boolean' },
    students: { type: 'string' },
    parents: { type: 'string' },
    expires: { type: 'string' },
    out: { type: 'string' },
    lang: { type: 'string' },
  });
  const className = classArg(values.class);
  const chosen = [className !== undefined, Boolean(values.person?.length), Boolean(values.staff)].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('name whom to issue codes for: --class 6А, --person ID (repeatable) or --staff');
  const studentCodes = count(values.students, 'students', 1, 3);
  const parentCodes = count(values.parents, 'parents', 2, config.invites.maxParentsPerChild);
  const expiresAt = expiryArg(config, values.expires);
  const locale = localeArg(values.lang);
  const outDir = values.out ?? path.join(config.dataDir, 'invites');
  return withApp(config, async (app) => {
    const school = await requireSchool(app, values.school);
    const people = values.staff
      ? await listPeople(app.db, school.id, { kind: 'staff' })
      : await listPeople(app.db, school.id, className ? { className, kind: 'student' } : { ids: values.person! });
    if (values.person && people.length !== new Set(values.person).size) throw new CliError('some --person ids are not on this school\'s roster');
    if (!people.length) throw new CliError(className ? `nobody in class ${className}` : 'nobody to issue codes for');
    const { batchId, issued } = await app.db
      .transaction((trx) =>
        issueInvites(trx, issueSettingsOf(config), { schoolId: school.id, people, studentCodes, parentCodes, expiresAt, by: cliAudit(app.db) }),
      )
      .catch(rethrowIssue);
    const files = writeBatch(app, school, issued, { outDir, locale, name: `invites-${school.slug}-${safeName(className ?? (values.staff ? 'staff' : 'people'))}-${stamp()}` });
    out(`${issued.length} code(s) for ${people.length} person(s), batch ${batchId}${expiresAt ? `, valid until ${expiresAt.toISOString().slice(0, 10)}` : ''}`);
    out(`print: ${files[0]}`);
    out(`codes: ${files[1]}`);
    out('the codes are in these files only (the database keeps their hashes): print them, then delete the files');
    return 0;
  });
};

const invitesReprint: Command = (config, args) => {
  const { values } = parse(args, {
    school: { type: 'string' },
    person: { type: 'string' },
    role: { type: 'string', multiple: true },
    expires: { type: 'string' },
    out: { type: 'string' },
    lang: { type: 'string' },
  });
  const personId = required(values.person, 'person');
  const roles = (values.role ?? []) as InviteRole[];
  if (roles.some((r) => !INVITE_ROLES.includes(r))) throw new UsageError(`--role must be one of ${INVITE_ROLES.join(', ')}`);
  const expiresAt = expiryArg(config, values.expires);
  const locale = localeArg(values.lang);
  const outDir = values.out ?? path.join(config.dataDir, 'invites');
  return withApp(config, async (app) => {
    const school = await requireSchool(app, values.school);
    const person = await findPersonById(app.db, personId);
    if (!person || person.school_id !== school.id) throw new CliError(`no person ${personId} on this school's roster`);
    const wanted: InviteRole[] = roles.length ? roles : person.kind === 'student' ? ['student', 'parent'] : [person.staff_role ?? 'teacher'];
    const result = await app.db
      .transaction((trx) => reprintInvites(trx, issueSettingsOf(config), { schoolId: school.id, person, roles: wanted, expiresAt, by: cliAudit(app.db) }))
      .catch(rethrowIssue);
    const files = writeBatch(app, school, result.issued, { outDir, locale, name: `invites-${school.slug}-${safeName(person.last_name)}-${stamp()}` });
    out(`${personName(person)}: ${result.revoked} unused code(s) revoked, ${result.issued.length} new`);
    out(`print: ${files[0]}`);
    out(`codes: ${files[1]}`);
    return 0;
  });
};

const invitesRevoke: Command = (config, args) => {
  const { values } = parse(args, { school: { type: 'string' }, person: { type: 'string' }, batch: { type: 'string' }, id: { type: 'string', multiple: true } });
  if ([values.person, values.batch, values.id?.length].filter(Boolean).length !== 1) throw new UsageError('name what to revoke: --person ID, --batch ID or --id ID (repeatable)');
  return withApp(config, async (app) => {
    const school = await requireSchool(app, values.school);
    const invites = values.id
      ? values.id
      : (await listInvites(app.db, school.id, values.person ? { personIds: [values.person] } : { batchId: values.batch! })).map((i) => i.id);
    const n = await app.db.transaction((trx) => revokeInviteIds(trx, school.id, invites.filter((id) => /^[0-9a-f-]{36}$/i.test(id)), cliAudit(app.db)));
    out(`${n} unused code(s) revoked`);
    return 0;
  });
};

const invitesList: Command = (config, args) => {
  const { values } = parse(args, { school: { type: 'string' }, class: { type: 'string' } });
  const className = classArg(values.class);
  return withApp(config, async (app) => {
    const school = await requireSchool(app, values.school);
    const people = await listPeople(app.db, school.id, className ? { className } : {});
    const invites = await listInvites(app.db, school.id, { personIds: people.map((p) => p.id) });
    const byPerson = new Map<string, typeof invites>();
    for (const i of invites) byPerson.set(i.person_id, [...(byPerson.get(i.person_id) ?? []), i]);
    for (const p of people) {
      const mine = byPerson.get(p.id) ?? [];
      const summary = mine.map((i) => `${i.role}:${inviteState(i)}`).join(' ') || 'no codes';
      out(`${p.id}\t${p.class_name ?? p.staff_role ?? ''}\t${personName(p)}\t${summary}`);
    }
    return 0;
  });
};


function rethrowIssue(err: unknown): never {
  if (err instanceof IssueError) throw new CliError(err.message);
  throw err;
}

export const SCHOOL_COMMANDS: Record<string, Command> = {
  'roster add': rosterAdd,
  'roster import': rosterImport,
  'roster list': rosterList,
  'invites issue': invitesIssue,
  'invites reprint': invitesReprint,
  'invites revoke': invitesRevoke,
  'invites list': invitesList,
};

export const SCHOOL_USAGE = `
  roster add --school SLUG --kind student|staff --last-name .. --first-name .. [--middle-name ..]
           [--birth-date YYYY-MM-DD] [--class 6А] [--role teacher|administration] [--position ..]
           [--snils ..] [--phone ..] [--external-id ..]
  roster import --school SLUG FILE.csv   a class list (UTF-8; see docs/roster-example.csv); a bad row
                                         is reported by line number and nothing is imported
  roster list --school SLUG [--class 6А] [--kind student|staff]
  invites issue --school SLUG (--class 6А | --person ID... | --staff) [--students 1] [--parents 2]
           [--expires YYYY-MM-DD|never] [--out DIR] [--lang ru|en]
                                         issues codes and writes the printable sheets (HTML, one
                                         invitation per page) and a CSV of the codes into DIR
  invites reprint --school SLUG --person ID [--role student|parent|teacher|administration]...
                                         a lost sheet: revokes the unused codes and prints new ones
  invites revoke --school SLUG (--person ID | --batch ID | --id ID...)
  invites list --school SLUG [--class 6А]  who has which codes and whether they were used
`;
