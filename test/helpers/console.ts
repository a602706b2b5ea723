/**
 * Logs a curator in to /console in a fresh browser: the school, the password, the authenticator
 * code. `{ platform: true }`: a platform admin or support (no school) through /console/platform;
 * `{ browser }`: in that browser (e.g. one behind a proxy) instead of a fresh one.
 */
import { expect } from '@jest/globals';
import { Browser, formOf } from './browser.js';
import { submitLogin } from './rp.js';
import { totp } from '../../src/mfa/totp.js';

export async function consoleLogin(base: string, school: string, who: { login: string; password: string }, opts: { platform?: boolean; browser?: Browser } = {}): Promise<Browser> {
  const home = opts.platform ? '/console/platform' : '/console';
  const browser = opts.browser ?? new Browser(base);
  let { res, url } = await browser.follow(home);
  let html = await res.text();
  if (/action="[^"]*\/school"/.test(html)) {
    const choose = formOf(html, /\/school$/);
    const chosen = await browser.postForm(choose.action, { ...choose.fields, query: school });
    ({ res, url } = await browser.follow(new URL(chosen.headers.get('location')!, base).toString()));
    html = await res.text();
  }
  expect(url).toContain('/interaction/');
  ({ res } = await submitLogin(browser, html, who.login, who.password));
  html = await res.text();
  const secret = /<code class="key">([A-Z2-7 ]+)<\/code>/.exec(html)?.[1]?.replace(/ /g, '');
  expect(secret).toBeTruthy();
  const form = formOf(html, /\/mfa$/);
  const r = await browser.postForm(form.action, { ...form.fields, code: totp(secret!) });
  const end = await browser.follow(new URL(r.headers.get('location')!, base).toString());
  expect(end.url).toBe(`${base}${home}`);
  return browser;
}
