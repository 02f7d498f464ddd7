/**
 * The patient's own pages in a real browser, signed in with NHS login: my details (and changing
 * the mobile and email, with a conflict shown and retried), who has looked at my record (a
 * clinician's read appears, paged), my choices (SCR and national data opt-out) and my nominated
 * pharmacy. Every change is checked through the platform's APIs as staff see the record, and a
 * patient can reach no other patient's record through any URL or form. Every page passes axe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { commitPatients, currentJane, living, PDS, withNhsNumber } from './helpers/pds-fixtures.js';
import { storesUnderTest } from './helpers/stores.js';
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
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

const SCR = '/summary-care-record/FHIR/R4';
const OWN = '9000000041';
const OTHER = '9000000068';
const JANE = { id: 'jane.portal', name: 'Jane Smith', pin: 'patient-pass-1', nhsNumber: OWN };
const CLINICIAN = {
  id: 'dr-reader',
  name: 'Dr Reader Example',
  pin: '1357',
  profiles: [{ role: 'R8000', org: 'A81001' }],
};
const PHARMACY_SUFFIX = '/Extension-UKCore-NominatedPharmacy';

const STORES = await storesUnderTest();
for (const kind of STORES) {
  describe(`web application: the patient's own pages (${kind})`, { skip: browserSkip() }, () => {
    let web: WebPlatform;
    let browser: Browser;
    let page: Page;
    let cspViolations: string[];
    let staffToken: string;
    const readOnly = kind === 'sqlite' ? false : 'read-only journey: run on sqlite only';
    /** Pages render the same on either store: axe and screenshots run on the first one only. */
    const firstStore = kind === STORES[0];
    const firstStoreOnly = () => (firstStore ? false : 'the same on every store: run on the first');
    const accessible = (label: string) =>
      firstStore ? expectAccessible(page, label) : Promise.resolve();
    const shoot = (name: string) => (firstStore ? screenshot(page, name) : Promise.resolve(''));

    /** The record as PDS gives it to a clinician (not the page under test). */
    const asStaff = async (nhs = OWN) => {
      const res = await web.platform.request({ url: `${PDS}/Patient/${nhs}`, token: staffToken });
      assert.equal(res.statusCode, 200, res.body);
      return { patient: res.json(), etag: String(res.headers.etag) };
    };
    const telecom = (p: any, which: (t: any) => boolean) =>
      (p.telecom ?? []).filter((t: any) => !t.period?.end && which(t)).map((t: any) => t.value);
    const mobiles = (p: any) => telecom(p, (t) => t.use === 'mobile');
    const emails = (p: any) => telecom(p, (t) => t.system === 'email');
    const pharmacy = (p: any) =>
      (p.extension ?? []).find((e: any) => e.url.endsWith(PHARMACY_SUFFIX))?.valueReference
        ?.identifier?.value;
    const go = async (path: string, status = 200) => {
      const res = await page.goto(`${web.base}/app${path}`);
      assert.equal(res?.status(), status, `${path}: ${await mainText(page)}`);
    };
    const submit = async (button: string) => {
      await page.getByRole('button', { name: button }).click();
      await page.waitForLoadState();
    };

    before(async () => {
      web = await startWebPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await commitPatients(web.platform.repo, [
        withNhsNumber(living(currentJane()), OWN),
        withNhsNumber(living(currentJane()), OTHER),
      ]);
      await addPatientAccount(web.platform, JANE);
      await addStaff(web.platform, CLINICIAN);
      staffToken = await web.platform.token('R8000', { user: CLINICIAN.id, org: 'A81001' });
      browser = await launchBrowser();
      ({ page, cspViolations } = await openPage(browser));
      await signInPatient(page, web.base, JANE);
    });
    after(async () => {
      await browser?.close();
      await web?.close();
    });

    it('my details: shows the record, and the patient changes their mobile and email', async () => {
      await go('/me');
      const text = await mainText(page);
      for (const shown of ['Jane SMITH', '900 000 0041', '1 Trevelyan Square', 'Y12345'])
        assert.ok(text.includes(shown), `my details shows ${shown}: ${text}`);
      assert.match(text, /Email address jane\.smith@example\.com/);
      assert.match(text, /Work phone: 01632960587/, 'a phone they cannot change is shown');
      await accessible('my details');
      await shoot('me-details');

      await page.fill('#mobile', '07700 900 123');
      await page.fill('#email', 'jane.new@example.com');
      await submit('Save contact details');
      assert.equal(new URL(page.url()).pathname, '/app/me');
      assert.match(await mainText(page), /Your contact details have been updated/);
      const { patient } = await asStaff();
      assert.deepEqual(mobiles(patient), ['07700900123']);
      assert.deepEqual(emails(patient), ['jane.new@example.com']);
      assert.match(await mainText(page), /Mobile phone number 07700900123/);
      await accessible('my details, updated');
    });

    it('my details: a mistake is shown on the form and nothing is saved', async () => {
      await go('/me');
      await page.fill('#email', 'not-an-email');
      await page.fill('#mobile', '12345');
      await submit('Save contact details');
      assert.match(
        await mainText(page),
        /There is a problem.*UK mobile phone number.*email address/,
      );
      assert.equal(await page.locator('#email').inputValue(), 'not-an-email');
      await accessible('my details, with errors');
      assert.deepEqual(emails((await asStaff()).patient), ['jane.new@example.com']);
    });

    it('my details: a change made elsewhere meanwhile is shown, then the patient retries', async () => {
      await go('/me');
      // a GP surgery changes the email while the patient has the page open
      const { patient, etag } = await asStaff();
      const i = patient.telecom.findIndex((t: any) => t.system === 'email');
      const staffChange = await web.platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${OWN}`,
        token: staffToken,
        headers: { 'if-match': etag },
        contentType: 'application/json-patch+json',
        body: {
          patches: [
            {
              op: 'replace',
              path: `/telecom/${i}`,
              value: { ...patient.telecom[i], value: 'from.gp@example.com' },
            },
          ],
        },
      });
      assert.equal(staffChange.statusCode, 200, staffChange.body);

      await page.fill('#mobile', '07700900999');
      await submit('Save contact details');
      const conflict = await page.getByTestId('conflict').innerText();
      assert.match(
        conflict,
        /Email address: was jane\.new@example\.com, now from\.gp@example\.com/,
      );
      assert.doesNotMatch(conflict, /Mobile phone number:/, 'the mobile did not change elsewhere');
      assert.equal(await page.locator('#mobile').inputValue(), '07700900999', 'entry kept');
      await accessible('my details, conflict');
      assert.deepEqual(mobiles((await asStaff()).patient), ['07700900123'], 'nothing saved');

      // the patient keeps the surgery's email and saves their new mobile again
      await page.fill('#email', 'from.gp@example.com');
      await submit('Save contact details');
      assert.match(await mainText(page), /Your contact details have been updated/);
      let now = (await asStaff()).patient;
      assert.deepEqual(mobiles(now), ['07700900999']);
      assert.deepEqual(emails(now), ['from.gp@example.com']);

      // an empty field removes the number
      await page.fill('#mobile', '');
      await submit('Save contact details');
      now = (await asStaff()).patient;
      assert.deepEqual(mobiles(now), []);
      assert.deepEqual(emails(now), ['from.gp@example.com']);
      assert.ok(
        now.telecom.some((t: any) => t.use === 'work'),
        'the work phone is untouched',
      );
    });

    it('my choices: the SCR choice and the national data opt-out, each confirmed', async () => {
      await go('/me/choices');
      let text = await mainText(page);
      assert.match(text, /Summary Care Record Core information only/);
      assert.match(text, /National data opt-out Not opted out/);
      await accessible('my choices');
      await shoot('me-choices');

      await page.getByLabel('No Summary Care Record').check();
      await submit('Save Summary Care Record choice');
      assert.equal(new URL(page.url()).search, '?changed=scr');
      text = await mainText(page);
      assert.match(text, /Your Summary Care Record choice has been saved/);
      assert.match(text, /Summary Care Record No Summary Care Record/);
      await accessible('my choices, confirmed');

      await page.getByLabel('No, opt me out').check();
      await submit('Save opt-out choice');
      assert.match(await mainText(page), /Your national data opt-out choice has been saved/);
      assert.match(await mainText(page), /National data opt-out Opted out/);

      const res = await web.platform.request({
        url: `${SCR}/Consent?patient=${OWN}`,
        token: staffToken,
      });
      assert.equal(res.statusCode, 200, res.body);
      const active = res
        .json()
        .entry.map((e: any) => e.resource)
        .filter((c: any) => c.status === 'active');
      assert.deepEqual(active.map((c: any) => c.policyRule.coding[0].code).sort(), [
        'national-data-opt-out',
        'scr-dissent',
      ]);
      assert.ok(
        active.every((c: any) => c.performer[0].type === 'Patient'),
        'recorded as theirs',
      );

      // and back again
      await page.getByLabel('Yes, my data can be used').check();
      await submit('Save opt-out choice');
      assert.match(await mainText(page), /National data opt-out Not opted out/);
    });

    it('my nominated pharmacy: changed by ODS code, removed, and nominated again', async () => {
      await go('/me/pharmacy');
      assert.match(await mainText(page), /Nominated pharmacy Y12345/);
      await accessible('my pharmacy');
      await shoot('me-pharmacy');

      await page.fill('#odsCode', 'not a code!');
      await submit('Save nominated pharmacy');
      assert.match(await mainText(page), /There is a problem.*3 to 10 letters and numbers/);
      await accessible('my pharmacy, with an error');

      await page.fill('#odsCode', 'fa123');
      await submit('Save nominated pharmacy');
      assert.match(await mainText(page), /Your nominated pharmacy has been changed/);
      assert.equal(pharmacy((await asStaff()).patient), 'FA123');

      await submit('Remove my nominated pharmacy');
      assert.match(await mainText(page), /You no longer have a nominated pharmacy/);
      assert.equal(pharmacy((await asStaff()).patient), undefined);
      assert.match(await mainText(page), /You do not have a nominated pharmacy/);

      await page.fill('#odsCode', 'FB456');
      await submit('Save nominated pharmacy');
      assert.equal(pharmacy((await asStaff()).patient), 'FB456');
      assert.match(await mainText(page), /Nominated pharmacy FB456/);
    });

    it('my nominated pharmacy: a change made elsewhere meanwhile is shown, not overwritten', async () => {
      await go('/me/pharmacy');
      const { patient, etag } = await asStaff();
      const i = patient.extension.findIndex((e: any) => e.url.endsWith(PHARMACY_SUFFIX));
      const staffChange = await web.platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${OWN}`,
        token: staffToken,
        headers: { 'if-match': etag },
        contentType: 'application/json-patch+json',
        body: {
          patches: [
            {
              op: 'replace',
              path: `/extension/${i}`,
              value: {
                ...patient.extension[i],
                valueReference: {
                  identifier: {
                    system: 'https://fhir.nhs.uk/Id/ods-organization-code',
                    value: 'FC789',
                  },
                },
              },
            },
          ],
        },
      });
      assert.equal(staffChange.statusCode, 200, staffChange.body);
      await page.fill('#odsCode', 'FD111');
      await submit('Save nominated pharmacy');
      assert.match(
        await page.getByTestId('conflict').innerText(),
        /changed to FC789 while you were on this page/,
      );
      assert.equal(pharmacy((await asStaff()).patient), 'FC789', 'nothing overwritten');
      await accessible('my pharmacy, conflict');
      await submit('Save nominated pharmacy');
      assert.equal(pharmacy((await asStaff()).patient), 'FD111', 'the retry is saved');
    });

    it(
      'with JavaScript off: the pharmacy is changed through the plain form',
      { skip: firstStoreOnly() },
      async () => {
        const plain = await openPage(browser, { javaScript: false });
        await signInPatient(plain.page, web.base, JANE);
        await plain.page.goto(`${web.base}/app/me/pharmacy`);
        await plain.page.fill('#odsCode', 'FE222');
        await plain.page.getByRole('button', { name: 'Save nominated pharmacy' }).click();
        await plain.page.waitForURL(`${web.base}/app/me/pharmacy?changed=pharmacy`);
        assert.match(await mainText(plain.page), /Nominated pharmacy FE222/);
        assert.equal(pharmacy((await asStaff()).patient), 'FE222');
        await plain.context.close();
      },
    );

    it('a patient reaches no other patient through a URL or a form', async () => {
      const before = await asStaff(OTHER);
      for (const path of [`/me/${OTHER}`, `/me/access-log/${OTHER}`, `/patient/${OTHER}`]) {
        const res = await page.goto(`${web.base}/app${path}`);
        assert.ok([403, 404].includes(res?.status() ?? 0), `${path} answered ${res?.status()}`);
        assert.doesNotMatch(await mainText(page), /900 000 0068|9000000068/);
      }
      // a form naming another NHS Number changes the patient's own record, never the other's
      await go('/me');
      const csrf = await page.locator('input[name=_csrf]').first().inputValue();
      const etag = await page.locator('input[name=etag]').inputValue();
      const posted = await page.request.post(`${web.base}/app/me/contact`, {
        form: {
          _csrf: csrf,
          etag,
          mobile: '07700900555',
          email: 'from.gp@example.com',
          nhsNumber: OTHER,
          patient: OTHER,
        },
        maxRedirects: 0,
      });
      assert.equal(posted.status(), 303);
      assert.deepEqual(mobiles((await asStaff()).patient), ['07700900555']);
      const other = await asStaff(OTHER);
      assert.equal(other.etag, before.etag, "the other patient's record is unchanged");
      // the access log asked about another patient still shows only the patient's own
      await go(`/me/access-log?patient=${OTHER}`);
      assert.doesNotMatch(await mainText(page), /9000000068|900 000 0068/);
      assert.deepEqual(cspViolations, []);
    });

    it(
      'a patient sees their own access log entry appear after a clinician reads their record',
      { skip: readOnly },
      async (t) => {
        // the clinician reads the record through the web application's staff page when it is
        // there, else through the PDS API with their own token
        const staff = await openPage(browser);
        await signInStaff(staff.page, web.base, CLINICIAN, { role: 'R8000', org: 'A81001' });
        const viaWeb = await staff.page.goto(`${web.base}/app/patient/${OWN}`);
        if (viaWeb?.status() === 200) {
          assert.match(await mainText(staff.page), /Jane SMITH/);
          t.diagnostic('the clinician read the record through /app/patient/:nhsNumber');
        } else {
          const read = await web.platform.request({
            url: `${PDS}/Patient/${OWN}`,
            token: staffToken,
          });
          assert.equal(read.statusCode, 200);
          t.diagnostic(`no staff record page yet (${viaWeb?.status()}): read through the PDS API`);
        }
        await staff.context.close();

        await go('/me/access-log');
        const rows = await page.getByTestId('access-log').locator('tbody tr').allInnerTexts();
        const clinician = rows
          .map((r) => r.replace(/\s+/g, ' '))
          .find((r) => r.includes('Dr Reader Example'));
        assert.ok(clinician, `the clinician's read is listed: ${rows.slice(0, 4).join(' | ')}`);
        assert.match(clinician, /Clinical Practitioner Access Role/);
        assert.match(clinician, /A81001/);
        assert.match(clinician, /Viewed: View patient demographics/);
        assert.ok(
          rows.some((r) => /\bYou\b/.test(r)),
          "the patient's own actions are listed as theirs",
        );
        await accessible('my access log');
        await shoot('me-access-log');
      },
    );

    it('the access log pages through older entries', { skip: readOnly }, async () => {
      await go('/me/access-log');
      const total = Number(
        /(\d+) entries/.exec(await page.getByTestId('access-total').innerText())?.[1],
      );
      assert.ok(total > 20, `enough entries to page (${total})`);
      assert.equal(await page.getByTestId('access-log').locator('tbody tr').count(), 20);
      await page.getByTestId('older-entries').click();
      await page.waitForLoadState();
      const second = await page.getByTestId('access-log').locator('tbody tr').count();
      assert.ok(second >= 1 && second <= 20, `the second page has entries (${second})`);
      assert.match(await mainText(page), /Newest entries/);
      await accessible('my access log, older entries');
    });
  });
}
