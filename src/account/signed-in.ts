/**
 * Where a person is signed in: one line per app that holds a grant (since when, last used), and
 * signing out of one app — its grant and every token of it are deleted in one transaction and
 * the app gets a back-channel logout through the queue.
 */
import type { AppContext } from '../server/context.js';
import { rawRows } from '../db/index.js';
import { ACCOUNT_CLIENT_ID } from '../oidc/clients.js';
import type { AuditWriter } from '../audit/bound.js';

export interface SignedInApp {
  grantId: string;
  clientId: string;
  name: string;
  since: Date;
  lastUsed: Date;
  /** «Chrome, Android»: where the sign-in happened. */
  device: string | null;
}

export async function listSignedIn(app: AppContext, accountId: string): Promise<SignedInApp[]> {
  const rows = await rawRows<{ id: string; client_id: string; iat: number; last: number | null; device: string | null }>(
    app.db,
    `select g.id, g.payload->>'clientId' as client_id, (g.payload->>'iat')::bigint as iat,
            (select max((t.payload->>'iat')::bigint) from oidc_models t where t.grant_id = g.id) as last,
            d.device
       from oidc_models g left join grant_devices d on d.grant_id = g.id
      where g.model = 'Grant' and g.account_id = ? and (g.expires_at is null or g.expires_at > now())
      order by last desc nulls last, iat desc`,
    [accountId],
  );
  const apps: SignedInApp[] = [];
  for (const r of rows.filter((x) => x.client_id !== ACCOUNT_CLIENT_ID)) {
    const client = await app.oidc.provider.Client.find(r.client_id).catch(() => undefined);
    apps.push({
      grantId: r.id,
      clientId: r.client_id,
      name: client?.clientName ?? r.client_id,
      since: new Date(Number(r.iat) * 1000),
      lastUsed: new Date(Number(r.last ?? r.iat) * 1000),
      device: r.device,
    });
  }
  return apps;
}

/** Ends one app's access for this person (`by`: the request's writer, bound to them); false when the grant is not theirs. */
export async function signOutOf(app: AppContext, accountId: string, grantId: string, by: AuditWriter): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(grantId)) return false;
  return app.db.transaction(async (trx) => {
    const grant = await trx('oidc_models').select('payload').where({ model: 'Grant', id: grantId, account_id: accountId }).first();
    if (!grant) return false;
    const clientId = (grant.payload as { clientId: string }).clientId;
    await trx('oidc_models').where({ grant_id: grantId, account_id: accountId }).del();
    await trx('oidc_models').where({ model: 'Grant', id: grantId }).del();
    await trx('grant_devices').where({ grant_id: grantId }).del();
    // The app's session id (sid) from the browser sessions, so it can end its own session.
    const sessions = (await trx('oidc_models').select('payload').where({ model: 'Session', account_id: accountId })) as { payload: { authorizations?: Record<string, { sid?: string; grantId?: string }> } }[];
    const sids = new Set(sessions.map((s) => s.payload.authorizations?.[clientId]).filter((a) => a?.grantId === grantId).map((a) => a!.sid ?? null));
    if (!sids.size) sids.add(null);
    await trx('backchannel_logouts').insert([...sids].map((sid) => ({ client_id: clientId, account_id: accountId, sid })));
    await by.record({ action: 'sessions.app_signed_out', target: { type: 'client', id: clientId } }, trx);
    return true;
  });
}
