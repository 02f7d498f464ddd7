/**
 * The web application's front door in a real browser: `/` leads to /app, staff sign in with the
 * smartcard stand-in and a role profile, patients with NHS login, the home page is the role's,
 * sign-out ends the session and revokes its token, an idle session ends, and the session lives in
 * the store (a second platform on the same store serves the same cookie). Every page passes axe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { RevocationList } from '../src/security/accounts/revocations.js';
import { SESSION_TYPE } from '../src/security/accounts/sessions.js';
import { WEB_SESSION_TYPE } from '../src/services/web/web-session.js';
import { commitPatients, currentJane } from './helpers/pds-fixtures.js';
import {
  addPatientAccount,
  addStaff,
  browserSkip,
  expectAccessible,
  launchBrowser,
  mainText,
  openPage,
  screenshot,
  signInPatient,
  signInStaff,
  signOut,
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

const GP = {
  id: 'dr-web',
  name: 'Dr Web Example',
  pin: '2468',
  profiles: [
    { role: 'R8000', org: 'A81001' },
    { role: 'R5080', org: 'A81001' },
  ],
};
const JANE = {
  id: 'jane.smith',
  name: 'Jane Smith',
  pin: 'patient-pass-1',
  nhsNumber: '9000000009',
};

describe('web application: sign-in, home page, sign-out', { skip: browserSkip() }, () => {
  let web: WebPlatform;
  let browser: Browser;

  before(async () => {
    web = await startWebPlatform('sqlite');
    await commitPatients(web.platform.repo, [currentJane()]);
    await addStaff(web.platform, GP);
    await addPatientAccount(web.platform, JANE);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await web?.close();
  });

  it('/ leads to the start page, which offers both ways in', async () => {
    const { page, cspViolations } = await openPage(browser);
    await page.goto(`${web.base}/`);
    assert.equal(new URL(page.url()).pathname, '/app');
    assert.match(await mainText(page), /Health and care staff.*Patients/);
    await expectAccessible(page, 'start page');
    await screenshot(page, 'start');
    assert.deepEqual(cspViolations, []);
  });

  it('the sign-in and role pages of the identity provider pass the same accessibility checks', async () => {
    const { page, cspViolations } = await openPage(browser);
    await page.goto(`${web.base}/app`);
    await page.getByRole('button', { name: 'Sign in with your smartcard' }).click();
    await expectAccessible(page, 'sign-in page');
    await page.fill('#user', GP.id);
    await page.fill('#pin', 'wrong');
    await page.click('button[type=submit]');
    await expectAccessible(page, 'sign-in page with an error');
    await page.fill('#user', GP.id);
    await page.fill('#pin', GP.pin);
    await page.click('button[type=submit]');
    await expectAccessible(page, 'role profile page');
    await screenshot(page, 'sign-in-role');
    assert.deepEqual(cspViolations, []);
  });

  it('a clinician signs in with a role profile and sees the home page of that role; sign-out revokes', async () => {
    const { page, context, cspViolations } = await openPage(browser);
    const idpSessionsOf = () =>
      web.platform.repo.search({
        type: SESSION_TYPE,
        criteria: [{ any: [{ param: 'user', op: 'eq', value: GP.id }] }],
        limit: 100,
      });
    const before = new Set(await idpSessionsOf());
    await signInStaff(page, web.base, GP, { role: 'R8000', org: 'A81001' });
    const text = await mainText(page);
    assert.match(text, /Welcome, Dr Web Example/);
    assert.match(text, /Clinical Practitioner Access Role at A81001/);
    assert.match(text, /Find a patient/);
    assert.doesNotMatch(text, /Privacy alerts/, 'the clinician role has no audit reading');
    await expectAccessible(page, 'staff home');
    await screenshot(page, 'home-clinician');

    // the cookie holds only an opaque id: HttpOnly, SameSite, no tokens
    const cookie = (await context.cookies()).find((c) => c.name === 'openspine-session');
    assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Lax');
    assert.doesNotMatch(cookie.value, /\./, 'no JWT in the cookie');
    const res = await page.request.get(`${web.base}/app`);
    assert.equal(res.headers()['cache-control'], 'no-store');
    assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'self' 'nonce-/);

    await signOut(page, web.base);
    assert.match(await mainText(page), /You have signed out/);
    // the old cookie no longer opens a page
    await context.addCookies([{ ...cookie!, expires: -1 }]);
    await page.goto(`${web.base}/app/patients`);
    assert.equal(new URL(page.url()).pathname, '/app');
    assert.match(await mainText(page), /Sign in with your smartcard/);
    // the web session is ended in the store, and keeps no tokens
    const webSessions = await web.platform.repo.search({
      type: WEB_SESSION_TYPE,
      criteria: [{ any: [{ param: 'user', op: 'eq', value: GP.id }] }],
      limit: 100,
    });
    const stored = await web.platform.repo.readMany(WEB_SESSION_TYPE, webSessions);
    assert.equal(stored.length, 1, "the GP's only web session so far is this one");
    assert.equal(stored[0].resource.status, 'ended');
    assert.equal(stored[0].resource.sealedTokens, '');
    // and the identity provider's session behind it has ended, its tokens revoked on every node
    const mine = (await idpSessionsOf()).filter((id) => !before.has(id));
    const idp = await web.platform.repo.readMany(SESSION_TYPE, mine);
    assert.equal(idp.length, 1);
    const revocations = new RevocationList(web.platform.repo, 0);
    for (const s of idp) {
      assert.equal(s.resource.status, 'ended');
      assert.ok(await revocations.isRevoked({ session: s.id }));
    }
    assert.deepEqual(cspViolations, []);
  });

  it('the privacy officer profile of the same user sees the privacy journey instead', async () => {
    const { page } = await openPage(browser);
    await signInStaff(page, web.base, GP, { role: 'R5080', org: 'A81001' });
    const text = await mainText(page);
    assert.match(text, /Privacy alerts/);
    assert.doesNotMatch(text, /Find a patient/);
  });

  it('a patient signs in with NHS login and sees their own journeys', async () => {
    const { page } = await openPage(browser);
    await signInPatient(page, web.base, JANE);
    const text = await mainText(page);
    assert.match(text, /Signed in as Jane Smith/);
    assert.match(text, /Who has looked at my record/);
    await expectAccessible(page, 'patient home');
    await screenshot(page, 'home-patient');
  });

  it('a patient cannot open a staff page', async () => {
    const { page } = await openPage(browser);
    await signInPatient(page, web.base, JANE);
    const res = await page.goto(`${web.base}/app/patients`);
    assert.equal(res?.status(), 403);
    assert.match(await mainText(page), /You do not have permission/);
    await expectAccessible(page, 'error page');
  });

  const IDLE_S = 5;
  it('a session idle for longer than the idle time has ended, and signing out of it still works', async () => {
    // idle time long enough that a loaded machine's sign-in steps never outlast it (CI once did
    // with 2 s: the page asked for next was the start page, whose text also says "Find a patient")
    const idle = await startWebPlatform('sqlite', { config: { webSessionIdleSeconds: IDLE_S } });
    try {
      await addStaff(idle.platform, GP);
      const { page } = await openPage(browser);
      await signInStaff(page, idle.base, GP, { role: 'R8000', org: 'A81001' });
      await page.goto(`${idle.base}/app/patients`);
      assert.equal(new URL(page.url()).pathname, '/app/patients', 'in use, the session lives');
      assert.match(await mainText(page), /Find a patient/);
      await new Promise((r) => setTimeout(r, IDLE_S * 1000 + 500));
      // the header's sign-out button of a page left open: the session is gone, signing out is not refused
      await signOut(page, idle.base);
      await page.goto(`${idle.base}/app/patients`);
      assert.equal(new URL(page.url()).pathname, '/app');
      await signInStaff(page, idle.base, GP, { role: 'R8000', org: 'A81001' });
      await new Promise((r) => setTimeout(r, IDLE_S * 1000 + 500));
      await page.goto(`${idle.base}/app/patients`);
      assert.equal(new URL(page.url()).pathname, '/app');
      assert.match(await mainText(page), /Your session has ended/);
    } finally {
      await idle.close();
    }
  });

  it('an unknown page under /app is an NHS-style not found page', async () => {
    const { page } = await openPage(browser);
    const res = await page.goto(`${web.base}/app/no-such-page`);
    assert.equal(res?.status(), 404);
    assert.match(await mainText(page), /Not found/);
    await expectAccessible(page, 'not found');
  });
});
