/**
 * Audit from the request (issue 17.4): the writer bound to a request knows its address and request
 * id; only the surface that authenticated someone names the actor; the CLI acts as its operator.
 * Over real HTTP through the middleware the app uses, against a real database.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { listAudit } from '../../src/audit/audit.js';
import { actAs, auditOf, boundAudit, cliAudit, requestAudit } from '../../src/audit/bound.js';
import { requestContext } from '../../src/server/request-context.js';
import { createLogger } from '../../src/server/logger.js';

let t: TestDb;
let server: Server;
let url: string;

beforeAll(async () => {
  t = await createTestDb();
  const koa = new Koa();
  koa.use(requestContext(createLogger('silent'), { trustProxy: false }));
  koa.use(requestAudit(t.db));
  koa.use(async (ctx) => {
    if (ctx.path === '/as-person') actAs(ctx, { type: 'user', id: 'person-1' });
    await auditOf(ctx).record({ action: `test.${ctx.path.slice(1)}`, target: { type: 'user', id: 'target-1' }, details: { password: 'never stored', n: 1 } });
    ctx.body = 'ok';
  });
  server = koa.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.close();
});

describe('the request’s bound audit writer', () => {
  it('records the address and the request id the response carries; the actor is anonymous until a surface names someone', async () => {
    const r = await fetch(`${url}/anonymous`);
    const [row] = await listAudit(t.db, { action: 'test.anonymous', limit: 1 });
    expect(row).toMatchObject({ actor: { type: 'anonymous', id: null }, target: { type: 'user', id: 'target-1' }, requestId: r.headers.get('x-request-id'), details: { n: 1 } });
    expect(row!.ip).toMatch(/127\.0\.0\.1/);
    expect(row!.details).not.toHaveProperty('password');
  });

  it('acts as whoever the surface authenticated, in the same request', async () => {
    const r = await fetch(`${url}/as-person`);
    const [row] = await listAudit(t.db, { action: 'test.as-person', limit: 1 });
    expect(row).toMatchObject({ actor: { type: 'user', id: 'person-1' }, requestId: r.headers.get('x-request-id') });
  });

  it('a writer is immutable: as() gives another, the first keeps its actor', async () => {
    const base = boundAudit(t.db, { actor: { type: 'anonymous' }, ip: '203.0.113.9', requestId: 'req-immutable', clientId: 'journal-web' });
    const curator = base.as({ type: 'user', id: 'curator-1' });
    await base.record({ action: 'test.immutable.base' });
    await curator.record({ action: 'test.immutable.curator', clientId: 'other-app' });
    expect((await listAudit(t.db, { action: 'test.immutable.base', limit: 1 }))[0]).toMatchObject({ actor: { type: 'anonymous' }, clientId: 'journal-web' });
    // The event's own client (the app a change concerns) wins over the request's.
    expect((await listAudit(t.db, { action: 'test.immutable.curator', limit: 1 }))[0]).toMatchObject({ actor: { type: 'user', id: 'curator-1' }, ip: '203.0.113.9', requestId: 'req-immutable', clientId: 'other-app' });
    expect(() => {
      (base.binding.actor as { id?: string }).id = 'forged';
    }).toThrow();
  });

  it('the CLI acts as its operator', async () => {
    await cliAudit(t.db).record({ action: 'test.cli' });
    const [row] = await listAudit(t.db, { action: 'test.cli', limit: 1 });
    expect(row!.actor.type).toBe('cli');
    expect(row!.actor.id).toBeTruthy();
  });

  it('a transaction given to record() takes the record with it when it rolls back', async () => {
    const writer = cliAudit(t.db);
    await expect(
      t.db.transaction(async (trx) => {
        await writer.record({ action: 'test.rolled-back' }, trx);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await listAudit(t.db, { action: 'test.rolled-back', limit: 1 })).toEqual([]);
  });
});
