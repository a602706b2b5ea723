/** docs/account-effects.md shows the side-effect table as the code has it (`npm run docs:effects`). */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { renderEffectTables, withRenderedTables } from '../../src/accounts/effects-doc.js';
import { EFFECTS } from '../../src/accounts/effects.js';

const page = fs.readFileSync(new URL('../../docs/account-effects.md', import.meta.url), 'utf8');

describe('docs/account-effects.md', () => {
  it('holds the tables rendered from src/accounts/effects.ts (run `npm run docs:effects` after changing a row)', () => {
    expect(page).toBe(withRenderedTables(page));
  });

  it('names every cause of the table once', () => {
    const rendered = renderEffectTables();
    for (const cause of Object.keys(EFFECTS)) expect(rendered.split(`| \`${cause}\` |`)).toHaveLength(2);
  });
});
