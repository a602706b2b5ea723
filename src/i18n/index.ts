/**
 * The i18n mechanism: message catalogues per language, Russian first. The language comes from
 * `?lang=` (remembered in a cookie), the cookie, the OIDC `ui_locales` parameter, then
 * Accept-Language; the default is Russian.
 */
import { ru, type MessageKey } from './ru.js';
import { en } from './en.js';

export type Locale = 'ru' | 'en';
export const LOCALES: readonly Locale[] = ['ru', 'en'];
export const LANG_COOKIE = 'jid_lang';
const CATALOGUES: Record<Locale, Record<MessageKey, string>> = { ru, en };

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translator(locale: Locale): Translate {
  const cat = CATALOGUES[locale];
  return (key, params) => {
    const text = cat[key] ?? ru[key] ?? key;
    return params ? text.replace(/\{(\w+)\}/g, (m, p: string) => (p in params ? String(params[p]) : m)) : text;
  };
}

function pick(value: string | undefined | null): Locale | undefined {
  if (!value) return undefined;
  for (const part of value.split(/[\s,]+/)) {
    const lang = part.split(';')[0]!.trim().toLowerCase().split('-')[0];
    if (LOCALES.includes(lang as Locale)) return lang as Locale;
  }
  return undefined;
}

export function resolveLocale(input: {
  query?: string;
  cookie?: string;
  uiLocales?: string;
  acceptLanguage?: string;
}): Locale {
  return (
    pick(input.query) ??
    pick(input.cookie) ??
    pick(input.uiLocales) ??
    pick(input.acceptLanguage) ??
    'ru'
  );
}

export type { MessageKey };
