/**
 * The staff PDS journeys in a real browser: find a patient (by NHS Number, by details, by fuzzy
 * match; the error summary; no results and too many), the demographics page with the patient
 * banner (a restricted record shows no location), the update of contact details through a PDS
 * PATCH (PDS's refusals on the form; the record the API then returns), an update conflict between
 * two browsers (on each store), and the accessibility passes: keyboard only, 320 px wide, and
 * JavaScript off. Every page passes axe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { NHS, readPatient } from './helpers/pds-fixtures.js';
import {
  emailOf,
  GP,
  loadData,
  pharmacyOf,
  phoneOf,
  PROFILE,
  resultRows,
  searchByDetails,
  SUBJECT,
  tabTo,
} from './helpers/demographics-web.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  browserSkip,
  expectAccessible,
  launchBrowser,
  mainText,
  openPage,
  screenshot,
  signInStaff,
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

describe('web: find a patient and their demographics', { skip: browserSkip() }, () => {
  let web: WebPlatform;
  let browser: Browser;
  let page: Page;
  let csp: string[];

  before(async () => {
    web = await startWebPlatform('sqlite');
    await loadData(web);
    browser = await launchBrowser();
    const opened = await openPage(browser);
    page = opened.page;
    csp = opened.cspViolations;
    await signInStaff(page, web.base, GP, PROFILE);
  });
  after(async () => {
    await browser?.close();
    await web?.close();
  });

  it('searches by NHS Number straight to the patient, whose page has the banner', async () => {
    await page.goto(`${web.base}/app/patients`);
    assert.match(await page.title(), /^Find a patient/);
    await expectAccessible(page, 'patient search');
    await screenshot(page, 'patients-search');
    await page.getByLabel('NHS Number').fill('900 000 0009');
    await page.getByRole('button', { name: 'Search by NHS Number' }).click();
    await page.waitForURL(`${web.base}/app/patient/${NHS.jane}`);
    const banner = page.getByTestId('patient-banner');
    assert.match(await banner.innerText(), /Jane SMITH/);
    assert.equal(await page.getByTestId('banner-nhs-number').innerText(), '900 000 0009');
    assert.match(await banner.innerText(), /22 October 2010/);
    const text = await mainText(page);
    assert.match(text, /Mrs Jane SMITH MBE/);
    assert.match(text, /1 Trevelyan Square.*LS1 6AE/);
    assert.match(text, /01632960587/);
    assert.match(text, /jane\.smith@example\.com/);
    assert.equal(await page.getByTestId('gp-code').innerText(), 'Y12345');
    assert.match(text, /Not found in the directory/);
    assert.equal(
      await page.locator('.app-record-tabs__link[aria-current=page]').innerText(),
      'Demographics',
    );
    await expectAccessible(page, 'demographics');
    await screenshot(page, 'patient-demographics');
    assert.deepEqual(csp, []);
  });

  it('searches by name, date of birth, gender and postcode; results link to the patient', async () => {
    await page.goto(`${web.base}/app/patients`);
    await searchByDetails(page, {
      family: 'Smith',
      given: 'Jane',
      dob: '2010-10-22',
      gender: 'female',
      postcode: 'LS1 6AE',
    });
    assert.equal(new URL(page.url()).search, '', 'no patient data in the address');
    assert.deepEqual(await resultRows(page), [
      ['Jane SMITH', '900 000 0009', '22 October 2010', 'Female', 'LS1 6AE'],
    ]);
    await expectAccessible(page, 'search results');
    await screenshot(page, 'patients-results');
    await page.getByRole('link', { name: 'Jane SMITH' }).click();
    await page.waitForURL(`${web.base}/app/patient/${NHS.jane}`);
    assert.deepEqual(csp, []);
  });

  it('a wildcard search lists a restricted record without any address', async () => {
    await page.goto(`${web.base}/app/patients`);
    await searchByDetails(page, { family: 'Sm*', dob: '2010-10-22', gender: 'female' });
    const rows = await resultRows(page);
    assert.equal(rows.length, 3, JSON.stringify(rows));
    const janet = rows.find((r) => r[1] === '900 000 0025');
    assert.ok(janet, 'the restricted Janet Smythe is found by name');
    assert.equal(janet[4], 'Not shown (restricted record)');
    assert.doesNotMatch(await mainText(page), /Secret Row/);
  });

  it('a fuzzy match finds a misspelt name that an exact search does not', async () => {
    await page.goto(`${web.base}/app/patients`);
    await searchByDetails(page, { family: 'Updatwell', given: 'Jane', dob: '1981-02-03' });
    assert.match(await mainText(page), /No patients found/);
    await expectAccessible(page, 'no results');
    await searchByDetails(page, { fuzzy: true });
    const rows = await resultRows(page);
    assert.equal(rows[0]?.[1], '900 000 0041', JSON.stringify(rows));
    assert.equal(rows[0][0], 'Jane UPDATEWELL');
  });

  it('too many matches asks for more detail', async () => {
    await page.goto(`${web.base}/app/patients`);
    await searchByDetails(page, { family: 'Manyfold', dob: '1990-01-01' });
    assert.match(await mainText(page), /Too many patients match.*Add more detail/);
    await expectAccessible(page, 'too many');
    await searchByDetails(page, { given: 'Dot' });
    assert.deepEqual(
      (await resultRows(page)).map((r) => r[0]),
      ['Dot MANYFOLD'],
    );
  });

  it('mistakes are shown in the error summary, linked to their fields', async () => {
    await page.goto(`${web.base}/app/patients`);
    await page.getByLabel('NHS Number').fill('9000000000');
    await page.getByRole('button', { name: 'Search by NHS Number' }).click();
    await page.waitForLoadState();
    assert.match(await page.title(), /^Error: Find a patient/);
    const summary = page.locator('.nhsuk-error-summary');
    assert.match(await summary.innerText(), /Enter a valid NHS Number/);
    assert.equal(await summary.locator('a').getAttribute('href'), '#nhs-number');
    await expectAccessible(page, 'search errors');

    await searchByDetails(page, { family: 'Smith', dob: '2010-13-40' });
    assert.match(await summary.innerText(), /Date of birth must be a real date/);
    assert.equal(await page.getByLabel('Family name').inputValue(), 'Smith', 'values kept');
    const res = await page.request.post(`${web.base}/app/patients`, {
      form: { by: 'details', 'family-name': 'Smith' },
    });
    assert.equal(res.status(), 403, 'a post without the form token is refused');

    // what PDS itself refuses comes back on the form in its words
    await page.goto(`${web.base}/app/patients`);
    await searchByDetails(page, { family: 'S*', dob: '2010-10-22' });
    assert.match(await summary.innerText(), /Invalid value - 'S\*' in field 'family'/);
    assert.equal(await summary.locator('a').getAttribute('href'), '#family-name');
    await expectAccessible(page, 'PDS refusal');
  });

  it("a restricted patient's page shows no location and no blank rows, and offers no update", async () => {
    await page.goto(`${web.base}/app/patient/${NHS.restricted}`);
    const text = await mainText(page);
    assert.match(await page.getByTestId('patient-banner').innerText(), /Restricted record/);
    assert.match(text, /This record is restricted/);
    assert.doesNotMatch(text, /Secret Row|LS1 6AE|01632960999|Y12345|FA123/);
    assert.doesNotMatch(text, /No address recorded|Not registered|No nominated pharmacy/);
    assert.equal(await page.getByRole('button', { name: 'Update contact details' }).count(), 0);
    await expectAccessible(page, 'restricted demographics');
    await page.goto(`${web.base}/app/patient/${NHS.restricted}/edit`);
    assert.match(await mainText(page), /cannot be changed here/);
    assert.equal(await page.getByTestId('edit-form').count(), 0);
  });

  it('an unknown NHS Number is a not found page; a malformed one a 400', async () => {
    const missing = await page.goto(`${web.base}/app/patient/${NHS.notFound}`);
    assert.equal(missing?.status(), 404);
    assert.match(await mainText(page), /Not found/);
    const bad = await page.goto(`${web.base}/app/patient/12345`);
    assert.equal(bad?.status(), 400);
  });
  it('a keyboard-only pass of one whole journey: sign in, search, open the patient, edit and save', async () => {
    const { page: kb, cspViolations } = await openPage(browser);
    await kb.goto(`${web.base}/app`);
    await tabTo(kb, 'a', 'Sign in with your smartcard');
    await kb.keyboard.press('Enter');
    await kb.waitForSelector('#user');
    await tabTo(kb, '#user');
    await kb.keyboard.type(GP.id);
    await tabTo(kb, '#pin');
    await kb.keyboard.type(GP.pin);
    await kb.keyboard.press('Enter');
    await kb.waitForSelector('label.profile');
    await tabTo(kb, 'button[type=submit]');
    await kb.keyboard.press('Enter');
    await kb.waitForURL(`${web.base}/app`);
    await tabTo(kb, 'a', 'Find a patient');
    await kb.keyboard.press('Enter');
    await kb.waitForURL(`${web.base}/app/patients`);
    await tabTo(kb, '#nhs-number');
    await kb.keyboard.type(SUBJECT.keyboard);
    await kb.keyboard.press('Enter');
    await kb.waitForURL(`${web.base}/app/patient/${SUBJECT.keyboard}`);
    await tabTo(kb, 'a', 'Update contact details');
    await kb.keyboard.press('Enter');
    await kb.waitForURL(`${web.base}/app/patient/${SUBJECT.keyboard}/edit`);
    await tabTo(kb, '#phone');
    await kb.keyboard.press('ControlOrMeta+A');
    await kb.keyboard.type('01632 960 444');
    await tabTo(kb, 'button', 'Save changes');
    await kb.keyboard.press('Enter');
    await kb.waitForURL(`${web.base}/app/patient/${SUBJECT.keyboard}?updated=1`);
    assert.match(await mainText(kb), /have been updated/);
    const { patient } = await readPatient(web.platform, SUBJECT.keyboard);
    assert.equal(phoneOf(patient), '01632 960 444');
    assert.deepEqual(cspViolations, []);
    await kb.context().close();
  });

  it('the pages at 320 px wide: no horizontal scrolling anywhere in the journey', async () => {
    const { page: narrow, cspViolations } = await openPage(browser, { width: 320 });
    const fits = async (label: string) => {
      const width = await narrow.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 320, `${label}: ${width} px wide at 320`);
      await expectAccessible(narrow, `${label} at 320 px`);
    };
    await signInStaff(narrow, web.base, GP, PROFILE);
    await narrow.goto(`${web.base}/app/patients`);
    await fits('search');
    await searchByDetails(narrow, { family: 'Sm*', dob: '2010-10-22' });
    await fits('results');
    await searchByDetails(narrow, { family: '', dob: '' });
    await fits('search errors');
    await narrow.goto(`${web.base}/app/patient/${SUBJECT.narrow}`);
    await fits('demographics');
    await narrow.goto(`${web.base}/app/patient/${SUBJECT.narrow}/edit`);
    await fits('edit');
    await narrow.getByLabel('Postcode', { exact: true }).fill('NOT A POSTCODE');
    await narrow.getByRole('button', { name: 'Save changes' }).click();
    await narrow.waitForLoadState();
    await fits('edit errors');
    await narrow.getByLabel('Postcode', { exact: true }).fill('LS1 4BU');
    await narrow.getByRole('button', { name: 'Save changes' }).click();
    await narrow.waitForURL(`${web.base}/app/patient/${SUBJECT.narrow}?updated=1`);
    await fits('demographics updated');
    assert.deepEqual(cspViolations, []);
    await narrow.context().close();
  });

  it('the journey with JavaScript off', async () => {
    const { page: plain } = await openPage(browser, { javaScript: false });
    await signInStaff(plain, web.base, GP, PROFILE);
    await plain.goto(`${web.base}/app/patients`);
    await searchByDetails(plain, { family: 'Scriptless', given: 'Sam', dob: '1985-06-07' });
    await plain.getByRole('link', { name: 'Sam SCRIPTLESS' }).click();
    await plain.waitForURL(`${web.base}/app/patient/${SUBJECT.noScript}`);
    await plain.getByRole('button', { name: 'Update contact details' }).click();
    await plain.getByLabel('Email address (optional)').fill('sam@example.org');
    await plain.getByRole('button', { name: 'Save changes' }).click();
    await plain.waitForURL(`${web.base}/app/patient/${SUBJECT.noScript}?updated=1`);
    assert.match(await mainText(plain), /have been updated.*sam@example\.org/);
    const { patient } = await readPatient(web.platform, SUBJECT.noScript);
    assert.equal(emailOf(patient), 'sam@example.org');
    await plain.context().close();
  });
});

for (const kind of await storesUnderTest()) {
  describe(`web: updating demographics (${kind})`, { skip: browserSkip() }, () => {
    let web: WebPlatform;
    let browser: Browser;

    before(async () => {
      web = await startWebPlatform(kind);
      await loadData(web);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await web?.close();
    });

    it("an update goes to PDS, which then returns it; PDS's refusals are shown on the form", async () => {
      const { page, cspViolations } = await openPage(browser);
      await signInStaff(page, web.base, GP, PROFILE);
      await page.goto(`${web.base}/app/patient/${SUBJECT.update}`);
      await page.getByRole('button', { name: 'Update contact details' }).click();
      await page.waitForURL(`${web.base}/app/patient/${SUBJECT.update}/edit`);
      assert.equal(await page.getByLabel('Address line 1').inputValue(), '1 Trevelyan Square');
      assert.equal(await page.getByLabel('Town or city').inputValue(), 'West Yorkshire');
      assert.equal(await page.getByLabel('GP practice ODS code').inputValue(), 'Y12345');
      await expectAccessible(page, 'edit');
      await screenshot(page, 'patient-edit');

      // a postcode PDS refuses: its words on the form, at the postcode, and nothing saved
      await page.getByLabel('Address line 1').fill('2 Whitehall Quay');
      await page.getByLabel('Address line 2 (optional)').fill('');
      await page.getByLabel('Town or city').fill('Leeds');
      await page.getByLabel('Postcode', { exact: true }).fill('NOT A POSTCODE');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.waitForLoadState();
      const summary = page.locator('.nhsuk-error-summary');
      assert.match(await summary.innerText(), /Enter a real postcode.*postalCode/);
      assert.equal(await summary.locator('a').getAttribute('href'), '#address-postcode');
      assert.equal(await page.getByLabel('Address line 1').inputValue(), '2 Whitehall Quay');
      await expectAccessible(page, 'edit errors');
      assert.equal((await readPatient(web.platform, SUBJECT.update)).version, 1, 'nothing saved');

      await page.getByLabel('Postcode', { exact: true }).fill('ls1 4bu');
      await page.getByLabel('Phone number (optional)').fill('01632 960 123');
      await page.getByLabel('Email address (optional)').fill('');
      await page.getByLabel('GP practice ODS code').fill('A81001');
      await page.getByLabel('Nominated pharmacy ODS code (optional)').fill('fa008');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.waitForURL(`${web.base}/app/patient/${SUBJECT.update}?updated=1`);
      const text = await mainText(page);
      assert.match(text, /have been updated/);
      assert.match(text, /2 Whitehall Quay Leeds LS1 4BU/);
      assert.match(await page.getByTestId('gp-name').innerText(), /^the densham surgery$/i);
      assert.match(await page.getByTestId('pharmacy-name').innerText(), /^boots uk limited$/i);
      await expectAccessible(page, 'demographics updated');

      const { patient, version } = await readPatient(web.platform, SUBJECT.update);
      assert.equal(version, 2, 'one PATCH');
      assert.deepEqual(patient.address[0].line, ['2 Whitehall Quay', 'Leeds']);
      assert.equal(patient.address[0].postalCode, 'LS1 4BU');
      assert.equal(phoneOf(patient), '01632 960 123');
      assert.equal(emailOf(patient), undefined, 'the email address was removed');
      assert.equal(patient.generalPractitioner[0].identifier.value, 'A81001');
      assert.equal(pharmacyOf(patient), 'FA008');
      const audit = await web.platform.repo.audit.readAudit(0, 1e6);
      const updates = audit.filter(
        (e) => e.record.action === 'pds.update' && e.record.patient === SUBJECT.update,
      );
      assert.deepEqual(
        updates.map((e) => [e.record.userId, e.record.role, e.record.org, e.record.outcome]),
        [
          [GP.id, 'R8000', 'A81001', 'refused 400 INVALID_VALUE'],
          [GP.id, 'R8000', 'A81001', 'success'],
        ],
        'the refused and the saved update, each as the signed-in user',
      );
      assert.deepEqual(cspViolations, []);
      await page.context().close();
    });

    it('an update conflict from two browsers: the second sees the first change and saves again', async () => {
      const a = await openPage(browser);
      const b = await openPage(browser);
      await signInStaff(a.page, web.base, GP, PROFILE);
      await signInStaff(b.page, web.base, GP, PROFILE);
      const edit = `${web.base}/app/patient/${SUBJECT.conflict}/edit`;
      await a.page.goto(edit);
      await b.page.goto(edit);

      await a.page.getByLabel('Phone number (optional)').fill('01632 960 111');
      await a.page.getByRole('button', { name: 'Save changes' }).click();
      await a.page.waitForURL(`${web.base}/app/patient/${SUBJECT.conflict}?updated=1`);

      await b.page.getByLabel('Email address (optional)').fill('clash@example.com');
      const [refused] = await Promise.all([
        b.page.waitForResponse((r) => r.url() === edit && r.request().method() === 'POST'),
        b.page.getByRole('button', { name: 'Save changes' }).click(),
      ]);
      assert.equal(refused.status(), 409);
      assert.match(await b.page.locator('h1').innerText(), /Someone else has changed this record/);
      const theirs = await b.page.getByTestId('their-changes').innerText();
      assert.match(theirs, /Phone\s+.*01632960587\s+.*01632 960 111/);
      assert.doesNotMatch(theirs, /Email/);
      assert.match(
        await b.page.getByTestId('your-changes').innerText(),
        /Email\s+.*jane\.smith@example\.com\s+.*clash@example\.com/,
      );
      assert.equal(
        await b.page.getByLabel('Phone number (optional)').inputValue(),
        '01632 960 111',
        "the form holds the other person's change",
      );
      assert.equal(
        await b.page.getByLabel('Email address (optional)').inputValue(),
        'clash@example.com',
      );
      assert.equal((await readPatient(web.platform, SUBJECT.conflict)).version, 2);
      await expectAccessible(b.page, 'conflict');
      await screenshot(b.page, 'patient-conflict');

      await b.page.getByRole('button', { name: 'Save my changes again' }).click();
      await b.page.waitForURL(`${web.base}/app/patient/${SUBJECT.conflict}?updated=1`);
      const { patient, version } = await readPatient(web.platform, SUBJECT.conflict);
      assert.equal(version, 3);
      assert.equal(phoneOf(patient), '01632 960 111', "the first browser's change stands");
      assert.equal(emailOf(patient), 'clash@example.com', "the second browser's change is made");
      assert.deepEqual([...a.cspViolations, ...b.cspViolations], []);
      await a.context.close();
      await b.context.close();
    });
  });
}
