/**
 * A test double of the signing service behind ESIA_SIGNER=http (in production a CryptoPro CSP/DSS
 * service; docs/esia.md «Сервис подписи»). It speaks the contract — POST, the message bytes as
 * application/octet-stream, answer 200 with the 64-byte raw GOST R 34.10-2012 (256) signature in
 * ESIA's order (binary, or base64 as text/plain) — and signs with OpenSSL's GOST engine, so the
 * fake ESIA verifies what it signs against the GOST certificate registered for the system.
 * Failure modes stand for what a real service does on a bad day.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { run } from '../../src/esia/signers/run.js';

export type SigningServiceMode =
  | 'binary' // 200 application/octet-stream, 64 bytes
  | 'text' // 200 text/plain, base64 of them
  | 'error' // 500 with a body that must never reach a log or a page
  | 'slow' // answers after `slowMs`
  | 'short'; // 200 with 32 bytes: not a GOST-256 signature

export interface SigningService {
  url: string;
  /** client_certificate_hash of its certificate (GOST R 34.11-2012 of the DER, upper-case hex). */
  certificateHash: string;
  /** PEM of the certificate registered at (fake) ESIA. */
  certificate: string;
  mode: SigningServiceMode;
  /** Messages it was asked to sign. */
  signed: Buffer[];
  close(): Promise<void>;
}

/** The body of the `error` mode: what a careless service might say; it must stay in the service. */
export const SIGNING_SERVICE_SECRET = 'container-pin=123456 key=SECRET-KEY-MATERIAL';

/** A GOST R 34.10-2012 (256) key and a self-signed certificate in `dir`. */
export async function makeGostCertificate(dir: string, commonName = 'journal-id GOST test'): Promise<{ keyFile: string; certFile: string }> {
  const keyFile = path.join(dir, 'gost-key.pem');
  const certFile = path.join(dir, 'gost-cert.pem');
  await run('openssl', ['genpkey', '-engine', 'gost', '-algorithm', 'gost2012_256', '-pkeyopt', 'paramset:A', '-out', keyFile]);
  await run('openssl', ['req', '-engine', 'gost', '-new', '-x509', '-key', keyFile, '-md_gost12_256', '-subj', `/CN=${commonName}`, '-days', '30', '-out', certFile]);
  return { keyFile, certFile };
}

export async function startSigningService(opts: { slowMs?: number } = {}): Promise<SigningService> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jid-signing-'));
  const { keyFile, certFile } = await makeGostCertificate(dir, 'journal-id signing service');
  const der = await run('openssl', ['x509', '-in', certFile, '-outform', 'DER']);
  const hash = /^([0-9a-f]{64})/i.exec((await run('openssl', ['dgst', '-engine', 'gost', '-md_gost12_256', '-r'], der)).toString().trim())![1]!.toUpperCase();
  const timers = new Set<NodeJS.Timeout>();

  const state: SigningService = {
    url: '',
    certificateHash: hash,
    certificate: fs.readFileSync(certFile, 'utf8'),
    mode: 'binary',
    signed: [],
    close: async () => {
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || !/^application\/octet-stream\b/.test(req.headers['content-type'] ?? '')) {
          res.writeHead(415, { 'content-type': 'text/plain' }).end('POST application/octet-stream only');
          return;
        }
        const message = Buffer.concat(parts);
        state.signed.push(message);
        const mode = state.mode;
        if (mode === 'error') {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(SIGNING_SERVICE_SECRET);
          return;
        }
        if (mode === 'slow') await new Promise<void>((r) => timers.add(setTimeout(r, opts.slowMs ?? 10_000)));
        // OpenSSL writes s‖r big-endian: ESIA's order (CryptoPro's CryptSignHash output reversed).
        const sig = await run('openssl', ['dgst', '-engine', 'gost', '-md_gost12_256', '-sign', keyFile], message);
        if (mode === 'short') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(sig.subarray(0, 32));
        } else if (mode === 'text') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end(sig.toString('base64'));
        } else {
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(sig);
        }
      })().catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sign`;
  return state;
}
