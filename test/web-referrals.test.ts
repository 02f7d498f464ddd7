/**
 * e-Referral Service journeys in the web application, in a real browser, on each store: a referring
 * GP (R8000 at the referring practice) sees a referral on the Awaiting Booking worklist, opens it,
 * chooses a free slot from a radio list, checks it and books it (the API then answers the referral
 * BOOKED with that appointment); a slot taken by someone else meanwhile is said plainly and the
 * list offered again; the GP cancels an appointment. A patient opens their referral with the UBRN
 * and password of its letter (a wrong password is refused with a clear message), books, changes
 * and cancels the appointment, and the API shows each change; neither ever appears in a URL.
 * Test data as the referral tests make it: the published services (ers-booking.ts) with their
 * e-RS profiles, slots published by the provider, referrals through $ers.createReferral.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import {
  addErsServices,
  appointmentBody,
  createBody,
  PROVIDER,
  PUBLISHED_PATIENT,
  REFERRER,
  slotRun,
} from './helpers/ers-booking.js';
import { ers, pdfText, stateOf, STU3 } from './helpers/ers-letters.js';
import { commitPatients, currentJane, withNhsNumber } from './helpers/pds-fixtures.js';
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

const GP = {
  id: 'dr-referrer',
  name: 'Dr Referring Example',
  pin: '1357',
  profiles: [{ role: 'R8000', org: REFERRER }],
};
const PATIENT = {
  id: 'referred.patient',
  name: 'Jane Smith',
  pin: 'patient-pass-2',
  nhsNumber: PUBLISHED_PATIENT,
};
const CONSULTANT = {
  id: 'dr-provider',
  name: 'Dr Provider Example',
  pin: '8642',
  profiles: [{ role: 'R8000', org: PROVIDER }],
};
const PASSWORD_ON_LETTER = /Password: ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})/;

for (const kind of await storesUnderTest()) {
  describe(`web application: e-Referral booking (${kind})`, { skip: browserSkip() }, () => {
    let web: WebPlatform;
    let browser: Browser;

    before(async () => {
      web = await startWebPlatform(kind);
      const { platform } = web;
      await commitPatients(platform.repo, [withNhsNumber(currentJane(), PUBLISHED_PATIENT)]);
      await addErsServices(platform.repo);
      const provider = await platform.token('R8000', { org: PROVIDER, user: 'provider' });
      for (const service of ['11000', '11008']) {
        const res = await platform.request({
          method: 'POST',
          url: '/referrals/manage/Slot/$publish',
          body: slotRun(service, { days: 3 }),
          token: provider,
        });
        assert.equal(res.statusCode, 201, res.body);
      }
      await addStaff(platform, GP);
      await addStaff(platform, CONSULTANT);
      await addPatientAccount(platform, PATIENT);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await web?.close();
    });

    /** A referral of the referring practice for the published patient (11000 and 11030 shortlisted). */
    async function newReferral(): Promise<string> {
      const res = await ers(web.platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/$ers.createReferral`,
        body: createBody(['11000', '11030']),
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().id;
    }
    const referral = async (ubrn: string) =>
      (await ers(web.platform, { url: `${STU3}/ReferralRequest/${ubrn}` })).json();
    async function appointmentOf(ubrn: string) {
      const ref = (await referral(ubrn)).extension.find((e: any) =>
        e.url.endsWith('Extension-eRS-Appointment-Reference-1'),
      )?.valueReference?.reference;
      assert.ok(ref, 'the referral names its appointment');
      return (await ers(web.platform, { url: `${STU3}/${ref}` })).json();
    }
    const checkedSlot = (page: Page) =>
      page.locator('input[name=slot]:checked').getAttribute('value');

    it('a referrer sees the referral on the worklist, opens it and books a slot; a slot taken meanwhile is said plainly', async () => {
      const ubrn = await newReferral();
      const { page, cspViolations } = await openPage(browser);
      await signInStaff(page, web.base, GP, { role: 'R8000', org: REFERRER });

      await page.goto(`${web.base}/app/referrals`);
      const row = page.getByTestId(`worklist-row-${ubrn}`);
      await row.waitFor();
      const rowText = (await row.innerText()).replace(/\s+/g, ' ');
      assert.match(rowText, /991 200 3888/);
      assert.match(rowText, /Forthright Cardiology Business Service/);
      assert.match(rowText, /Urgent/);
      assert.match(rowText, /Not booked/);
      assert.match(await mainText(page), /Awaiting booking.*Referring clinician/);
      assert.equal(
        await row.getByRole('link', { name: '991 200 3888' }).getAttribute('href'),
        `/app/patient/${PUBLISHED_PATIENT}`,
      );
      await expectAccessible(page, 'referrals worklist');
      await screenshot(page, 'referrals-worklist');

      // the provider functions' worklists are offered too: nothing sent to this practice
      await page.selectOption('#function', 'SERVICE_PROVIDER_CLINICIAN');
      await page.getByRole('button', { name: 'Show worklist' }).click();
      assert.match(await mainText(page), /Referrals for review or triage.*no referrals/);
      await page.goto(`${web.base}/app/referrals`);
      await row.getByRole('link', { name: /^\d{4} \d{4} \d{4}$/ }).click();
      assert.equal(new URL(page.url()).pathname, `/app/referrals/${ubrn}`);
      let text = await mainText(page);
      assert.match(text, /State Not booked/);
      assert.match(text, /No appointment has been booked/);
      assert.match(text, /Create Appointment/);
      await expectAccessible(page, 'referral detail');
      await screenshot(page, 'referral-detail');

      await page.getByRole('button', { name: 'Book an appointment' }).click();
      text = await mainText(page);
      assert.match(text, /Phone Us Cardiology/, 'the indirectly bookable service is named');
      await expectAccessible(page, 'choose a slot');
      await screenshot(page, 'referral-book');
      // no choice is an error on the page
      await page.getByRole('button', { name: 'Continue' }).click();
      assert.match(await mainText(page), /There is a problem.*Choose an appointment/);
      await expectAccessible(page, 'choose a slot: error');
      await page.locator('input[name=slot]').first().check();
      const chosen = (await checkedSlot(page))!.split('|')[1];
      await page.getByRole('button', { name: 'Continue' }).click();
      assert.match(await mainText(page), /Check the appointment before you book it/);
      await expectAccessible(page, 'confirm booking');
      await page.getByRole('button', { name: 'Book this appointment' }).click();
      assert.equal(new URL(page.url()).pathname, `/app/referrals/${ubrn}`);
      text = await mainText(page);
      assert.match(text, /Appointment booked/);
      assert.match(text, /State Booked/);
      assert.match(text, /Status Booked/);
      await expectAccessible(page, 'referral booked');

      // the API: BOOKED, its appointment the slot chosen
      assert.equal(stateOf(await referral(ubrn)), 'BOOKED');
      const appointment = await appointmentOf(ubrn);
      assert.equal(appointment.status, 'booked');
      assert.deepEqual(appointment.slot, [{ reference: `Slot/${chosen}` }]);

      // the provider now has it to review, with its appointment
      const consultant = await openPage(browser);
      await signInStaff(consultant.page, web.base, CONSULTANT, { role: 'R8000', org: PROVIDER });
      await consultant.page.goto(`${web.base}/app/referrals?function=SERVICE_PROVIDER_CLINICIAN`);
      const review = consultant.page.getByTestId(`worklist-row-${ubrn}`);
      assert.match(
        (await review.innerText()).replace(/\s+/g, ' '),
        /Forthright Cardiology Business Service Urgent Booked .*Appointment/,
      );
      await expectAccessible(consultant.page, 'provider worklist');
      await consultant.context.close();

      // another referral: its chosen slot is booked by someone else before it is confirmed
      const second = await newReferral();
      await page.goto(`${web.base}/app/referrals/${second}/book?function=REFERRING_CLINICIAN`);
      await page.locator('input[name=slot]').first().check();
      const wanted = (await checkedSlot(page))!.split('|')[1];
      await page.getByRole('button', { name: 'Continue' }).click();
      const other = await newReferral();
      const taken = await ers(web.platform, {
        method: 'POST',
        url: `${STU3}/Appointment`,
        body: appointmentBody('MinimalBooking', other, 1, { slot: wanted }),
      });
      assert.equal(taken.statusCode, 201, taken.body);
      const answer = page.waitForResponse((r) => r.url().endsWith('/book/confirm'));
      await page.getByRole('button', { name: 'Book this appointment' }).click();
      assert.equal((await answer).status(), 409);
      await page.waitForLoadState();
      text = await mainText(page);
      assert.match(text, /Someone else booked the appointment you chose/);
      assert.equal(await page.locator(`input[value$="|${wanted}"]`).count(), 0, 'not offered');
      assert.ok((await page.locator('input[name=slot]').count()) > 0, 'the list again');
      await expectAccessible(page, 'slot taken');
      assert.equal(stateOf(await referral(second)), 'NOT_BOOKED');

      // the first referral's appointment is cancelled (a034): the referral waits to be booked again
      await page.goto(`${web.base}/app/referrals/${ubrn}`);
      await page.getByRole('button', { name: 'Cancel the appointment' }).click();
      await expectAccessible(page, 'cancel appointment');
      await page.getByLabel('The patient is ill').check();
      await page.getByRole('button', { name: 'Cancel the appointment' }).click();
      assert.match(await mainText(page), /Appointment cancelled.*State Not booked/);
      assert.equal(stateOf(await referral(ubrn)), 'NOT_BOOKED');
      assert.equal(
        (await ers(web.platform, { url: `${STU3}/Appointment/${appointment.id}` })).json().status,
        'cancelled',
      );
      assert.deepEqual(cspViolations, []);
    });

    it('a patient books, changes and cancels with the UBRN and password; a wrong password is refused', async () => {
      const ubrn = await newReferral();
      const letter = await ers(web.platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.generatePatientLetter`,
      });
      assert.equal(letter.statusCode, 200, letter.body);
      const password = PASSWORD_ON_LETTER.exec(pdfText(letter.rawPayload))![1];
      const { page, cspViolations } = await openPage(browser);
      const urls: string[] = [];
      page.on('request', (r) => urls.push(r.url()));
      await signInPatient(page, web.base, PATIENT);

      await page.goto(`${web.base}/app/me/referrals`);
      await expectAccessible(page, 'my referrals');
      await screenshot(page, 'me-referrals');
      const enter = async (pw: string) => {
        await page.fill('#ubrn', `${ubrn.slice(0, 4)} ${ubrn.slice(4, 8)} ${ubrn.slice(8)}`);
        await page.fill('#password', pw);
        await page.getByRole('button', { name: 'Continue' }).click();
      };
      await enter('abcd-efgh-jkmn');
      let text = await mainText(page);
      assert.match(text, /The password is not right for this referral\. You have 4 more tries/);
      await expectAccessible(page, 'wrong password');

      await enter(password);
      text = await mainText(page);
      assert.match(text, /Your referral \d{4} \d{4} \d{4}/);
      assert.match(text, /You do not have an appointment booked/);
      await expectAccessible(page, 'my referral');
      await page.locator('input[name=slot]').first().check();
      const first = (await checkedSlot(page))!.split('|')[1];
      await page.getByRole('button', { name: 'Book this appointment' }).click();
      assert.equal(new URL(page.url()).pathname, `/app/me/referrals/${ubrn}`);
      assert.match(await mainText(page), /Your appointment is booked/);
      await expectAccessible(page, 'my referral booked');
      assert.equal(stateOf(await referral(ubrn)), 'BOOKED');
      const booked = await appointmentOf(ubrn);
      assert.deepEqual(booked.slot, [{ reference: `Slot/${first}` }]);

      // changing needs the password again
      await page.fill('#password', password);
      await page.getByRole('button', { name: 'Continue' }).click();
      assert.match(await mainText(page), /Change your appointment/);
      await page.locator('input[name=slot]').nth(1).check();
      const second = (await checkedSlot(page))!.split('|')[1];
      assert.notEqual(second, first);
      await page.getByRole('button', { name: 'Change to this appointment' }).click();
      assert.match(await mainText(page), /Your appointment has been changed/);
      const changed = await appointmentOf(ubrn);
      assert.deepEqual(changed.slot, [{ reference: `Slot/${second}` }]);
      assert.equal(changed.id, booked.id);
      assert.equal(changed.meta.versionId, '2');

      // and cancelling
      await page.fill('#password', password);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('I am on holiday').check();
      await page.getByRole('button', { name: 'Cancel my appointment' }).click();
      text = await mainText(page);
      assert.match(text, /Your appointment has been cancelled/);
      assert.match(text, /Status Not booked/);
      assert.equal(stateOf(await referral(ubrn)), 'NOT_BOOKED');
      assert.equal(
        (await ers(web.platform, { url: `${STU3}/Appointment/${booked.id}` })).json().status,
        'cancelled',
      );

      assert.deepEqual(
        urls.filter((u) => u.includes(password) || new URL(u).search.includes(ubrn)),
        [],
        'neither the password nor the UBRN in a query string',
      );
      assert.deepEqual(cspViolations, []);
    });
  });
}
