/** The redirect-URI rule of registered clients (DCR and `client add`), case by case. */
import { describe, it, expect } from '@jest/globals';
import { redirectUriProblem, redirectUrisProblem, type ApplicationType } from '../../src/clients/redirect-uris.js';

const cases: [string, ApplicationType, RegExp | null][] = [
  ['https://lib.example.ru/callback', 'web', null],
  ['https://lib.example.ru:8443/cb?x=1', 'web', null],
  ['https://lib.example.ru/callback', 'native', null],
  ['http://127.0.0.1:8765/cb', 'native', null],
  ['http://127.0.0.1/cb', 'native', null],
  ['http://[::1]:8765/cb', 'native', null],
  ['http://localhost:8765/cb', 'native', null],
  ['ru.school.diary:/callback', 'native', null],
  ['RU.School.Diary:/callback', 'native', null],
  ['com.example.app://oauth', 'native', /without an authority/],
  ['ru.school.app://evil.example/cb', 'native', /without an authority/],
  ['ru.school.app:cb', 'native', /without an authority/],
  ['https://lib.example.ru\\@evil.example/cb', 'web', /backslash/],
  ['https://lib.example.ru%2F@evil.example/cb', 'web', /percent-encode/],
  ['https://lib.example.ru%2Eevil.example/cb', 'web', /percent-encode/],
  ['https:evil.example/cb', 'web', /scheme:\/\/host/],
  ['https:/evil.example/cb', 'web', /scheme:\/\/host/],
  ['http://0x7f.1/cb', 'native', /as it is read/],
  ['https://LIB.example.ru:443/cb', 'web', null],
  ['https://школа.рф/cb', 'web', null],
  ['http://evil.example/cb', 'web', /https/],
  ['http://evil.example/cb', 'native', /loopback/],
  ['http://127.0.0.1:8765/cb', 'web', /https/],
  ['http://localhost.evil.example/cb', 'native', /loopback/],
  ['http://127.0.0.1.nip.io/cb', 'native', /loopback/],
  ['ru.school.diary:/callback', 'web', /https/],
  ['myapp:/callback', 'native', /private-use/],
  ['javascript:alert(1)', 'native', /private-use/],
  ['javascript:alert(1)', 'web', /https/],
  ['data:text/html,hi', 'native', /private-use/],
  ['file:///etc/passwd', 'native', /private-use/],
  ['https://lib.example.ru/cb#frag', 'web', /fragment/],
  ['https://lib.example.ru/cb#', 'web', /fragment/],
  ['https://*.example.ru/cb', 'web', /wildcard/],
  ['https://lib.example.ru/%2A', 'web', /wildcard/],
  ['https://user:pw@lib.example.ru/cb', 'web', /credentials/],
  ['https://lib.example.ru/a b', 'web', /spaces/],
  ['not a url', 'web', /spaces|absolute/],
  ['/relative/cb', 'web', /absolute/],
  ['', 'web', /non-empty/],
];

describe('redirectUriProblem', () => {
  it.each(cases)('%s (%s)', (uri, type, expected) => {
    const problem = redirectUriProblem(uri, type);
    if (expected) expect(problem).toMatch(expected);
    else expect(problem).toBeUndefined();
  });

  it('refuses what is not a string', () => {
    expect(redirectUriProblem(42)).toMatch(/string/);
    expect(redirectUriProblem(null, 'native')).toMatch(/string/);
  });
});

describe('redirectUrisProblem (client metadata)', () => {
  it('names the field, so oidc-provider answers invalid_redirect_uri for redirect_uris', () => {
    expect(redirectUrisProblem({ redirect_uris: ['https://a.example/cb', 'http://evil.example'] })).toMatch(/^redirect_uris: "http:\/\/evil\.example" must use https$/);
    expect(redirectUrisProblem({ redirect_uris: 'https://a.example/cb' })).toBe('redirect_uris must be an array');
    expect(redirectUrisProblem({ redirect_uris: ['https://a.example/cb'], post_logout_redirect_uris: ['https://a.example/#x'] })).toMatch(/^post_logout_redirect_uris: .* fragment/);
  });

  it('applies the native exceptions only to application_type native', () => {
    const uris = ['http://127.0.0.1:9000/cb', 'ru.school.app:/cb'];
    expect(redirectUrisProblem({ application_type: 'native', redirect_uris: uris })).toBeUndefined();
    expect(redirectUrisProblem({ redirect_uris: uris })).toMatch(/must use https/);
    expect(redirectUrisProblem({})).toBeUndefined();
  });
});
