/** Every page of the public catalogue in Chromium, both languages: see test/helpers/page-check.ts. */
import { checkCatalogue } from '../helpers/page-check.js';
import { publicPages } from './pages/public.js';

checkCatalogue(publicPages);
