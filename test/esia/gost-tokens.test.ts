/**
 * Issue 21.1 and 21.3: ESIA's tokens signed with GOST3410_2012_256 (checked through OpenSSL's
 * GOST engine as OpenSSL encodes the signature and, failing that, byte-reversed), and the
 * lifetimes of the certificates: an expired certificate of ours stops the start with one line; a
 * certificate 20 days from expiry shows on the platform health page and in the metrics. The
 * RS256 path runs in esia-login.test.ts. Without the GOST engine these tests fail and say what to
 * install (never a silent skip).
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import type { FakeEsia } from '../../fake-esia/server.js';
import { run } from '../../src/esia/signers/run.js';
import { GOST_ENGINE_HINT, gostPublicKey } from '../../src/esia/signers/openssl-gost.js';
import { verifyEsiaJws } from '../../src/esia/token-signature.js';
import type { EsiaTokenKey } from '../../src/esia/certificates.js';
import { selfSignedCertificate } from '../../src/crypto/self-signed-cert.js';
import { createEsia } from '../../src/esia/service.js';
import { createLogger } from '../../src/server/logger.js';
import { addSchool, addAccount, testConfig, freePort, type TestServer } from '../helpers/app.js';
import { startWithFakeEsia } from '../helpers/esia.js';
import { Browser, formOf } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage, oidc } from '../helpers/rp.js';
import { consoleLogin } from '../helpers/console.js';
import { metricsText, valueOf } from '../helpers/metrics.js';
import { cliCommand, ROOT } from '../helpers/cli.js';

const DAY = 86_400_000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-gost-tokens-'));
const gostKey = path.join(dir, 'gost-key.pem');
const gostCert = path.join(dir, 'gost-cert.pem');

/** An RSA or P-256 certificate with chosen dates, written to `name`; its key beside it. */
function certificateFile(name: string, notBefore: Date, notAfter: Date, type: 'rsa' | 'ec' = 'rsa'): { cert: string; key: string } {
  const { privateKey, publicKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  fs.writeFileSync(cert, selfSignedCertificate({ privateKey, publicKey, commonName: name, notBefore, notAfter }));
  fs.writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { cert, key };
}

beforeAll(async () => {
  try {
    await run('openssl', ['engine', 'gost']);
  } catch (err) {
    throw new Error(`OpenSSL's GOST engine is missing — ${GOST_ENGINE_HINT}. ${(err as Error).message}`);
  }
  await run('openssl', ['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A', '-out', gostKey]);
  await run('openssl', ['req', '-engine', 'gost', '-new', '-x509', '-key', gostKey, '-md_gost12_256', '-subj', '/CN=ESIA GOST test', '-days', '365', '-out', gostCert]);
});

describe('a GOST3410_2012_256 token signature', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  let keys: EsiaTokenKey[];
  let rsaKeys: EsiaTokenKey[];
  beforeAll(async () => {
    keys = [{ kind: 'gost', file: gostCert, publicKeyPem: await gostPublicKey(fs.readFileSync(gostCert)) }];
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    rsaKeys = [{ kind: 'rsa', file: 'rsa.pem', key: privateKey }];
  });
  async function token(alg: string, payload: unknown, reversed: boolean): Promise<string> {
    const input = `${b64({ ver: 0, typ: 'JWT', sbt: 'id', alg })}.${b64(payload)}`;
    const sig = await run('openssl', ['dgst', '-engine', 'gost', '-md_gost12_256', '-sign', gostKey], Buffer.from(input));
    return `${input}.${(reversed ? Buffer.from(sig).reverse() : sig).toString('base64url')}`;
  }
  const tamper = (t: string) => {
    const [h, p, s] = t.split('.');
    return [h, b64({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 1000000999 }), s].join('.');
  };

  it.each([['as OpenSSL encodes it', false, 'gost-openssl'], ['byte-reversed', true, 'gost-reversed']] as const)('is accepted %s, and says which form matched', async (_name, reversed, form) => {
    const t = await token('GOST3410_2012_256', { sub: 1000000001 }, reversed);
    const checked = await verifyEsiaJws(t, [...rsaKeys, ...keys]);
    expect(checked).toMatchObject({ ok: true, form });
    expect(JSON.parse((checked as { payload: Buffer }).payload.toString())).toEqual({ sub: 1000000001 });
  });

  it.each([['as OpenSSL encodes it', false], ['byte-reversed', true]] as const)('is refused when the token was tampered with (%s)', async (_name, reversed) => {
    const checked = await verifyEsiaJws(tamper(await token('GOST3410_2012_256', { sub: 1000000001 }, reversed)), keys);
    expect(checked).toMatchObject({ ok: false, reason: expect.stringMatching(/does not verify.*byte-reversed/) });
  });

  it('is checked only against GOST keys, and only under its own alg', async () => {
    // A GOST signature under an RS256 header, or a GOST token when only RSA certificates are listed.
    expect(await verifyEsiaJws(await token('RS256', { sub: 1 }, false), keys)).toMatchObject({ ok: false });
    expect(await verifyEsiaJws(await token('GOST3410_2012_256', { sub: 1 }, false), rsaKeys)).toMatchObject({ ok: false, reason: expect.stringMatching(/no GOST certificate/) });
    expect(await verifyEsiaJws(await token('none', { sub: 1 }, false), keys)).toMatchObject({ ok: false, reason: expect.stringMatching(/unsupported alg/) });
    const withCrit = `${b64({ alg: 'GOST3410_2012_256', crit: ['x'], x: 1 })}.${b64({ sub: 1 })}`;
    const sig = await run('openssl', ['dgst', '-engine', 'gost', '-md_gost12_256', '-sign', gostKey], Buffer.from(withCrit));
    expect(await verifyEsiaJws(`${withCrit}.${sig.toString('base64url')}`, keys)).toMatchObject({ ok: false, reason: expect.stringMatching(/critical/) });
  });
});

