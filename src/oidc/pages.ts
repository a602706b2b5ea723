/** Pages that oidc-provider itself renders (logout confirmation, after logout, its errors). */
import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import type { Context } from 'koa';
import { render, renderMessage, tr } from '../server/views.js';
import { classify, showError } from '../server/errors.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';

export async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  const client = ctx.oidc.client;
  render(ctx as unknown as Context, 'logout', {
    pageTitle: tr(ctx as unknown as Context)('logout.title'),
    form,
    clientName: client?.clientName,
  });
}

export async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
  const t = tr(ctx as unknown as Context);
  renderMessage(ctx as unknown as Context, { title: t('logout.title'), paragraphs: [t('logout.done')] });
}

/**
 * Errors of the provider's HTML routes (e.g. /auth with an unknown client): no internals shown.
 * The database away is 503 with Retry-After and «Сервис временно недоступен» (issue 16.10), as on
 * our own pages — never a redirect to the app with server_error.
 */
export async function renderError(ctx: KoaContextWithOIDC, out: ErrorOut, error: Error): Promise<void> {
  const c = ctx as unknown as Context;
  if (isDatabaseUnavailable(error)) return showError(c, error);
  const t = tr(c);
  const { key } = classify(error);
  const status = ctx.status >= 400 ? ctx.status : 400;
  renderMessage(c, { title: t('error.title'), paragraphs: [t(key)], code: out.error }, status);
}
