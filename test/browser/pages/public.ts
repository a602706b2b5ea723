/**
 * The catalogue of the pages people see without a console: home, login, registration, recovery,
 * consent, errors, the account page, Gosuslugi's pages and the provider's logout pages. Each case
 * brings a fresh browser (no cookies, in the case's language) to one page; checkCatalogue runs them
 * (test/browser/a11y-public.test.ts) and page-inventory.test.ts checks that, with the console's
 * catalogue, they cover every HTML route and every view.
 */
import type { Catalogue } from '../../helpers/page-check.js';
import { startTestServer, addSchool, addAccount, type TestServer } from '../../helpers/app.js';
import { discover, startLogin, oidc } from '../../helpers/rp.js';
import { insertClient } from '../../../src/oidc/clients.js';

interface Fixture {
  srv: TestServer;
  /** The journal's own web app (first party: no consent page). */
  rp: oidc.Configuration;
  /** A third-party app (consent page). */
  lib: oidc.Configuration;
  parent: Awaited<ReturnType<typeof addAccount>>;
}

const LIB_SECRET = 'library-secret-0123456789-0123456789-abcdef';

/** The login page of the journal's web app, in the school of number `school`. */
async function openLogin(page: import('playwright-core').Page, fx: Fixture, school = '1399') {
  const started = await startLogin(fx.rp, { redirect_uri: fx.srv.config.firstPartyClients.journalWeb.redirectUris[0]!, school });
  await page.goto(started.authUrl.toString());
}

export const publicPages: Catalogue<Fixture> = {
  title: 'pages without a console',
  async setup() {
    const srv = await startTestServer();
    const school = await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399' });
    const parent = await addAccount(srv.app, school, { login: 'vera', kind: 'parent' });
    await insertClient(srv.db, srv.config.secrets.keyEncryptionKey, {
      clientId: 'library', name: 'Школьная библиотека', firstParty: false, secret: LIB_SECRET,
      metadata: { client_id: 'library', redirect_uris: ['http://127.0.0.1:9/cb'], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
    });
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const lib = await discover(srv.url, 'library', LIB_SECRET);
    return { srv, rp, lib, parent, close: () => srv.close() };
  },
  cases: [
    {
      name: 'home',
      route: '/',
      view: 'message',
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/`)),
    },
    {
      name: 'login',
      route: '/interaction/:uid',
      view: 'login',
      screenshots: true,
      open: (page, fx) => openLogin(page, fx),
    },
    {
      name: 'registration',
      route: '/register',
      view: 'register-code',
      screenshots: true,
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/register`)),
    },
    {
      name: 'consent',
      route: '/interaction/:uid',
      view: 'consent',
      screenshots: true,
      async open(page, fx, say) {
        const started = await startLogin(fx.lib, { redirect_uri: 'http://127.0.0.1:9/cb', scope: 'openid profile school', school: '1399' });
        await page.goto(started.authUrl.toString());
        await page.getByLabel(say('Логин', 'Login')).fill('vera');
        await page.getByLabel(say('Пароль', 'Password')).fill(fx.parent.password);
        await page.getByRole('button', { name: say('Войти', 'Sign in'), exact: true }).click();
        await page.getByRole('button', { name: say('Разрешить', 'Allow') }).waitFor();
      },
    },
    {
      name: 'error',
      route: '/interaction/:uid',
      view: 'message',
      screenshots: true,
      errorStatus: true,
      open: async (page, fx) => void (await page.goto(`${fx.srv.url}/interaction/expired`)),
    },
  ],
};