describe('journal-id with ESIA signing its tokens with GOST', () => {
  const CLIENT_ID = 'GOSTTOKENS';
  const logs: string[] = [];
  let srv: TestServer;
  let fake: FakeEsia;
  let rp: oidc.Configuration;
  let admin: Awaited<ReturnType<typeof addAccount>>;
  const soon = () => certificateFile('esia-2025-rsa', new Date(Date.now() - 340 * DAY), new Date(Date.now() + 20 * DAY + 3600_000));

  beforeAll(async () => {
    ({ srv, fake } = await startWithFakeEsia({
      clientId: CLIENT_ID,
      logs,
      fake: { tokenAlg: 'GOST3410_2012_256' },
      // The previous ESIA certificate (RSA), 20 days from its end, listed beside the GOST one.
      moreEsiaCerts: [soon().cert],
      people: [{ oid: 1000000001, lastName: 'Петров', firstName: 'Иван', trusted: true, contacts: [{ type: 'EML', value: 'mama@example.ru', vrfStu: 'VERIFIED' }] }],
    }));
    const school = await addSchool(srv.db, { number: '1399', slug: '1399' });
    await addAccount(srv.app, school, { login: 'mama', kind: 'parent', email: 'mama@example.ru' });
    admin = await addAccount(srv.app, null, { login: 'platform-admin', kind: 'platform', roles: ['admin'] });
    rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
  });
  afterAll(async () => {
    await srv?.close();
    await fake?.close();
  });

  async function gosuslugiLogin(): Promise<{ res: Response; url: string }> {
    const browser = new Browser(srv.url);
    const started = await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school: '1399' });
    const page = await openLoginPage(browser, started.authUrl);
    const form = formOf(page.html, /\/esia$/);
    const toEsia = await browser.postForm(form.action, form.fields);
    fake.loginAs(1000000001);
    const atEsia = await fetch(toEsia.headers.get('location')!, { redirect: 'manual' });
    expect(atEsia.status).toBe(302);
    return browser.follow(atEsia.headers.get('location')!);
  }

  it.each([['openssl', 'gost-openssl'], ['reversed', 'gost-reversed']] as const)('logs in with GOST-signed tokens in the %s byte order, and logs which form matched', async (order, form) => {
    fake.gostSignatureOrder(order);
    logs.length = 0;
    const { res, url } = await gosuslugiLogin();
    // Matched by the verified email and logged in: on to the relying party with a code.
    expect(res.status).toBeLessThan(400);
    expect(new URL(url).searchParams.get('code')).toBeTruthy();
    expect(logs.some((l) => l.includes('ESIA token signature verified') && l.includes(form))).toBe(true);
  });

  it.each(['openssl', 'reversed'] as const)('refuses GOST tokens signed by another key (%s order)', async (order) => {
    fake.gostSignatureOrder(order);
    fake.fail('wrong_key');
    try {
      const { res } = await gosuslugiLogin();
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('Не удалось выполнить вход через Госуслуги');
    } finally {
      fake.fail(null);
    }
  });

  it('shows a certificate 20 days from expiry on the health page and in the metrics', async () => {
    const browser = await consoleLogin(srv.url, '', admin, { platform: true });
    const { res } = await browser.follow('/console/platform/health');
    const html = await res.text();
    const row = /<div class="error" data-state="expiring">([^<]*esia-2025-rsa[^<]*)<\/div>/.exec(html)?.[1];
    expect(row).toMatch(/ЕСИА, подпись токенов.*осталось дней: 20.*Истекает меньше чем через 30 дней/);
    // The fake's GOST certificate (the helper writes it to esia.pem) is far from its end.
    expect(html).toMatch(/data-state="ok">[^<]*\/esia\.pem — /);
    const metrics = await metricsText(srv.url);
    expect(valueOf(metrics, 'esia_certificate_days_left', { role: 'esia' })).toBe(20);
    expect(valueOf(metrics, 'esia_certificates_expiring', { role: 'esia' })).toBe(1);
    expect(valueOf(metrics, 'esia_certificates_expiring', { role: 'client' })).toBe(0);
  });
});

