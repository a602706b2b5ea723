/**
 * The one error boundary of our own routes: people get a page in their language, APIs a JSON
 * error; neither ever sees a stack trace. Errors inside oidc-provider's routes are rendered by
 * its `renderError` hook, which uses the same page.
 */
import type { Context, Next } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import type { Logger } from './logger.js';
import { renderMessage, tr } from './views.js';
import { CsrfError } from './csrf.js';
import type { MessageKey } from '../i18n/index.js';
import { HashingBusy } from '../accounts/hash-pool.js';
import { isDatabaseUnavailable, DATABASE_RETRY_AFTER_SECONDS } from '../db/unavailable.js';

export function wantsJson(ctx: Context): boolean {
  return ctx.path.startsWith('/api/') || ctx.path.startsWith('/admin/api/') || ctx.accepts('html', 'json') === 'json';
}

/** The message key and status for an error thrown by our code or a library. */
export function classify(err: unknown): { status: number; key: MessageKey; code: string } {
  const e = err as { status?: number; statusCode?: number; type?: string; name?: string; expose?: boolean };
  if (err instanceof CsrfError) return { status: 403, key: 'error.csrf', code: 'csrf' };
  if (err instanceof oidcErrors.SessionNotFound) return { status: 400, key: 'error.expired', code: 'session_not_found' };
  if (err instanceof oidcErrors.OIDCProviderError) {
    return { status: err.status, key: err.status >= 500 ? 'error.server' : 'error.generic', code: err.error };
  }
  if (err instanceof HashingBusy) return { status: 503, key: 'error.busy', code: 'temporarily_unavailable' };
  if (isDatabaseUnavailable(err)) return { status: 503, key: 'error.unavailable', code: 'temporarily_unavailable' };
  const status = e.status ?? e.statusCode ?? 500;
  if (status === 413) return { status, key: 'error.too_large', code: 'too_large' };
  if (status === 404) return { status, key: 'error.not_found', code: 'not_found' };
  if (status >= 400 && status < 500) return { status, key: 'error.generic', code: 'invalid_request' };
  return { status: 500, key: 'error.server', code: 'server_error' };
}

export function showError(ctx: Context, err: unknown): void {
  const { status, key, code } = classify(err);
  if (status === 503) ctx.set('retry-after', String(err instanceof HashingBusy ? err.retryAfterSeconds : DATABASE_RETRY_AFTER_SECONDS));
  if (wantsJson(ctx)) {
    ctx.status = status;
    ctx.body = { error: code, error_description: tr(ctx)(key) };
    return;
  }
  const t = tr(ctx);
  renderMessage(ctx, { title: t('error.title'), paragraphs: [t(key)], code }, status);
}

export function errorBoundary(logger: Logger) {
  return async function errorBoundaryMiddleware(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      // A refusal nobody wrote (no route: 404; a path only a POST form has: the router's 405) gets
      // the same page or JSON as a thrown one, not Koa's bare English status text.
      if (ctx.status >= 400 && ctx.status < 500 && ctx.body == null) showError(ctx, { status: ctx.status });
    } catch (err) {
      const { status } = classify(err);
      const log = (ctx.state.log as Logger | undefined) ?? logger;
      if (status >= 500) log.error('request failed', { err });
      else log.info('request refused', { status, error: (err as Error).message });
      showError(ctx, err);
    }
  };
}
