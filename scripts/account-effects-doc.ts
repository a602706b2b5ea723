/** `npm run docs:effects`: writes docs/account-effects.md's tables from src/accounts/effects.ts. */
import fs from 'node:fs';
import { withRenderedTables } from '../src/accounts/effects-doc.js';

const file = new URL('../docs/account-effects.md', import.meta.url);
fs.writeFileSync(file, withRenderedTables(fs.readFileSync(file, 'utf8')));
process.stdout.write('docs/account-effects.md: tables rendered from src/accounts/effects.ts\n');
