/**
 * The consent step. The journal's own apps never see a page: their grant is completed here with
 * every scope they asked for, offline_access included (oidc-provider would otherwise prompt
 * native apps and drop offline_access). Other apps show what they ask for and wait for a choice —
 * except for pupils, whose school decides (src/oidc/data-policy.ts): an app the school approved
 * gets its grant without a page, any other app gets a «not approved» page and access_denied.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import { isFirstParty } from '../oidc/provider.js';
import { finishInteraction, loadInteraction, type InteractionDetails } from '../oidc/interaction.js';
import { findAccountById } from '../accounts/queries.js';
import { fullName } from '../oidc/claims.js';
import type { MessageKey } from '../i18n/index.js';
import { describeDevice } from '../account/device.js';
import { childrenOf } from '../accounts/guardianships.js';
import { childDataRelease, pupilRefused, relyingParty } from '../oidc/data-policy.js';


interface PromptDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/** Saves a grant with everything the prompt says is missing; returns its id. */
async function grantAll(app: AppContext, ctx: Context, details: InteractionDetails): Promise<string> {
  const { Grant } = app.oidc.provider;
  const accountId = details.session!.accountId;
  const clientId = details.params.client_id as string;
  const grant = details.grantId ? await Grant.find(details.grantId) : undefined;
  const g = grant ?? new Grant({ accountId, clientId });
  const missing = details.prompt.details as PromptDetails;
  if (missing.missingOIDCScope?.length) g.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims?.length) g.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    g.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await g.save();
  // Which browser this app sign-in came from, for the account page («Где выполнен вход»).
  await app.db('grant_devices')
    .insert({ grant_id: grantId, account_id: accountId, device: describeDevice(ctx.get('user-agent')) })
    .onConflict('grant_id')
    .merge();
  return grantId;
}

export async function showConsent(app: AppContext, ctx: Context, details: InteractionDetails): Promise<void> {
  const client = await app.oidc.provider.Client.find(String(details.params.client_id));
  if (!client || !details.session) return ctx.redirect(`/interaction/${details.uid}/abort`);
  if (isFirstParty(client)) {
    const grantId = await grantAll(app, ctx, details);
    return finishInteraction(app, ctx, { consent: { grantId } }, true);
  }
  const t = tr(ctx);
  const account = await findAccountById(app.db, details.session.accountId);
  if (!account) return ctx.redirect(`/interaction/${details.uid}/abort`);
  const rp = relyingParty(client);
  if (account.kind === 'student') {
    if (!(await pupilRefused(app.db, rp, account))) {
      const grantId = await grantAll(app, ctx, details);
      return finishInteraction(app, ctx, { consent: { grantId } }, true);
    }
    return render(ctx, 'consent-not-approved', {
      pageTitle: t('child_data.refused.title'),
      action: `/interaction/${details.uid}/consent`,
      csrfToken: app.csrf.token(ctx),
      clientName: client.clientName ?? client.clientId,
    }, 403);
  }
  // The page offers only what the app will get: without the school's approval, no children's data.
  const release = await childDataRelease(app.db, rp, account.school_id, await childrenOf(app.db, account.id));
  const requested = String(details.params.scope ?? 'openid').split(' ').filter(Boolean);
  const text = (s: string): string | undefined => {
    if (s === 'children' && !release.children) return undefined;
    const key = (!release.own && (s === 'profile' || s === 'school') ? `child_data.scope.${s}` : `scope.${s}`) as MessageKey;
    return t(key) === key ? s : t(key);
  };
  render(ctx, 'consent', {
    pageTitle: t('consent.title'),
    action: `/interaction/${details.uid}/consent`,
    csrfToken: app.csrf.token(ctx),
    clientName: client.clientName ?? client.clientId,
    clientHost: appHost(details.params.redirect_uri),
    accountName: fullName(account),
    scopes: [...new Set(requested)].map(text).filter((s): s is string => s !== undefined),
  });
}

/**
 * Where the app sends the person back, as the page shows it beside the app's name: the host in
 * its ASCII form, so «школа.рф» is shown as xn--80adrw7a.xn--p1ai and a look-alike name
 * (Cyrillic «а» for Latin «a») cannot pass for a known one. Undefined for a native app's
 * private-use scheme (no host).
 */
export function appHost(redirectUri: unknown): string | undefined {
  if (typeof redirectUri !== 'string') return undefined;
  const url = URL.parse(redirectUri);
  return url && (url.protocol === 'https:' || url.protocol === 'http:') && url.host ? url.host : undefined;
}

/** A pupil cannot say «allow» to an app their school has not approved, whatever was posted. */
async function pupilRefusedHere(app: AppContext, details: InteractionDetails): Promise<boolean> {
  const account = details.session ? await findAccountById(app.db, details.session.accountId) : undefined;
  if (account?.kind !== 'student') return false;
  const client = await app.oidc.provider.Client.find(String(details.params.client_id));
  return pupilRefused(app.db, relyingParty(client), account);
}

export function registerConsentRoutes(router: Router, app: AppContext): void {
  router.post('/interaction/:uid/consent', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    if (details.prompt.name !== 'consent') return ctx.redirect(`/interaction/${details.uid}`);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (await pupilRefusedHere(app, details)) {
      return finishInteraction(app, ctx, { error: 'access_denied', error_description: "The pupil's school has not approved this app" }, false);
    }
    if (body.decision !== 'allow') {
      return finishInteraction(app, ctx, { error: 'access_denied', error_description: 'End-User denied consent' }, false);
    }
    const grantId = await grantAll(app, ctx, details);
    await finishInteraction(app, ctx, { consent: { grantId } }, true);
  });
}
