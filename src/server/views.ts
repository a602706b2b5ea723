/** Server-rendered pages (pug). Every page gets the translator, the locale and a language switch. */
import pug from 'pug';
import path from 'node:path';
import type { Context } from 'koa';
import Router from '@koa/router';
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

/**
 * The language switch's address: this page again in the other language. A page that answers a form
 * (POST) cannot be asked for again by a link: its address is a form's action, often with no GET
 * page at all (/interaction/<uid>/login); the switch then leads to the nearest page above it that
 * is one (/interaction/<uid>: the login form again), so it never ends on «not found».
 */
function langSwitchUrl(ctx: Context, other: Locale, switchPath?: unknown): string {
  const url = new URL(typeof switchPath === 'string' ? switchPath : ctx.originalUrl, 'http://x');
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && typeof switchPath !== 'string') url.pathname = nearestPage(ctx, url.pathname);
  url.searchParams.set('lang', other);
  // One leading slash: "/.//evil.example" normalises to "//evil.example", another host's address.
  return `${url.pathname.replace(/^\/+/, '/')}${url.search}`;
}

function nearestPage(ctx: Context, pathname: string): string {
  // Only our router: on the provider's own routes (its error pages after a POST to /token or
  // /session/end/confirm) ctx.router is the provider's, which matches differently.
  const router = (ctx as Context & { router?: unknown }).router;
  if (!(router instanceof Router)) return '/';
  for (let p = pathname.replace(/\/+$/, ''); p; p = p.slice(0, p.lastIndexOf('/'))) {
    if (router.match(p, 'GET').route) return p;
  }
  return '/';
}

export function render(ctx: Context, view: string, locals: Record<string, unknown> = {}, status = 200): void {
  const locale = localeOf(ctx);
  const other = locale === 'ru' ? 'en' : 'ru';
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = template(view)({
    t: translator(locale),
    locale,
    view, // on <body data-view>: the browser tests check that every view is visited
    langSwitchUrl: langSwitchUrl(ctx, other, locals.switchPath),
    ...locals,
  });
}

export interface MessagePage {
  title: string;
  paragraphs: string[];
  code?: string;
  backUrl?: string;
  backText?: string;
  /** Where the language switch leads instead of this page's form: e.g. after a single-use link was used up. */
  switchPath?: string;
}

/** The one page for errors and short notices. */
export function renderMessage(ctx: Context, page: MessagePage, status = 200): void {
  render(ctx, 'message', { pageTitle: page.title, heading: page.title, ...page }, status);
}
