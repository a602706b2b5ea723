/**
 * The relying party's side of a browser test: a loopback address that answers 200, so that the
 * browser lands on `redirectUri` when journal-id sends it back (the code is read from the URL).
 */
import http from 'node:http';
import { freePort } from './app.js';

export interface RpStub {
  /** http://127.0.0.1:<port>/callback */
  redirectUri: string;
  /** http://127.0.0.1:<port>/ (a post-logout redirect URI) */
  origin: string;
  close(): void;
}

export async function startRpStub(): Promise<RpStub> {
  const port = await freePort();
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { redirectUri: `http://127.0.0.1:${port}/callback`, origin: `http://127.0.0.1:${port}/`, close: () => server.close() };
}
