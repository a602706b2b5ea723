/**
 * `/hello`, the school search of the apps: number or name and region, case and «ё» do not
 * matter, parts of words are enough; the chosen school is remembered for the login form.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestServer, addSchool, type TestServer } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { discover, startLogin, openLoginPage } from '../helpers/rp.js';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
  await addSchool(srv.db, { number: '1399', slug: '1399', name: 'Школа № 1399', region: 'Москва' });
  await addSchool(srv.db, { number: '5', slug: 'korolev-5', name: 'Лицей № 5 имени Ю. А. Гагарина', region: 'Московская область, Королёв' });
  await addSchool(srv.db, { number: '5', slug: 'tver-5', name: 'Средняя школа № 5', region: 'Тверь' });
});
afterAll(async () => srv?.close());

const names = (html: string) => [...html.matchAll(/class="choice"[^>]*>([^<]+)</g)].map((m) => m[1]!.replace(/&quot;/g, '"'));

describe('/hello', () => {
  it('finds schools by number, name, region, parts of words, whatever the case and «ё»', async () => {
    const b = new Browser(srv.url);
    const search = async (q: string) => {
      const r = await b.request(`/hello?q=${encodeURIComponent(q)}`);
      return { status: r.status, found: names(await r.text()) };
    };
    expect((await search('1399')).found).toEqual(['№1399 — Школа № 1399 (Москва)']);
    expect((await search('5')).found).toHaveLength(2);
    expect((await search('5 тверь')).found).toEqual(['№5 — Средняя школа № 5 (Тверь)']);
    expect((await search('ЛИЦЕЙ королев')).found).toHaveLength(1);
    expect((await search('гагар корол')).found).toHaveLength(1);
    expect((await search('Королёв')).found).toHaveLength(1);
    const none = await search('школа волшебства');
    expect(none).toEqual({ status: 404, found: [] });
    expect((await search("100%_'\\")).status).toBe(404);
  });

  it('choosing a school opens its login form with «Забыли пароль?», and later logins remember it', async () => {
    const b = new Browser(srv.url);
    const { res, url } = await b.follow('/hello/korolev-5');
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(new URL(url).pathname).toMatch(/^\/interaction\//);
    expect(html).toContain('Вход в журнал');
    expect(html).toContain('Лицей № 5 имени Ю. А. Гагарина');
    expect(html).toContain('href="/recover?school=korolev-5"');
    expect(html).toContain('Пригласительный код');
    // An app's next login shows that school's form without asking.
    const rp = await discover(srv.url, 'journal-web', srv.config.secrets.journalWebClientSecret);
    const login = await openLoginPage(b, (await startLogin(rp, { redirect_uri: srv.config.firstPartyClients.journalWeb.redirectUris[0]! })).authUrl);
    expect(login.html).toContain('Лицей № 5 имени Ю. А. Гагарина');
    expect(await (await b.request('/hello')).text()).toContain('Ваша школа:');
    expect((await b.request('/hello/nope')).status).toBe(404);
  });
});
