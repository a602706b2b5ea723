/**
 * The browser catalogues (test/browser/pages/*.ts) cover every page: every GET route of the router
 * is either a case or listed below as not a page (with the reason), the provider's own pages are
 * cases, and every view is where some case ends. A new HTML route or view without a case fails here.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/app.js';
import { buildRouter } from '../../src/server/app.js';
import { VIEWS_DIR } from '../../src/server/paths.js';
import { publicPages } from './pages/public.js';
import { consolePages } from './pages/console.js';

const CASES = [...publicPages.cases, ...consolePages.cases];

/** GET routes of ours that answer with something other than a page. */
const NOT_PAGES: Record<string, string> = {
  '/healthz': 'JSON: liveness',
  '/readyz': 'JSON: readiness',
  '/account/data.json': 'JSON: «Скачать мои данные»',
  '/account/callback': 'redirect: the account area returns from its login',
  '/console/callback': 'redirect: the console returns from its login',
  '/console/login': 'redirect: the console starts its login',
  '/console/platform/login': 'redirect: the platform console starts its login',
  '/interaction/:uid/abort': 'redirect: back to the app with access_denied',
  '/interaction/:uid/esia': 'redirect: on to Gosuslugi with a signed request',
  '/esia/callback': 'redirect: back from Gosuslugi to the interaction',
  [String(/^\/admin\/api(\/|$)/)]: 'JSON: the admin API (its document: /admin/api/v1/openapi.json)',
};

/** Pages oidc-provider renders itself (through src/oidc/pages.ts), not on our router. */
const PROVIDER_PAGES = ['/session/end', '/session/end/success'];

/** Views under views/ that are pages (they extend the layout) or printed documents of their own. */
function views(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'email') walk(file); // letters are checked by the mail tests
      } else if (entry.name.endsWith('.pug')) {
        const text = fs.readFileSync(file, 'utf8');
        if (/^extends\b/m.test(text) || /^doctype html/m.test(text)) found.push(path.relative(VIEWS_DIR, file).replace(/\.pug$/, ''));
      }
    }
  };
  walk(VIEWS_DIR);
  return found.filter((v) => v !== 'layout').sort();
}

describe('the page catalogues cover every page', () => {
  let srv: TestServer;
  let routes: string[];
  beforeAll(async () => {
    srv = await startTestServer();
    routes = buildRouter(srv.app).stack.filter((l) => l.methods.includes('GET')).map((l) => String(l.path));
  });
  afterAll(async () => srv?.close());

  it('every GET route is a page with a case, or is listed as not a page', () => {
    const covered = new Set(CASES.map((c) => c.route));
    const missing = routes.filter((r) => !covered.has(r) && !(r in NOT_PAGES));
    expect(missing).toEqual([]);
  });

  it("the provider's own pages have cases", () => {
    const covered = new Set(CASES.map((c) => c.route));
    expect(PROVIDER_PAGES.filter((p) => !covered.has(p))).toEqual([]);
  });

  it('no case or exception names a route that does not exist', () => {
    const known = new Set([...routes, ...PROVIDER_PAGES]);
    expect([...new Set(CASES.map((c) => c.route))].filter((r) => !known.has(r))).toEqual([]);
    expect(Object.keys(NOT_PAGES).filter((r) => !known.has(r))).toEqual([]);
  });

  it('every view is where some case ends, and every case ends on a view that exists', () => {
    const all = views();
    const ended = new Set(CASES.map((c) => c.view));
    expect(all.filter((v) => !ended.has(v))).toEqual([]);
    expect([...ended].filter((v) => !all.includes(v))).toEqual([]);
  });

  it('case names are unique (they name the screenshots)', () => {
    const names = CASES.map((c) => c.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });
});
