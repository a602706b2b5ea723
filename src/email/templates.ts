/**
 * Letters: `views/email/<name>.pug` (HTML) and `views/email/<name>.txt.pug` (plain text), the
 * subject from the messages (`mail.<name>.subject`). Rendered when the letter is queued, so what
 * is stored is exactly what is sent.
 */
import path from 'node:path';
import pug from 'pug';
import { VIEWS_DIR } from '../server/paths.js';
import { translator, type Locale, type MessageKey } from '../i18n/index.js';

export type LetterName = 'guardian-linked' | 'recovery' | 'password-changed' | 'verify-email' | 'email-changed' | 'esia-linked' | 'esia-unlinked';

export interface RenderedLetter {
  subject: string;
  text: string;
  html: string;
}

const cache = new Map<string, pug.compileTemplate>();

function compiled(file: string): pug.compileTemplate {
  let fn = cache.get(file);
  if (!fn) {
    fn = pug.compileFile(path.join(VIEWS_DIR, 'email', file));
    cache.set(file, fn);
  }
  return fn;
}

export function renderLetter(name: LetterName, locals: Record<string, unknown>, locale: Locale): RenderedLetter {
  const t = translator(locale);
  const all = { ...locals, t, locale };
  return {
    subject: t(`mail.${name}.subject` as MessageKey, locals as Record<string, string>),
    // The text template is pug's plain-text mode: every line starts with `|`.
    text: compiled(`${name}.txt.pug`)(all).replace(/\n{3,}/g, '\n\n').trim() + '\n',
    html: compiled(`${name}.pug`)(all),
  };
}

/** The time a letter names (its readers are in Russia: Moscow time, said so). */
export const moscowTime = (): string =>
  new Intl.DateTimeFormat('ru-RU', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Moscow' }).format(new Date()) + ' (МСК)';
