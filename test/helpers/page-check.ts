/**
 * The checks every page gets in Chromium, in Russian and English: it is the view it should be, in
 * the language asked for, with no console errors (CSP violations included), no serious or critical
 * accessibility violation (axe-core, WCAG 2.1 A/AA and best practices), and no horizontal scrolling
 * at a phone's width. Pages are listed in catalogues (test/browser/pages/*.ts); page-inventory.ts
 * checks that the catalogues cover every HTML route of the router and every view.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { launchChromium, artifact } from './chromium.js';

export type Locale = 'ru' | 'en';
/** The same words in the page's language: t('Войти', 'Sign in'). */
export type Say = (ru: string, en: string) => string;

export interface PageCase<F> {
  /** Names the case, its screenshots and failures. */
  name: string;
  /** The router pattern (or the provider's path) this case shows, e.g. '/interaction/:uid'. */
  route: string;
  /** The view the page ends on: <body data-view>, e.g. 'login' or 'console/users'. */
  view: string;
  /**
   * Brings `page` (a fresh browser context in `locale`, no cookies) to the page. Cases run in
   * order within a catalogue and may rely on what earlier ones left in the database.
   */
  open(page: Page, fx: F, say: Say, locale: Locale): Promise<void>;
  /** Screenshots at desktop and phone widths, kept for people (and the README): the key pages. */
  screenshots?: boolean;
  /** The page answers with this 4xx/5xx status: Chromium logs it as "Failed to load resource". */
  errorStatus?: boolean;
}

export interface Catalogue<F> {
  title: string;
  /** Starts the server and makes the people, schools and apps the cases need. */
  setup(): Promise<F & { close(): Promise<void> }>;
  cases: PageCase<F>[];
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface Violation {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * axe-core's serious and critical violations on the page as it is. The script is evaluated through
 * the DevTools protocol, which the page's CSP (script-src 'self') does not govern.
 */
export async function accessibilityViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(`axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    resultTypes: ['violations'],
  }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) })))`)) as Violation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Whether the page scrolls sideways at the current viewport. */
export async function overflowsSideways(page: Page): Promise<boolean> {
  return (await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')) as boolean;
}

export interface PageReport {
  view: string | null;
  lang: string | null;
  violations: Violation[];
  consoleErrors: string[];
  overflowAtPhoneWidth: boolean;
}

/** Runs every check on the page `open` brought up, with screenshots when asked. */
export async function examine(page: Page, name: string, opts: { screenshots?: boolean; errors: string[] }): Promise<PageReport> {
  await page.waitForLoadState('load');
  const report: PageReport = {
    view: await page.locator('body').getAttribute('data-view'),
    lang: await page.locator('html').getAttribute('lang'),
    violations: await accessibilityViolations(page),
    consoleErrors: [...opts.errors],
    overflowAtPhoneWidth: false,
  };
  if (opts.screenshots) await page.screenshot({ path: artifact(`screenshots/${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  report.overflowAtPhoneWidth = await overflowsSideways(page);
  if (opts.screenshots) await page.screenshot({ path: artifact(`screenshots/${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
  return report;
}

/**
 * Jest tests for a catalogue: one server for the file, and for each language a fresh browser
 * context per case, checked with `examine`.
 */
export function checkCatalogue<F>(catalogue: Catalogue<F>): void {
  describe(catalogue.title, () => {
    let chromium: Chromium;
    let fx: F & { close(): Promise<void> };
    beforeAll(async () => {
      fs.mkdirSync(artifact('screenshots'), { recursive: true });
      fx = await catalogue.setup();
      chromium = await launchChromium();
    });
    afterAll(async () => {
      await chromium?.close();
      await fx?.close();
    });

    for (const c of catalogue.cases) {
      it(`${c.name} (${c.route} → ${c.view}) in Russian and English`, async () => {
        for (const locale of ['ru', 'en'] as const) {
          const context: BrowserContext = await chromium.newContext({ locale, viewport: DESKTOP });
          try {
            const page = await context.newPage();
            const errors: string[] = [];
            page.on('console', (m) => {
              if (m.type() !== 'error') return;
              if (c.errorStatus && /Failed to load resource/.test(m.text())) return;
              errors.push(m.text());
            });
            const say: Say = (ru, en) => (locale === 'ru' ? ru : en);
            await c.open(page, fx, say, locale);
            const report = await examine(page, `${c.name}-${locale}`, { screenshots: c.screenshots, errors });
            expect({ case: c.name, locale, ...report }).toEqual({
              case: c.name, locale, view: c.view, lang: locale, violations: [], consoleErrors: [], overflowAtPhoneWidth: false,
            });
          } finally {
            await context.close();
          }
        }
      });
    }
  });
}
