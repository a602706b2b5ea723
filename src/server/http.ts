/**
 * The HTTP server and its life: background workers start with it; on SIGTERM/SIGINT it stops
 * accepting, lets in-flight requests finish (bounded), stops the workers and closes the pool.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppContext } from './context.js';
import { buildApp } from './app.js';
import { startPurge } from '../oidc/purge.js';
import { startLifecycle } from '../accounts/lifecycle.js';
import { certificateLifetimes, startCertificateWatch } from '../esia/lifetimes.js';
import { watchCertificates } from '../metrics/registry.js';

export interface RunningServer {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

export async function startServer(
  app: AppContext,
  // periodicJobs: the purge and the account lifecycle; `serve --workers N` runs them in worker 1 only.
  { port = app.config.port, host = app.config.host, periodicJobs = true }: { port?: number; host?: string; periodicJobs?: boolean } = {},
): Promise<RunningServer> {
  const koa = buildApp(app);
  const server = http.createServer(koa.callback());
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  // Requests Node refuses before Koa sees them (an address or headers over 16 kB, a malformed
  // request line) get a short page in Russian and English instead of a bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') return socket.destroy();
    const status = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    const body = `<!DOCTYPE html><html lang="ru"><meta charset="utf-8"><title>Ошибка</title><h1>Ошибка запроса</h1><p>Слишком длинный или неверный адрес. Вернитесь назад и попробуйте ещё раз.</p><p lang="en">The address is too long or malformed.</p></html>`;
    socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  // Background queues run on every node unless this one is told not to (RUN_WORKERS=false).
  const workers = app.config.runWorkers
    ? [
        app.sessions.startWorker(),
        app.mail.startWorker(),
        app.recovery.startWorker(),
        ...(periodicJobs ? [startPurge(app.db, { intervalSeconds: app.config.purgeIntervalSeconds, logger: app.logger }), startLifecycle(app)] : []),
      ]
    : [];
  // The certificates' daily warning once per machine, like the purge; every process's metrics show them.
  if (app.esia && periodicJobs) workers.push(startCertificateWatch(app.config, app.logger));
  const unwatchCertificates = app.esia ? watchCertificates(() => certificateLifetimes(app.config)) : () => false;
  const { port: actual } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${actual}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const w of workers) w.stop();
      unwatchCertificates();
      app.oidc.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still running after 10 s are cut: a stuck client must not hold a deploy.
        setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, 10_000).unref();
      });
      await app.db.destroy();
    })());
  return { server, url, close };
}
