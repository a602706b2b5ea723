/** Invite codes: what is generated, what typing mistakes are forgiven, what is stored. */
import { describe, it, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { CODE_ALPHABET, codeHmac, generateCode, normalizeCode, shapeOf } from '../../src/invites/code.js';

describe('invite codes', () => {
  it('are the role prefix and random characters without look-alikes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const c = generateCode('parent', 10);
      expect(c).toMatch(/^pt[a-z2-9]{10}$/);
      expect(c.slice(2)).not.toMatch(/[01oli]/);
      seen.add(c);
    }
    expect(seen.size).toBe(2000);
    expect(CODE_ALPHABET).toHaveLength(31);
    expect(generateCode('student', 7)).toMatch(/^st.{7}$/);
    expect(generateCode('teacher', 7).slice(0, 2)).toBe('tr');
    expect(generateCode('administration', 7).slice(0, 2)).toBe('ar');
  });

  it('are read forgivingly: case, spaces, dashes, dots and Cyrillic look-alikes', () => {
    expect(normalizeCode(' PT4K 7M-9X2Q.HR ')).toBe('pt4k7m9x2qhr');
    expect(normalizeCode('рт4к7м9х2qнr')).toBe('pt4k7m9x2qhr'); // typed on the Russian layout
    expect(normalizeCode('ＰＴ４ｋ')).toBe('pt4k'); // full-width
    expect(normalizeCode('pt–4k—7m')).toBe('pt4k7m');
  });

  it('have a shape: ours, another system’s, or not a code', () => {
    expect(shapeOf('pt4k7m9x2qhr')).toEqual({ shape: 'ours', role: 'parent' });
    expect(shapeOf('pt1o095tc')).toEqual({ shape: 'ours', role: 'parent' }); // the FAQ's example
    expect(shapeOf('xy4k7m9x2q')).toEqual({ shape: 'foreign', prefix: 'xy' });
    expect(shapeOf('12345678')).toEqual({ shape: 'malformed' });
    expect(shapeOf('pt12')).toEqual({ shape: 'malformed' });
    expect(shapeOf('pt4k7m9x2qhr<script>')).toEqual({ shape: 'malformed' });
    expect(shapeOf('')).toEqual({ shape: 'malformed' });
  });

  it('are stored as an HMAC under the pepper: another pepper gives another value', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(codeHmac(a, 'pt4k7m9x2qhr')).toMatch(/^[0-9a-f]{64}$/);
    expect(codeHmac(a, 'pt4k7m9x2qhr')).toBe(codeHmac(a, 'pt4k7m9x2qhr'));
    expect(codeHmac(a, 'pt4k7m9x2qhr')).not.toBe(codeHmac(b, 'pt4k7m9x2qhr'));
  });
});
