/** Every page of the console's catalogue in Chromium, both languages: see test/helpers/page-check.ts. */
import { checkCatalogue } from '../helpers/page-check.js';
import { consolePages } from './pages/console.js';

checkCatalogue(consolePages);
