/**
 * `npm run esia:fake`: the fake ESIA for trying «Войти через Госуслуги» locally. journal-id's
 * ESIA_PRESET=local points at it with the defaults below. Settings come from the environment:
 *
 *   FAKE_ESIA_PORT (7000), FAKE_ESIA_HOST (127.0.0.1; 0.0.0.0 in a container),
 *   FAKE_ESIA_PUBLIC_URL (the URL others reach it at; default http://host:port),
 *   FAKE_ESIA_CLIENT_ID (JOURNALID), FAKE_ESIA_REDIRECT_URIS (comma list; http://localhost:3000/esia/callback),
 *   FAKE_ESIA_SCOPES (the scopes approved for the system; all),
 *   FAKE_ESIA_CLIENT_CERT (data/esia/client-cert.pem, read per request: journal-id may write it later),
 *   FAKE_ESIA_PEOPLE (fake-esia/people.json),
 *   FAKE_ESIA_CERT_OUT (data/fake-esia/esia-cert.pem: its token-signing certificate, for journal-id to pin),
 *   FAKE_ESIA_KEY (data/fake-esia/esia-key.pem: the signing key, kept so restarts keep the pinned certificate valid),
 *   FAKE_ESIA_TOKEN_ALG (RS256, or GOST3410_2012_256 as chosen on ESIA's technology portal),
 *   FAKE_ESIA_GOST_ORDER (openssl, or reversed: the byte order of GOST token signatures).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { X509Certificate, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { startFakeEsia } from './server.js';
import { DEFAULT_PEOPLE_FILE, loadPeople } from './people.js';
import { TOKEN_ALGS, type TokenAlg } from './token-keys.js';
import { runOpenssl } from './client-keys.js';

const env = process.env;
const port = Number(env.FAKE_ESIA_PORT ?? 7000);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`FAKE_ESIA_PORT: ${env.FAKE_ESIA_PORT} is not a port`);
const host = env.FAKE_ESIA_HOST ?? '127.0.0.1';
const clientId = env.FAKE_ESIA_CLIENT_ID ?? 'JOURNALID';
const redirectUris = (env.FAKE_ESIA_REDIRECT_URIS ?? 'http://localhost:3000/esia/callback').split(',').map((s) => s.trim()).filter(Boolean);
// The scopes approved on the technical portal (space or comma list); unset: all.
const approvedScopes = env.FAKE_ESIA_SCOPES?.split(/[\s,]+/).filter(Boolean);
const clientCert = path.resolve(env.FAKE_ESIA_CLIENT_CERT ?? 'data/esia/client-cert.pem');
const peopleFile = path.resolve(env.FAKE_ESIA_PEOPLE ?? DEFAULT_PEOPLE_FILE);
const certOut = path.resolve(env.FAKE_ESIA_CERT_OUT ?? 'data/fake-esia/esia-cert.pem');
const keyFile = path.resolve(env.FAKE_ESIA_KEY ?? path.join(path.dirname(certOut), 'esia-key.pem'));
const tokenAlg = (env.FAKE_ESIA_TOKEN_ALG ?? 'RS256') as TokenAlg;
if (!TOKEN_ALGS.includes(tokenAlg)) throw new Error(`FAKE_ESIA_TOKEN_ALG: ${env.FAKE_ESIA_TOKEN_ALG} is not one of ${TOKEN_ALGS.join(', ')}`);
const gostOrder = env.FAKE_ESIA_GOST_ORDER ?? 'openssl';
if (gostOrder !== 'openssl' && gostOrder !== 'reversed') throw new Error(`FAKE_ESIA_GOST_ORDER: ${gostOrder} is not openssl or reversed`);
const gost = tokenAlg === 'GOST3410_2012_256';

/** The signing key of the last run, so a journal-id that pinned its certificate keeps working. */
async function signingKey(): Promise<string> {
  if (existsSync(keyFile)) {
    const pem = await readFile(keyFile, 'utf8');
    // A key of the other algorithm (FAKE_ESIA_TOKEN_ALG changed) is replaced, with its certificate.
    let rsa: boolean;
    try {
      rsa = createPublicKey(pem).asymmetricKeyType === 'rsa';
    } catch {
      rsa = false; // Node cannot read a GOST key
    }
    if (rsa !== gost) return pem;
  }
  await mkdir(path.dirname(keyFile), { recursive: true });
  if (gost) {
    const r = await runOpenssl('openssl', ['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A'], Buffer.alloc(0));
    if (r.code !== 0) throw new Error(`GOST tokens need OpenSSL's GOST engine (apt-get install libengine-gost-openssl): ${r.stderr.trim()}`);
    await writeFile(keyFile, r.stdout, { mode: 0o600 });
    return r.stdout;
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await writeFile(keyFile, pem, { mode: 0o600 });
  return pem;
}

/** The certificate of the last run, if it holds this key: the file journal-id pinned stays as it is. */
function previousCertificate(keyPem: string): string | undefined {
  try {
    const pem = readFileSync(certOut, 'utf8');
    if (gost) return pem; // Node cannot compare GOST keys; the fake checks it holds the key (and then startFakeEsia is retried without it)
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    return spki(new X509Certificate(pem).publicKey).equals(spki(createPublicKey(keyPem))) ? pem : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const key = await signingKey();
  let previous = previousCertificate(key);
  const options = {
    port,
    host,
    ...(env.FAKE_ESIA_PUBLIC_URL && { publicUrl: env.FAKE_ESIA_PUBLIC_URL }),
    clients: [{ clientId, redirectUris, certificate: () => readFileSync(clientCert, 'utf8'), approvedScopes }],
    people: await loadPeople(peopleFile),
    signingKey: key,
    tokenAlg,
    gostSignatureOrder: gostOrder as 'openssl' | 'reversed',
  };
  const fake = await startFakeEsia({ ...options, ...(previous && { signingCertificate: previous }) }).catch((e: Error) => {
    if (!previous || !/does not hold the signing key/.test(e.message)) throw e;
    previous = undefined;
    return startFakeEsia(options);
  });
  await mkdir(path.dirname(certOut), { recursive: true });
  if (fake.certificate !== previous) await writeFile(certOut, fake.certificate);

  const rel = (p: string) => path.relative(process.cwd(), p) || p;
  const lines: Array<[string, string]> = [
    ['issuer (iss)', fake.issuer],
    ['client_id (FAKE_ESIA_CLIENT_ID)', clientId],
    ['redirect URIs (FAKE_ESIA_REDIRECT_URIS)', redirectUris.join(', ')],
    ['approved scopes (FAKE_ESIA_SCOPES)', approvedScopes?.join(' ') ?? 'all'],
    ['client certificate (FAKE_ESIA_CLIENT_CERT)', `${rel(clientCert)}${existsSync(clientCert) ? '' : ' (not there yet; read at each request)'}`],
    ['people (FAKE_ESIA_PEOPLE)', rel(peopleFile)],
    ['token-signing certificate (FAKE_ESIA_CERT_OUT)', rel(certOut)],
    ['token-signing key (FAKE_ESIA_KEY)', rel(keyFile)],
    ['token algorithm (FAKE_ESIA_TOKEN_ALG)', gost ? `${tokenAlg}, signatures in the ${gostOrder} byte order (FAKE_ESIA_GOST_ORDER)` : tokenAlg],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  console.log(`fake ESIA (Госуслуги, test double) listening on ${fake.url}`);
  for (const [k, v] of lines) console.log(`  ${`${k}:`.padEnd(width)} ${v}`);
  console.log(`On journal-id: ESIA_PRESET=local${fake.url === 'http://127.0.0.1:7000' ? '' : ` ESIA_URL=${fake.url}`} ESIA_CERTS=${rel(certOut)}`);

  const stop = (signal: string) => {
    console.log(`${signal}: stopping the fake ESIA`);
    fake.close().then(() => process.exit(0), (e: unknown) => {
      console.error(e);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(`fake ESIA: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
