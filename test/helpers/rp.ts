/** A relying party driven by openid-client over real HTTP, with a browser that logs in. */
import * as oidc from 'openid-client';
import { Browser, formOf } from './browser.js';

export async function discover(issuer: string, clientId: string, secret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(issuer),
    clientId,
    secret ? { client_secret: secret } : { token_endpoint_auth_method: 'none' },
    secret ? oidc.ClientSecretBasic(secret) : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
}

export interface StartedLogin {
  authUrl: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function startLogin(config: oidc.Configuration, params: Record<string, string>): Promise<StartedLogin> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authUrl = oidc.buildAuthorizationUrl(config, {
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { authUrl, verifier, state, nonce };
}

/** Opens the authorization URL; returns the login page's HTML and URL. */
export async function openLoginPage(browser: Browser, authUrl: URL): Promise<{ html: string; url: string; status: number }> {
  const { res, url } = await browser.follow(authUrl.toString());
  return { html: await res.text(), url, status: res.status };
}

/** Submits the login form on `html`; returns where the browser ends up (the RP's callback, or a page). */
export async function submitLogin(
  browser: Browser,
  html: string,
  login: string,
  password: string,
  extra: Record<string, string> = {},
): Promise<{ res: Response; url: string }> {
  const form = formOf(html, /\/login$/);
  const res = await browser.postForm(form.action, { ...form.fields, login, password, ...extra });
  if (res.status >= 300 && res.status < 400) return browser.follow(new URL(res.headers.get('location')!, browser.base).toString());
  return { res, url: form.action };
}

/** Full login: returns the callback URL with the code (after consent if a page shows). */
export async function login(
  browser: Browser,
  started: StartedLogin,
  loginName: string,
  password: string,
): Promise<URL> {
  const page = await openLoginPage(browser, started.authUrl);
  const { res, url } = await submitLogin(browser, page.html, loginName, password);
  return continueToRp(browser, res, url);
}

/**
 * From a page inside journal-id after the login step, on to the relying party: «Позже» on the
 * email prompt, «Разрешить» on consent. Returns the callback URL with the code.
 */
export async function continueToRp(browser: Browser, res: Response, url: string): Promise<URL> {
  if (!url.startsWith(browser.base)) return new URL(url);
  let html = await res.text();
  // «Обновление информации о пользователе»: «Позже» goes on to the app.
  if (/\/email"/.test(html)) {
    const form = formOf(html, /\/email$/);
    const r = await browser.postForm(form.action, { ...form.fields, action: 'later' });
    ({ res, url } = await browser.follow(new URL(r.headers.get('location')!, browser.base).toString()));
    if (!url.startsWith(browser.base)) return new URL(url);
    html = await res.text();
  }
  if (/\/consent"/.test(html)) {
    const form = formOf(html, /\/consent$/);
    const r = await browser.postForm(form.action, { ...form.fields, decision: 'allow' });
    ({ url } = await browser.follow(new URL(r.headers.get('location')!, browser.base).toString()));
    if (!url.startsWith(browser.base)) return new URL(url);
  }
  throw new Error(`login did not reach the relying party; ended at ${url} (${res.status}):\n${html.slice(0, 1500)}`);
}

export { oidc };
