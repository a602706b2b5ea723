/** Helpers of our interaction routes around oidc-provider's interaction API. */
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import type { LoggedOutcome } from '../metrics/outcomes.js';
import { actAs, auditOf } from '../audit/bound.js';

export type InteractionDetails = Awaited<ReturnType<AppContext['oidc']['provider']['interactionDetails']>>;

/** The interaction of this request (throws SessionNotFound, shown as «страница входа устарела»). */
export async function loadInteraction(app: AppContext, ctx: Context): Promise<InteractionDetails> {
  const details = await app.oidc.provider.interactionDetails(ctx.req, ctx.res);
  // The access log names the app the person came from (checked by the provider at /auth).
  if (typeof details.params.client_id === 'string') {
    (ctx.state as LoggedOutcome).clientId ??= details.params.client_id;
    // …and so do the audit records of this request, whoever acts in it.
    if (ctx.state.audit) actAs(ctx, auditOf(ctx).binding.actor, { clientId: details.params.client_id });
  }
  return details;
}

/**
 * Stores the interaction's result and sends the browser back to oidc-provider (303). `merge`
 * keeps earlier results (login) when a later prompt (consent, change_password) completes.
 */
export async function finishInteraction(
  app: AppContext,
  ctx: Context,
  result: Record<string, unknown>,
  merge: boolean,
): Promise<void> {
  const returnTo = await app.oidc.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  ctx.redirect(returnTo);
  ctx.status = 303;
}

export function stringParam(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
