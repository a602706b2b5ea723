/** Server-rendered pages (pug). Every page gets the translator, the locale and a language switch. */
import pug from 'pug';
import path from 'node:path';
import type { Context } from 'koa';
import { VIEWS_DIR } from './paths.js';
import { LANG_COOKIE, resolveLocale, translator, type Locale, type Translate } from '../i18n/index.js';

const cache = new Map<string, pug.compileTemplate>();

/** A compiled view, for documents outside the page layout (printed sheets). */
export function template(name: string): pug.compileTemplate {
  let fn = cache.get(name);
  if (!fn) {
    fn = pug.compileFile(path.join(VIEWS_DIR, `${name}.pug`));
    cache.set(name, fn);
  }
  return fn;
}

/** Language of this request: `?lang=` (remembered), cookie, `ui_locales`, Accept-Language. */
export function localeOf(ctx: Context, uiLocales?: string): Locale {
  if (ctx.state.locale && !uiLocales) return ctx.state.locale as Locale;
  const query = typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined;
  const locale = resolveLocale({
    query,
    cookie: ctx.cookies.get(LANG_COOKIE, { signed: false }),
    uiLocales,
    acceptLanguage: ctx.get('accept-language'),
  });
  if (query && query === locale) {
    ctx.cookies.set(LANG_COOKIE, locale, {
      signed: false, httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 * 1000, overwrite: true,
    });
  }
  ctx.state.locale = locale;
  return locale;
}

export function tr(ctx: Context): Translate {
  return translator(localeOf(ctx));
}

export function render(ctx: Context, view: string, locals: Record<string, unknown> = {}, status = 200): void {
  const locale = localeOf(ctx);
  const other = locale === 'ru' ? 'en' : 'ru';
  const url = new URL(ctx.originalUrl, 'http://x');
  url.searchParams.set('lang', other);
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = template(view)({
    t: translator(locale),
    locale,
    view, // on <body data-view>: the browser tests check that every view is visited
    langSwitchUrl: ctx.method === 'GET' ? `${url.pathname}${url.search}` : `?lang=${other}`,
    ...locals,
  });
}

export interface MessagePage {
  title: string;
  paragraphs: string[];
  code?: string;
  backUrl?: string;
  backText?: string;
}

/** The one page for errors and short notices. */
export function renderMessage(ctx: Context, page: MessagePage, status = 200): void {
  render(ctx, 'message', { pageTitle: page.title, heading: page.title, ...page }, status);
}
