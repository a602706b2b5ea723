/** TOTP against the RFCs' own test vectors (RFC 6238 appendix B, RFC 4648 §10). */
import { describe, it, expect } from '@jest/globals';
import { base32Decode, base32Encode, generateSecret, hotp, matchingStep, otpauthUri, stepAt, totp } from '../../src/mfa/totp.js';

const SECRET = base32Encode(Buffer.from('12345678901234567890', 'ascii'));

describe('TOTP', () => {
  it.each([
    [59, '287082'],
    [1111111109, '081804'],
    [1111111111, '050471'],
    [1234567890, '005924'],
    [2000000000, '279037'],
  ])('RFC 6238 SHA-1 vector at T=%i (last six digits)', (t, code) => {
    expect(totp(SECRET, t * 1000)).toBe(code);
  });

  it('RFC 4226 HOTP vectors (counter 0 and 9)', () => {
    const key = Buffer.from('12345678901234567890', 'ascii');
    expect(hotp(key, 0)).toBe('755224');
    expect(hotp(key, 9)).toBe('520489');
  });

  it('base32 as RFC 4648 writes it, and back', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW 6YTB OI======').toString()).toBe('foobar');
    const s = generateSecret();
    expect(s).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Encode(base32Decode(s))).toBe(s);
  });

  it('accepts the step before, now and after; not two away; only six digits', () => {
    const now = 1_700_000_000_000;
    for (const d of [-1, 0, 1]) expect(matchingStep(SECRET, totp(SECRET, now + d * 30_000), now)).toBe(stepAt(now) + d);
    expect(matchingStep(SECRET, totp(SECRET, now + 60_000), now)).toBeUndefined();
    expect(matchingStep(SECRET, `${totp(SECRET, now).slice(0, 3)} ${totp(SECRET, now).slice(3)}`, now)).toBe(stepAt(now));
    for (const bad of ['', '12345', '1234567', 'abcdef', '１２３４５６']) expect(matchingStep(SECRET, bad, now)).toBeUndefined();
  });

  it('the otpauth URI authenticator apps read', () => {
    const uri = new URL(otpauthUri('Электронный журнал', 'curator', SECRET));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(SECRET);
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
  });
});
