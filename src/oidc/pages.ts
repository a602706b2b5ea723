/** Pages that oidc-provider itself renders (logout confirmation, after logout, its errors). */
import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import type { Context } from 'koa';
import { render, renderMessage, tr } from '../server/views.js';
import { classify } from '../server/errors.js';

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

/** Errors of the provider's HTML routes (e.g. /auth with an unknown client): no internals shown. */
export async function renderError(ctx: KoaContextWithOIDC, out: ErrorOut, error: Error): Promise<void> {
  const c = ctx as unknown as Context;
  const t = tr(c);
  const { key } = classify(error);
  const status = ctx.status >= 400 ? ctx.status : 400;
  renderMessage(c, { title: t('error.title'), paragraphs: [t(key)], code: out.error }, status);
}
