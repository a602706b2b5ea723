/**
 * A minimal browser for HTTP tests: a cookie jar honouring cookie paths, manual redirects,
 * and helpers to read and submit the server's HTML forms.
 */
interface Cookie {
  name: string;
  value: string;
  path: string;
}

export class Browser {
  private cookies: Cookie[] = [];
  constructor(readonly base: string) {}

  cookieHeader(url: URL): string {
    return this.cookies
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  cookie(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  clearCookies(): void {
    this.cookies = [];
  }

  /** Another browser holding copies of this one's cookies whose names match (a stolen cookie). */
  copy(names: RegExp = /./): Browser {
    const other = new Browser(this.base);
    other.cookies = this.cookies.filter((c) => names.test(c.name)).map((c) => ({ ...c }));
    return other;
  }

  private store(res: Response, url: URL): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const cpath = pathAttr ? pathAttr.slice(5) : url.pathname.replace(/\/[^/]*$/, '') || '/';
      const expired = attrs.some((a) => /^expires=thu, 01 jan 1970/i.test(a.trim())) || value === '';
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === cpath));
      if (!expired) this.cookies.push({ name, value, path: cpath });
    }
  }

  async request(input: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input, this.base);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(url);
    if (cookie) headers.set('cookie', cookie);
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(res, url);
    return res;
  }

  /** Follows redirects within journal-id; stops at the first response elsewhere (the RP). */
  async follow(input: string, init: RequestInit = {}): Promise<{ res: Response; url: string }> {
    let url = new URL(input, this.base).toString();
    let res = await this.request(url, init);
    for (let i = 0; i < 20 && res.status >= 300 && res.status < 400; i++) {
      const next = new URL(res.headers.get('location')!, url).toString();
      if (!next.startsWith(this.base)) return { res, url: next };
      url = next;
      res = await this.request(url);
    }
    return { res, url };
  }

  async postForm(input: string, fields: Record<string, string>): Promise<Response> {
    return this.request(input, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

/** The action and hidden fields of the first form on a page (or the one whose action matches). */
export function formOf(html: string, actionMatch?: RegExp): { action: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((f) => !actionMatch || actionMatch.test(f[1]!));
  if (!form) throw new Error(`no form${actionMatch ? ` matching ${actionMatch}` : ''} in page:\n${html.slice(0, 2000)}`);
  const fields: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
    if (name) fields[name] = decodeEntities(value);
  }
  return { action: decodeEntities(form[1]!), fields };
}

function decodeEntities(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** Signs in to /account through the login form (the browser becomes a known device of the account); returns the page. */
export async function openAccount(browser: Browser, who: { login: string; password: string }): Promise<string> {
  const form = formOf(await (await browser.follow('/account')).res.text(), /\/login$/);
  const res = await browser.postForm(form.action, { ...form.fields, login: who.login, password: who.password });
  const end = await browser.follow(new URL(res.headers.get('location')!, browser.base).toString());
  if (new URL(end.url).pathname !== '/account') throw new Error(`signing in to /account ended on ${end.url}`);
  return end.res.text();
}