describe('our own certificate at start', () => {
  const logger = createLogger('silent');
  const esiaCert = () => certificateFile('esia-current', new Date(Date.now() - DAY), new Date(Date.now() + 300 * DAY)).cert;

  it('an expired certificate of ours stops the start with one line', async () => {
    const own = certificateFile('own-expired', new Date(Date.now() - 400 * DAY), new Date(Date.now() - 2 * DAY), 'ec');
    const env = { ESIA_CLIENT_ID: 'EXPIRED', ESIA_SIGNER: 'dev', ESIA_KEY_FILE: own.key, ESIA_CERT_FILE: own.cert, ESIA_CERTS: esiaCert() };
    await expect(createEsia(testConfig(env), logger)).rejects.toThrow(/^config: ESIA_CERT_FILE \S+ expired on \d{4}-\d{2}-\d{2}; [^\n]+$/);

    // The same through `journal-id serve`: it exits, and says so in one line.
    const port = await freePort();
    const child = spawn(cliCommand().command, [...cliCommand().args, 'serve'], {
      cwd: ROOT,
      env: { PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`, DATA_DIR: fs.mkdtempSync(path.join(dir, 'data-')), PORT: String(port), HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).not.toBe(0);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ESIA_CERT_FILE .*own-expired\.pem expired on/);
  }, 60_000);

  it('a certificate of ours 20 days from expiry starts, with a warning', async () => {
    const own = certificateFile('own-soon', new Date(Date.now() - 345 * DAY), new Date(Date.now() + 20 * DAY + 3600_000), 'ec');
    const lines: string[] = [];
    const esia = await createEsia(
      testConfig({ ESIA_CLIENT_ID: 'SOON', ESIA_SIGNER: 'dev', ESIA_KEY_FILE: own.key, ESIA_CERT_FILE: own.cert, ESIA_CERTS: esiaCert() }),
      createLogger('debug', {}, (l) => lines.push(l)),
    );
    expect(esia).toBeDefined();
    expect(lines.find((l) => l.includes('our ESIA client certificate (ESIA_CERT_FILE) expires in 20 days'))).toContain('own-soon.pem');
  });
});
