/**
 * The catalogue of the console's pages: a school curator's (/console) and the platform's
 * (/console/platform). See test/browser/pages/public.ts for how catalogues work.
 */
import type { Catalogue } from '../../helpers/page-check.js';
import { startTestServer, type TestServer } from '../../helpers/app.js';

interface Fixture {
  srv: TestServer;
}

export const consolePages: Catalogue<Fixture> = {
  title: 'console pages',
  async setup() {
    const srv = await startTestServer();
    return { srv, close: () => srv.close() };
  },
  cases: [
    {
      // Without a session the console sends a curator to log in: the school choice comes first.
      name: 'console-login-school',
      route: '/console',
      view: 'school',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/console`)),
    },
  ],
};
