/**
 * The relying parties as platform admins see them, read-only: the first-party apps from the
 * configuration and the registered clients (CLI or dynamic registration). Their client id, name,
 * whether first-party, school and redirect URIs — never a secret or a registration contact.
 * Changing clients is the CLI's and the admin API's work.
 */
import type { AppContext } from '../server/context.js';
import { firstPartyClients, listClients } from '../oidc/clients.js';

export interface ClientEntry {
  clientId: string;
  name: string;
  firstParty: boolean;
  source: 'config' | 'cli' | 'dcr' | 'api';
  school: string | null;
  redirectUris: string[];
}

export async function clientEntries(app: AppContext): Promise<ClientEntry[]> {
  const [rows, schools] = await Promise.all([listClients(app.db), app.db('schools').select('id', 'number', 'region')]);
  const schoolName = new Map((schools as { id: string; number: string; region: string }[]).map((s) => [s.id, `№ ${s.number} (${s.region})`]));
  const configured = firstPartyClients(app.config).map((c): ClientEntry => ({
    clientId: String(c.client_id), name: String(c.client_name ?? c.client_id), firstParty: true, source: 'config', school: null,
    redirectUris: (c.redirect_uris as string[] | undefined) ?? [],
  }));
  const registered = rows.map((r): ClientEntry => ({
    clientId: r.client_id, name: r.name, firstParty: r.first_party, source: r.registered_by, school: r.school_id ? (schoolName.get(r.school_id) ?? null) : null,
    redirectUris: (r.metadata.redirect_uris as string[] | undefined) ?? [],
  }));
  return [...configured, ...registered];
}
