/**
 * Printable invitations, made when codes are issued (the only moment the plain codes exist):
 * an HTML document with one invitation per printed page, like the sheet in the FAQ, and a CSV of
 * the same codes for the school's records.
 */
import fs from 'node:fs';
import path from 'node:path';
import pug from 'pug';
import type { Config } from '../config/index.js';
import { translator, type Locale, type MessageKey } from '../i18n/index.js';
import { PUBLIC_DIR, VIEWS_DIR } from '../server/paths.js';
import type { School } from '../schools/queries.js';
import type { IssuedInvite } from './issue.js';

let template: pug.compileTemplate | undefined;

/** Where people register, as printed: the school's own host when there is one. */
export function registrationAddress(config: Config, school: School): string {
  if (config.schoolHostDomain) return `${school.slug}.${config.schoolHostDomain}/register`;
  const issuer = new URL(config.issuer);
  return `${issuer.host}${issuer.pathname.replace(/\/$/, '')}/register`;
}

const dateFormat = (locale: Locale) => new Intl.DateTimeFormat(locale === 'ru' ? 'ru-RU' : 'en-GB', { dateStyle: 'long', timeZone: 'Europe/Moscow' });

/** Class lists are printed in order: by class, then name, parents' sheets after the student's. */
function sorted(issued: IssuedInvite[]): IssuedInvite[] {
  const order = { student: 0, parent: 1, teacher: 2, administration: 3 };
  return [...issued].sort((a, b) =>
    (a.person.class_name ?? '').localeCompare(b.person.class_name ?? '', 'ru', { numeric: true }) ||
    a.person.last_name.localeCompare(b.person.last_name, 'ru') ||
    a.person.first_name.localeCompare(b.person.first_name, 'ru') ||
    a.person.id.localeCompare(b.person.id) ||
    order[a.invite.role] - order[b.invite.role],
  );
}

export function renderSheets(
  issued: IssuedInvite[],
  o: { school: School; address: string; locale: Locale; title?: string; cssHref?: string },
): string {
  template ??= pug.compileFile(path.join(VIEWS_DIR, 'invites', 'sheets.pug'));
  const t = translator(o.locale);
  const fmt = dateFormat(o.locale);
  return template({
    t,
    locale: o.locale,
    school: o.school,
    title: o.title,
    address: o.address,
    cssHref: o.cssHref,
    css: o.cssHref ? undefined : fs.readFileSync(path.join(PUBLIC_DIR, 'sheets.css'), 'utf8'),
    sheets: sorted(issued).map((i) => ({
      role: i.invite.role,
      forWhom: t(`invite.for.${i.invite.role}` as MessageKey, { class: i.person.class_name ?? '' }),
      name: `${i.person.last_name} ${i.person.first_name}`,
      code: i.code,
      expires: i.invite.expires_at ? fmt.format(i.invite.expires_at) : undefined,
    })),
  });
}

/** The codes as CSV (UTF-8 with BOM and `;`, as Russian Excel opens it). */
export function codesCsv(issued: IssuedInvite[], locale: Locale = 'ru'): string {
  const t = translator(locale);
  // Quoted, and a leading formula sign neutralised (CSV injection into spreadsheets).
  const cell = (v: string | null | undefined) => `"${(v ?? '').replace(/^[=+\-@\t\r]/, "'$&").replace(/"/g, '""')}"`;
  const lines = [
    ['Класс', 'Фамилия', 'Имя', 'Отчество', 'Для кого', 'Код', 'Действует до'].map(cell).join(';'),
    ...sorted(issued).map((i) =>
      [
        i.person.class_name, i.person.last_name, i.person.first_name, i.person.middle_name,
        t(`invite.for.${i.invite.role}` as MessageKey, { class: i.person.class_name ?? '' }), i.code, i.invite.expires_at?.toISOString().slice(0, 10),
      ]
        .map(cell)
        .join(';'),
    ),
  ];
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}
