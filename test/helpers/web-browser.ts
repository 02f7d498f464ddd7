/**
 * The web application in a real browser: Debian's chromium driven by playwright-core, against a
 * whole platform listening on a free port. Sign-in helpers go through the real pages (the
 * identity provider's sign-in and role choice), accessibility checks run axe-core on the page as
 * rendered, and screenshots go to .tmp/screenshots/ (docs/ keeps a few).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { UserDirectory } from '../../src/security/accounts/users.js';
import { startTestPlatform, type TestPlatform, type TestPlatformOptions } from './platform.js';
import type { StoreKind } from './stores.js';

export const CHROMIUM = '/usr/bin/chromium';
const required = process.env.OPENSPINE_REQUIRE_BROWSER === '1';
export const browserAvailable = existsSync(CHROMIUM);

/** The `skip` option for a browser describe: runs where chromium is, and CI requires it. */
export function browserSkip(): string | false {
  if (browserAvailable || required) return false;
  console.log(
    `# ${CHROMIUM} not found: browser tests are skipped (CI installs chromium and requires it)`,
  );
  return 'chromium not installed';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface WebPlatform {
  platform: TestPlatform;
  /** http://127.0.0.1:<port> */
  base: string;
  close(): Promise<void>;
}

/** A whole platform listening on a free port, its public URL its own address. */
export async function startWebPlatform(
  kind: StoreKind,
  options: TestPlatformOptions = {},
): Promise<WebPlatform> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const platform = await startTestPlatform(kind, {
    ...options,
    config: { publicUrl: base, port, ...options.config },
  });
  await platform.app.listen({ port, host: '127.0.0.1' });
  return { platform, base, close: () => platform.close() };
}

export async function launchBrowser(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is required here (OPENSPINE_REQUIRE_BROWSER=1): apt-get install chromium`,
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/**
 * A fresh browser context (its own cookies: one person) and page. Content Security Policy
 * violations the page reports are collected in `cspViolations`; a test should expect none.
 */
export async function openPage(
  browser: Browser,
  opts: { width?: number; javaScript?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page; cspViolations: string[] }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: 900 },
    javaScriptEnabled: opts.javaScript ?? true,
  });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
  });
  return { context, page, cspViolations };
}

export interface StaffUser {
  id: string;
  name: string;
  pin: string;
  profiles: { role: string; org: string }[];
}

/** Adds a staff user (smartcard holder) with role profiles to the platform's user directory. */
export async function addStaff(platform: TestPlatform, user: StaffUser): Promise<void> {
  await new UserDirectory(platform.repo).add(user);
}

/** Adds a patient's NHS login account. */
export async function addPatientAccount(
  platform: TestPlatform,
  account: { id: string; name: string; pin: string; nhsNumber: string },
): Promise<void> {
  await new UserDirectory(platform.repo).addPatient(account);
}

/**
 * Signs a staff user in through the real pages: the start page, the smartcard stand-in, the role
 * profile (the one at `org` with `role`, or the first), back to the application's home page.
 */
export async function signInStaff(
  page: Page,
  base: string,
  user: { id: string; pin: string },
  profile?: { role: string; org: string },
): Promise<void> {
  await page.goto(`${base}/app`);
  await page.getByRole('button', { name: 'Sign in with your smartcard' }).click();
  await page.fill('#user', user.id);
  await page.fill('#pin', user.pin);
  await page.click('button[type=submit]');
  if (profile) {
    await page
      .locator('label.profile', { hasText: `(${profile.role}) at` })
      .filter({ hasText: profile.org })
      .locator('input')
      .check();
  }
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/app`);
}

/** Signs a patient in with their NHS login account. */
export async function signInPatient(
  page: Page,
  base: string,
  account: { id: string; pin: string },
): Promise<void> {
  await page.goto(`${base}/app`);
  await page.getByRole('button', { name: 'Continue with NHS login' }).click();
  await page.fill('#user', account.id);
  await page.fill('#pin', account.pin);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/app`);
}

/** Signs out with the header's button and waits for the start page. */
export async function signOut(page: Page, base: string): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/app?signed-out=1`);
}

/**
 * Runs axe-core on the page as rendered, against WCAG 2.2 A and AA: any serious or critical
 * violation fails the test, named with its rule and the elements it found.
 */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    ),
    [],
    `${label}: accessibility violations`,
  );
}

const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');

/** Saves a full-page screenshot as .tmp/screenshots/<name>.png (and returns the path). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The text of the page's main content (what a person reads, without header and footer). */
export async function mainText(page: Page): Promise<string> {
  return (await page.locator('main').innerText()).replace(/\s+/g, ' ');
}
