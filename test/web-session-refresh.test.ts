/**
 * Token refresh under the web application, and errors as pages. Access tokens here live 31 s, so
 * every API call a page makes finds its token due for refresh (the client refreshes 30 s early).
 * Refresh tokens rotate and the identity provider ends a session whose old refresh token comes
 * back, so a burst of page loads must refresh exactly once, or the person would be thrown out.
 * A platform refusal (an unknown NHS Number) is a page with PDS's words and the request id.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { SESSION_TYPE } from '../src/security/accounts/sessions.js';
import { RevocationList } from '../src/security/accounts/revocations.js';
import { commitPatients, currentJane, NHS as FIXTURE_NHS } from './helpers/pds-fixtures.js';

const NHS = FIXTURE_NHS.jane;
import {
  addStaff,
  browserSkip,
  expectAccessible,
  launchBrowser,
  mainText,
  openPage,
  signInStaff,
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

const GP = {
  id: 'dr-refresh',
  name: 'Dr Refresh',
  pin: '9753',
  profiles: [{ role: 'R8000', org: 'A81001' }],
};

describe('web sessions: token refresh and error pages', { skip: browserSkip() }, () => {
  let web: WebPlatform;
  let browser: Browser;

  before(async () => {
    web = await startWebPlatform('sqlite', { config: { accessTokenSeconds: 31 } });
    await commitPatients(web.platform.repo, [currentJane()]);
    await addStaff(web.platform, GP);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await web?.close();
  });

  it('a burst of page loads with an expiring token refreshes once and keeps the session', async () => {
    const { page } = await openPage(browser);
    await signInStaff(page, web.base, GP);
    await new Promise((r) => setTimeout(r, 1500));
    const loads = await Promise.all(
      Array.from({ length: 6 }, () => page.request.get(`${web.base}/app/patient/${NHS}`)),
    );
    for (const res of loads) {
      assert.equal(res.status(), 200);
      assert.match(await res.text(), /data-testid="patient-banner"/);
    }
    // later pages still work (the rotated refresh token is the one the session holds)
    await new Promise((r) => setTimeout(r, 1500));
    await page.goto(`${web.base}/app/patient/${NHS}`);
    assert.match(await mainText(page), /SMITH/);

    // the identity provider saw no reuse: its session is active and not revoked
    const ids = await web.platform.repo.search({
      type: SESSION_TYPE,
      criteria: [{ any: [{ param: 'user', op: 'eq', value: GP.id }] }],
      limit: 10,
    });
    const [session] = await web.platform.repo.readMany(SESSION_TYPE, ids);
    assert.equal(session.resource.status, 'active');
    assert.equal(
      await new RevocationList(web.platform.repo, 0).isRevoked({ session: session.id }),
      false,
    );
    // and it did refresh: the audit holds refresh_token issues for the session
    const audit = await web.platform.repo.audit.readAudit(0, 10_000);
    const refreshes = audit.filter(
      (a) =>
        a.record.action === 'token.issue' &&
        (a.record.detail as Record<string, unknown> | undefined)?.grantType === 'refresh_token',
    );
    assert.ok(refreshes.length >= 1, 'the token was refreshed');
    assert.ok(
      refreshes.length <= 3,
      `one refresh per expiry, not one per page: ${refreshes.length}`,
    );
  });

  it('an unknown NHS Number is a page with what PDS said and the reference to quote', async () => {
    const { page, cspViolations } = await openPage(browser);
    await signInStaff(page, web.base, GP);
    const res = await page.goto(`${web.base}/app/patient/${FIXTURE_NHS.notFound}`);
    assert.equal(res?.status(), 404);
    const text = await mainText(page);
    assert.match(text, /Not found/);
    assert.match(text, /Error code: RESOURCE_NOT_FOUND/);
    const reference = await page.getByTestId('request-id').innerText();
    assert.match(reference, /^[0-9a-f-]{36}$/);
    await expectAccessible(page, 'error page for an unknown patient');
    assert.deepEqual(cspViolations, []);
  });

  it('a malformed NHS Number in the address is a 400 page, not a call to PDS', async () => {
    const { page } = await openPage(browser);
    await signInStaff(page, web.base, GP);
    const res = await page.goto(`${web.base}/app/patient/12345`);
    assert.equal(res?.status(), 400);
    assert.match(await mainText(page), /There is a problem with what was entered/);
  });

  it('a form posted without its token is refused with the form-expired page', async () => {
    const { page } = await openPage(browser);
    await signInStaff(page, web.base, GP);
    const res = await page.request.post(`${web.base}/app/patients`, {
      form: { nhsNumber: NHS },
    });
    assert.equal(res.status(), 403);
    assert.match(await res.text(), /This form has expired/);
  });
});
