/**
 * journal-id wired to the fake ESIA (a test double of Gosuslugi) over real HTTP: the fake knows
 * journal-id's development signing certificate, journal-id pins the fake's token certificate.
 * Both servers on free ports; close both in afterAll.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeEsia, type FakeEsia, type FakeEsiaOptions, type FakePerson } from '../../fake-esia/server.js';
import { freePort, startTestServer, type TestServer } from './app.js';

export async function startWithFakeEsia(opts: {
  clientId: string;
  people: FakePerson[];
  env?: Record<string, string>;
  logs?: string[];
  /** More settings of the fake (its token algorithm …). */
  fake?: Partial<FakeEsiaOptions>;
  /** More of ESIA's certificates for journal-id to list in ESIA_CERTS, after the fake's. */
  moreEsiaCerts?: string[];
  /** The certificate registered for the system (default: journal-id's development one, made at its start). */
  clientCertificate?: string;
  /** Scopes approved for the system at the fake ESIA (default: all). */
  approvedScopes?: string[];
}): Promise<{ srv: TestServer; fake: FakeEsia }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-esia-'));
  const keyFile = path.join(dir, 'client-key.pem');
  const certFile = path.join(dir, 'client-cert.pem');
  const fake = await startFakeEsia({
    port: 0,
    ...opts.fake,
    people: opts.people,
    // journal-id makes its development key and certificate at its start; the fake reads it then.
    clients: [{ clientId: opts.clientId, redirectUris: [`http://localhost:${port}/esia/callback`], certificate: () => opts.clientCertificate ?? fs.readFileSync(certFile, 'utf8'), approvedScopes: opts.approvedScopes }],
  });
  const esiaCert = path.join(dir, 'esia.pem');
  fs.writeFileSync(esiaCert, fake.certificate);
  const srv = await startTestServer({
    port,
    logs: opts.logs,
    env: {
      ESIA_CLIENT_ID: opts.clientId, ESIA_URL: fake.url, ESIA_CERTS: [esiaCert, ...(opts.moreEsiaCerts ?? [])].join(','),
      ESIA_SIGNER: 'dev', ESIA_KEY_FILE: keyFile, ESIA_CERT_FILE: certFile,
      ...opts.env,
    },
  });
  return { srv, fake };
}
