/**
 * PDS writes: PATCH /Patient/{id} (the published patch payloads, If-Match / Content-Type rules,
 * business rules, atomicity, concurrency), POST /Patient (birth registration) and $merge.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { isValidNhsNumber } from '../src/fhir/nhs-number.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  assertOutcome,
  assertSearchset,
  commitPatients,
  current,
  DEATH_NOTIFICATION_URL,
  entryIds,
  fixture,
  living,
  mergeBody,
  NHS,
  patchFixture,
  PDS,
  readPatient,
  restrictedJanet,
  search,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';

const JSON_PATCH = 'application/json-patch+json';

/**
 * Jane Smith's record, all current and living, under another number and family name (so it never
 * duplicates a birth).
 */
function variant(nhs: string, family: string, edit: (p: Patient) => void = () => {}): Patient {
  const p = living(current(withNhsNumber(fixture<Patient>('Patient.json'), nhs)));
  p.name![0].family = family;
  edit(p);
  return p;
}

const P = {
  name: SPARE_NHS[0],
  alternative: SPARE_NHS[1],
  gender: SPARE_NHS[2],
  death: SPARE_NHS[3],
  address: SPARE_NHS[4],
  addressWrongId: SPARE_NHS[5],
  addressWhole: SPARE_NHS[6],
  extension: SPARE_NHS[7],
  dispenser: SPARE_NHS[8],
  managing: SPARE_NHS[9],
  refuse: SPARE_NHS[10],
  bare: SPARE_NHS[11],
  race: SPARE_NHS[12],
  mergeSource: SPARE_NHS[13],
  mergeTarget: SPARE_NHS[14],
  mergeOther: SPARE_NHS[15],
  heldTwice: [SPARE_NHS[16], SPARE_NHS[17]],
} as const;

for (const kind of await storesUnderTest()) {
  describe(`PDS writes (${kind})`, () => {
    let platform: TestPlatform;

    before(async () => {
      platform = await startTestPlatform(kind);
      const original = fixture<Patient>('Patient.json'); // Jane Smith as published: name ended 2021-12-31, formal death notice
      const alternative = withNhsNumber(original, P.alternative);
      alternative.name!.push({
        id: '124',
        use: 'usual',
        period: { start: '2022-01-01' },
        given: ['Jane'],
        family: 'Alternative',
      });
      await commitPatients(platform.repo, [
        original,
        restrictedJanet(),
        fixture('Minimal_Patient.json'),
        alternative,
        variant(P.name, 'Namepatch'),
        variant(P.gender, 'Genderpatch'),
        variant(P.death, 'Deathpatch'),
        variant(P.address, 'Addresspatch', (p) => {
          p.address![0].id = '87DAD823';
        }),
        variant(P.addressWrongId, 'Addresswrongid'),
        variant(P.addressWhole, 'Addresswhole'),
        variant(P.extension, 'Extensionpatch'),
        variant(P.dispenser, 'Dispenserpatch', (p) => {
          p.extension!.splice(1, 0, {
            url: 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization',
            valueReference: {
              identifier: {
                system: 'https://fhir.nhs.uk/Id/ods-organization-code',
                value: 'FA565',
              },
            },
          });
        }),
        variant(P.managing, 'Managingpatch'),
        variant(P.refuse, 'Refusepatch'),
        variant(P.bare, 'Barepatch'),
        variant(P.race, 'Racepatch'),
        variant(P.mergeSource, 'Mergesource', (p) => {
          p.birthDate = '1990-01-02';
          p.name![0].given = ['Sam'];
        }),
        variant(P.mergeTarget, 'Mergetarget', (p) => {
          p.birthDate = '1990-01-02';
        }),
        variant(P.mergeOther, 'Mergeother'),
      ]);
    });
    after(async () => {
      await platform?.close();
    });

    function patch(
      nhs: string,
      body: unknown,
      ifMatch: string | null,
      contentType = JSON_PATCH,
      token?: string,
    ): Promise<LightMyRequestResponse> {
      return platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${nhs}`,
        headers: ifMatch === null ? {} : { 'if-match': ifMatch },
        contentType,
        body,
        token,
      });
    }
    /** Patches at the current version; expects 200 and checks the new ETag and version. */
    async function patchOk(nhs: string, body: unknown): Promise<any> {
      const { version } = await readPatient(platform, nhs);
      const res = await patch(nhs, body, `W/"${version}"`);
      assert.equal(res.statusCode, 200, res.body.slice(0, 500));
      assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
      assert.equal(res.headers.etag, `W/"${version + 1}"`);
      const patient = res.json();
      assert.equal(patient.meta.versionId, String(version + 1));
      assert.deepEqual(
        (await readPatient(platform, nhs)).patient,
        patient,
        'GET returns what PATCH answered',
      );
      return patient;
    }
    /** A refused patch: the status and Spine code, and the record (body and version) exactly as before. */
    async function patchRefused(
      nhs: string,
      body: unknown,
      status: number,
      code: string,
      opts: { ifMatch?: string | null; contentType?: string } = {},
    ): Promise<any> {
      const before = await readPatient(platform, nhs);
      const res = await patch(
        nhs,
        body,
        opts.ifMatch === undefined ? `W/"${before.version}"` : opts.ifMatch,
        opts.contentType,
      );
      const outcome = assertOutcome(res, status, code);
      const afterwards = await readPatient(platform, nhs);
      assert.equal(afterwards.version, before.version, 'version unchanged');
      assert.deepEqual(afterwards.patient, before.patient, 'record unchanged');
      return outcome;
    }

    describe('PATCH with the published payloads', () => {
      it('update-name replaces a given name', async () => {
        // a change within a list item must name the item's id first: "no id or url found for path with root
        // /address/0" (NHSDigital/personal-demographics-service-api replaceErrors.feature, and patient-patch.yaml
        // "you must always include the list id or url"); update-name.json is no longer in the published examples
        const body = patchFixture('update-name');
        body.patches.unshift({ op: 'test', path: '/name/0/id', value: '123' });
        const patient = await patchOk(P.name, body);
        assert.deepEqual(patient.name[0].given, ['Anne']);
        assert.equal(patient.name[0].family, 'Namepatch');
      });

      it('add-name appends a name with a server-assigned id', async () => {
        const patient = await patchOk(P.name, patchFixture('add-name'));
        assert.equal(patient.name.length, 2);
        const added = patient.name[1];
        assert.equal(added.family, 'Bloggs');
        assert.deepEqual(added.given, ['Joe', 'Horation', 'Maximus']);
        assert.equal(added.use, 'old');
        assert.equal(typeof added.id, 'string');
        assert.ok(
          added.id.length > 0 && added.id !== '123',
          "added.id.length > 0 && added.id !== '123'",
        );
      });

      it('delete-name of the current usual name is 403 FORBIDDEN_UPDATE', async () => {
        // name 0 here is the current usual name: "Forbidden update with error - not permitted to remove usual name"
        // (NHSDigital/personal-demographics-service-api replace.feature, "Healthcare worker can't
        // remove usual name and DOB");
        // the published record's name 123 has ended, and delete-name-alternative below removes such a name
        const outcome = await patchRefused(
          P.name,
          patchFixture('delete-name'),
          403,
          'FORBIDDEN_UPDATE',
        );
        assert.equal(
          outcome.issue[0].diagnostics,
          'Forbidden update with error - not permitted to remove usual name',
        );
      });

      it('delete-name with the wrong id tested is refused and changes nothing', async () => {
        const body = patchFixture('delete-name');
        body.patches[0].value = 'not-this-one';
        await patchRefused(P.alternative, body, 400, 'INVALID_UPDATE');
      });

      it('delete-name-alternative (testing the whole object) removes the published name', async () => {
        const patient = await patchOk(P.alternative, patchFixture('delete-name-alternative'));
        assert.deepEqual(
          patient.name.map((n: any) => n.family),
          ['Alternative'],
        );
      });

      it('update-gender', async () => {
        const patient = await patchOk(P.gender, patchFixture('update-gender'));
        assert.equal(patient.gender, 'male');
      });

      it('delete-gender is 400 INVALID_UPDATE', async () => {
        await patchRefused(P.gender, patchFixture('delete-gender'), 400, 'INVALID_UPDATE');
      });

      it('add-deceased-date-time sets the date and adds a death notification status', async () => {
        const before = (await readPatient(platform, P.death)).patient;
        assert.equal(before.deceasedDateTime, undefined);
        assert.ok(
          !(before.extension ?? []).some((e: any) => e.url === DEATH_NOTIFICATION_URL),
          'no death notification before',
        );
        const patient = await patchOk(P.death, patchFixture('add-deceased-date-time'));
        assert.equal(patient.deceasedDateTime, '2010-10-22T00:00:00+00:00');
        const notice = patient.extension.find((e: any) => e.url === DEATH_NOTIFICATION_URL);
        assert.ok(notice, 'DeathNotificationStatus extension added');
        const status = notice.extension.find((e: any) => e.url === 'deathNotificationStatus');
        assert.equal(
          status.valueCodeableConcept.coding[0].code,
          '1',
          'a locally reported death is an informal notice',
        );
      });

      it('update-address (with the id of the address) changes line and postcode', async () => {
        const patient = await patchOk(P.address, patchFixture('update-address'));
        assert.equal(patient.address[0].id, '87DAD823');
        assert.equal(patient.address[0].line[0], '2 Whitehall Quay');
        assert.equal(patient.address[0].postalCode, 'LS1 4BU');
        const found = assertSearchset(
          await search(platform, [
            ['family', 'Addresspatch'],
            ['birthdate', 'eq2010-10-22'],
            ['address-postalcode', 'LS14BU'],
          ]),
        );
        assert.deepEqual(entryIds(found), [P.address], 'the index follows the update');
      });

      it('update-address naming another address id is 400 INVALID_UPDATE', async () => {
        await patchRefused(P.addressWrongId, patchFixture('update-address'), 400, 'INVALID_UPDATE');
      });

      it("replacing a whole address must carry that address's id", async () => {
        const otherId = patchFixture('update-address-alternative');
        otherId.patches[0].value.id = '999';
        await patchRefused(P.addressWhole, otherId, 400, 'INVALID_UPDATE');
        const noId = patchFixture('update-address-alternative');
        delete noId.patches[0].value.id;
        await patchRefused(P.addressWhole, noId, 400, 'INVALID_UPDATE');
      });

      it('update-address-alternative replaces the whole address', async () => {
        const patient = await patchOk(P.addressWhole, patchFixture('update-address-alternative'));
        assert.deepEqual(patient.address[0].line, ['2 Whitehall Quay', 'Leeds', 'West Yorkshire']);
        assert.equal(patient.address[0].postalCode, 'LS1 4BU');
        assert.equal(patient.address.length, 1);
      });

      it('add-extension appends a nominated pharmacy', async () => {
        const before = (await readPatient(platform, P.extension)).patient;
        const patient = await patchOk(P.extension, patchFixture('add-extension'));
        assert.equal(patient.extension.length, before.extension.length + 1);
        assert.deepEqual(patient.extension.at(-1), patchFixture('add-extension').patches[0].value);
      });

      it('delete-extension removes the tested extension, and is refused when the test fails', async () => {
        await patchRefused(P.extension, patchFixture('delete-extension'), 400, 'INVALID_UPDATE');
        const patient = await patchOk(P.dispenser, patchFixture('delete-extension'));
        assert.ok(
          !patient.extension.some((e: any) => e.url.endsWith('PreferredDispenserOrganization')),
          'the dispenser extension is gone',
        );
      });

      it('add- and update-managing-organization', async () => {
        const added = await patchOk(P.managing, patchFixture('add-managing-organization'));
        assert.equal(added.managingOrganization.identifier.value, 'Y12345');
        const updated = await patchOk(P.managing, patchFixture('update-managing-organization'));
        assert.deepEqual(updated.managingOrganization.identifier.period, { start: '2019-01-22' });
      });

      it('a bare JSON Patch array is accepted too', async () => {
        const patient = await patchOk(P.bare, [{ op: 'replace', path: '/gender', value: 'other' }]);
        assert.equal(patient.gender, 'other');
      });

      it('the minimal record can be completed in one patch', async () => {
        const patient = await patchOk(NHS.minimal, {
          patches: [
            { op: 'add', path: '/name', value: [{ use: 'usual', given: ['Min'], family: 'Imal' }] },
            { op: 'add', path: '/gender', value: 'unknown' },
            { op: 'add', path: '/birthDate', value: '2001-02-03' },
          ],
        });
        assert.equal(patient.name[0].family, 'Imal');
        assert.ok(patient.name[0].id, 'the new name got an id');
        assert.ok(patient.name[0].period?.start, 'the new name got a start date');
        assert.equal(patient.gender, 'unknown');
      });
    });

    describe('PATCH preconditions and headers', () => {
      const gender = { patches: [{ op: 'replace', path: '/gender', value: 'male' }] };

      it('If-Match missing or malformed is 412 PRECONDITION_FAILED', async () => {
        const { version } = await readPatient(platform, P.refuse);
        await patchRefused(P.refuse, gender, 412, 'PRECONDITION_FAILED', { ifMatch: null });
        for (const bad of [
          `W/${version}`,
          `"${version}"`,
          `${version}`,
          'W/"abc"',
          `W/'${version}'`,
          '*',
        ]) {
          await patchRefused(P.refuse, gender, 412, 'PRECONDITION_FAILED', { ifMatch: bad });
        }
      });

      it('a stale If-Match is 409 RESOURCE_VERSION_MISMATCH', async () => {
        // changes within a list item name its id first (published: replaceErrors.feature, "no id or
        // url found for path with root /address/0")
        await patchOk(P.refuse, {
          patches: [
            { op: 'test', path: '/name/0/id', value: '123' },
            { op: 'replace', path: '/name/0/given/0', value: 'Ruth' },
          ],
        });
        const { version } = await readPatient(platform, P.refuse);
        assert.ok(version >= 2, 'version >= 2');
        await patchRefused(P.refuse, gender, 409, 'RESOURCE_VERSION_MISMATCH', {
          ifMatch: `W/"${version - 1}"`,
        });
        await patchRefused(P.refuse, gender, 409, 'RESOURCE_VERSION_MISMATCH', {
          ifMatch: `W/"${version + 1}"`,
        });
      });

      it('a name whose prefix or suffix is a string, not a list of strings, is 400 INVALID_VALUE (the Postman collection\'s "Add a new name")', async () => {
        for (const [field, value] of [
          ['prefix', 'Dr'],
          ['suffix', 'PhD'],
        ] as const) {
          const name = {
            use: 'nickname',
            period: { start: '2020-01-01' },
            given: ['Jo'],
            family: 'Bloggs',
            [field]: value,
          };
          const outcome = await patchRefused(
            P.refuse,
            { patches: [{ op: 'add', path: '/name/-', value: name }] },
            400,
            'INVALID_VALUE',
          );
          assert.match(outcome.issue[0].diagnostics, new RegExp(`in field 'name/\\d+/${field}'`));
        }
      });

      it('a Content-Type other than application/json-patch+json is 400 UNSUPPORTED_SERVICE (patient-patch.yaml "Wrong content type")', async () => {
        for (const contentType of ['application/json', 'application/fhir+json']) {
          await patchRefused(P.refuse, gender, 400, 'UNSUPPORTED_SERVICE', { contentType });
        }
      });

      it('an unknown patient is 404, an invalid number 400, no number 400 UNSUPPORTED_SERVICE', async () => {
        assertOutcome(await patch(NHS.notFound, gender, 'W/"1"'), 404, 'RESOURCE_NOT_FOUND');
        assertOutcome(await patch(NHS.invalid, gender, 'W/"1"'), 400, 'INVALID_RESOURCE_ID');
        const none = await platform.request({
          method: 'PATCH',
          url: `${PDS}/Patient`,
          headers: { 'if-match': 'W/"1"' },
          contentType: JSON_PATCH,
          body: gender,
        });
        assertOutcome(none, 400, 'UNSUPPORTED_SERVICE');
      });
    });

    describe('PATCH refusals are atomic', () => {
      it('a body without patches is 400 INVALID_UPDATE', async () => {
        for (const body of [
          {},
          { patches: [] },
          { patches: 'replace' },
          { patch: [{ op: 'replace', path: '/gender', value: 'male' }] },
        ]) {
          await patchRefused(P.refuse, body, 400, 'INVALID_UPDATE');
        }
      });

      it('malformed operations are 400 INVALID_UPDATE', async () => {
        // an op outside add/replace/remove/test is 400 INVALID_VALUE "Invalid value - 'bad_value' in field '0/op'"
        // (NHSDigital/personal-demographics-service-api requestErrors.feature, "Invalid patch")
        for (const op of ['move', 'copy']) {
          const outcome = await patchRefused(
            P.refuse,
            { patches: [{ op, from: '/gender', path: '/birthDate' }] },
            400,
            'INVALID_VALUE',
          );
          assert.equal(outcome.issue[0].diagnostics, `Invalid value - '${op}' in field '0/op'`);
        }
        const bad = [
          { op: 'replace', path: '/gender' },
          { op: 'remove', path: '/multipleBirthInteger', value: 1 },
          { op: 'replace', path: 'gender', value: 'male' },
          { path: '/gender', value: 'male' },
        ];
        for (const op of bad)
          await patchRefused(P.refuse, { patches: [op] }, 400, 'INVALID_UPDATE');
      });

      it("an unknown element ('/pets') is 400 INVALID_UPDATE naming it", async () => {
        const outcome = await patchRefused(
          P.refuse,
          { patches: [{ op: 'add', path: '/pets', value: ['cat'] }] },
          400,
          'INVALID_UPDATE',
        );
        assert.match(outcome.issue[0].diagnostics, /pets/);
        assert.equal(
          outcome.issue[0].diagnostics,
          fixture('4xx/invalid_update.json').issue[0].diagnostics,
        );
      });

      it('changing /id, /identifier or /meta is 403 FORBIDDEN_UPDATE', async () => {
        for (const op of [
          { op: 'replace', path: '/id', value: '9000000009' },
          { op: 'replace', path: '/identifier/0/value', value: '9000000009' },
          { op: 'replace', path: '/identifier', value: [] },
          { op: 'replace', path: '/meta/security/0/code', value: 'U' },
        ])
          await patchRefused(P.refuse, { patches: [op] }, 403, 'FORBIDDEN_UPDATE');
      });

      it('list items: numeric index for a new item, id on a new item, remove without test are 400', async () => {
        const name = { use: 'usual', given: ['New'], family: 'Name' };
        await patchRefused(
          P.refuse,
          { patches: [{ op: 'add', path: '/name/0', value: name }] },
          400,
          'INVALID_UPDATE',
        );
        await patchRefused(
          P.refuse,
          { patches: [{ op: 'add', path: '/name/-', value: { ...name, id: 'MINE' } }] },
          400,
          'INVALID_UPDATE',
        );
        await patchRefused(
          P.refuse,
          { patches: [{ op: 'add', path: '/name/0/given/-', value: 'Extra' }] },
          400,
          'INVALID_UPDATE',
        );
        await patchRefused(
          P.refuse,
          { patches: [{ op: 'remove', path: '/telecom/0' }] },
          400,
          'INVALID_UPDATE',
        );
        // the test must come immediately before the remove
        await patchRefused(
          P.refuse,
          {
            patches: [
              { op: 'test', path: '/telecom/0/id', value: '789' },
              { op: 'replace', path: '/gender', value: 'male' },
              { op: 'remove', path: '/telecom/0' },
            ],
          },
          400,
          'INVALID_UPDATE',
        );
      });

      it('a failing test operation is 400', async () => {
        await patchRefused(
          P.refuse,
          {
            patches: [
              { op: 'test', path: '/gender', value: 'male' },
              { op: 'replace', path: '/birthDate', value: '2010-10-21' },
            ],
          },
          400,
          'INVALID_UPDATE',
        );
        await patchRefused(
          P.refuse,
          {
            patches: [
              { op: 'test', path: '/telecom/0/id', value: 'nope' },
              { op: 'remove', path: '/telecom/0' },
            ],
          },
          400,
          'INVALID_UPDATE',
        );
      });

      it('a patch giving an invalid record is 400', async () => {
        const future = new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10);
        await patchRefused(
          P.refuse,
          { patches: [{ op: 'replace', path: '/gender', value: 'x' }] },
          400,
          'INVALID_VALUE',
        );
        await patchRefused(
          P.refuse,
          { patches: [{ op: 'replace', path: '/birthDate', value: future }] },
          400,
          'INVALID_VALUE',
        );
        await patchRefused(
          P.refuse,
          { patches: [{ op: 'replace', path: '/birthDate', value: '2010-02-30' }] },
          400,
          'INVALID_VALUE',
        );
        await patchRefused(
          P.refuse,
          {
            patches: [
              { op: 'test', path: '/address/0/id', value: '456' },
              { op: 'replace', path: '/address/0/postalCode', value: 'NOTAPOSTCODE' },
            ],
          },
          400,
          'INVALID_VALUE',
        );
        await patchRefused(
          P.refuse,
          {
            patches: [
              {
                op: 'add',
                path: '/telecom/-',
                value: { system: 'phone', value: '0113 496 0000', period: { start: future } },
              },
            ],
          },
          400,
          'INVALID_UPDATE',
        );
        await patchRefused(
          P.refuse,
          {
            patches: [
              { op: 'test', path: '/address/0/id', value: '456' },
              {
                op: 'replace',
                path: '/address/0/period',
                value: { start: '2020-01-01', end: '2019-01-01' },
              },
            ],
          },
          400,
          'INVALID_UPDATE',
        );
      });

      it('one bad operation among good ones applies none of them', async () => {
        await patchRefused(
          P.refuse,
          {
            patches: [
              { op: 'replace', path: '/gender', value: 'male' },
              { op: 'test', path: '/name/0/id', value: '123' },
              { op: 'replace', path: '/name/0/given/0', value: 'Changed' },
              { op: 'replace', path: '/birthDate', value: '2999-01-01' },
            ],
          },
          400,
          'INVALID_VALUE',
        );
        await patchRefused(
          P.refuse,
          {
            patches: [
              { op: 'replace', path: '/gender', value: 'male' },
              { op: 'add', path: '/pets', value: 'dog' },
            ],
          },
          400,
          'INVALID_UPDATE',
        );
      });

      it("the restricted record's address cannot be changed: 403 FORBIDDEN_UPDATE", async () => {
        await patchRefused(
          NHS.restricted,
          { patches: [{ op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' }] },
          403,
          'FORBIDDEN_UPDATE',
        );
        await patchRefused(
          NHS.restricted,
          {
            patches: [
              {
                op: 'add',
                path: '/address/-',
                value: { use: 'home', line: ['1 New St'], postalCode: 'LS1 4BU' },
              },
            ],
          },
          403,
          'FORBIDDEN_UPDATE',
        );
        const stored = (await platform.repo.read('Patient', NHS.restricted))!.resource;
        assert.equal(stored.address.length, 1);
        assert.equal(stored.address[0].postalCode, 'LS1 6AE');
      });

      it('after a formal death notice the date of death cannot be changed: 403 FORBIDDEN_UPDATE', async () => {
        await patchRefused(
          NHS.jane,
          {
            patches: [
              { op: 'replace', path: '/deceasedDateTime', value: '2011-01-01T00:00:00+00:00' },
            ],
          },
          403,
          'FORBIDDEN_UPDATE',
        );
        await patchRefused(
          NHS.jane,
          { patches: [{ op: 'remove', path: '/deceasedDateTime' }] },
          403,
          'FORBIDDEN_UPDATE',
        );
        await patchRefused(NHS.jane, patchFixture('update-extension'), 403, 'FORBIDDEN_UPDATE');
      });

      it('an informal death date can still be corrected', async () => {
        const patient = await patchOk(P.death, {
          patches: [
            { op: 'replace', path: '/deceasedDateTime', value: '2011-01-01T00:00:00+00:00' },
          ],
        });
        assert.equal(patient.deceasedDateTime, '2011-01-01T00:00:00+00:00');
      });
    });

    describe('concurrent PATCHes', () => {
      it('with the same If-Match exactly one wins and the record is the winner', async () => {
        const { version } = await readPatient(platform, P.race);
        const body = (given: string) => ({
          patches: [
            { op: 'test', path: '/name/0/id', value: '123' },
            { op: 'replace', path: '/name/0/given/0', value: given },
          ],
        });
        const results = await Promise.all([
          patch(P.race, body('Alpha'), `W/"${version}"`),
          patch(P.race, body('Bravo'), `W/"${version}"`),
        ]);
        const statuses = results.map((r) => r.statusCode).sort();
        assert.deepEqual(statuses, [200, 409], results.map((r) => r.body.slice(0, 200)).join('\n'));
        const winner = results.find((r) => r.statusCode === 200)!;
        const loser = results.find((r) => r.statusCode === 409)!;
        assertOutcome(loser, 409, 'RESOURCE_VERSION_MISMATCH');
        const final = await readPatient(platform, P.race);
        assert.equal(final.version, version + 1);
        assert.deepEqual(final.patient, winner.json());
        assert.ok(
          ['Alpha', 'Bravo'].includes(final.patient.name[0].given[0]),
          "['Alpha', 'Bravo'].includes(final.patient.name[0].given[0])",
        );
        const history = (
          await platform.request({ url: `${PDS}/Patient/${P.race}/_history` })
        ).json();
        assert.equal(history.total, version + 1);
      });
    });

    describe('POST /Patient (birth registration)', () => {
      const body = () => fixture('requests/PatientCreate/create-patient.json');

      it('creates a record under a new valid NHS Number', async () => {
        const before = await platform.repo.count('Patient');
        const res = await platform.request({ method: 'POST', url: `${PDS}/Patient`, body: body() });
        assert.equal(res.statusCode, 201, res.body.slice(0, 500));
        const created = res.json();
        assert.ok(isValidNhsNumber(created.id), created.id);
        assert.match(
          String(res.headers.location),
          new RegExp(`/personal-demographics/FHIR/R4/Patient/${created.id}$`),
        );
        assert.equal(res.headers.etag, 'W/"1"');
        assert.equal(created.meta.versionId, '1');
        assert.equal(created.identifier[0].system, 'https://fhir.nhs.uk/Id/nhs-number');
        assert.equal(created.identifier[0].value, created.id);
        assert.equal(created.name[0].family, 'Smith');
        assert.equal(created.birthDate, '2010-10-22');
        assert.equal(await platform.repo.count('Patient'), before + 1);
        const { patient } = await readPatient(platform, created.id);
        assert.deepEqual(patient, created);
      });

      it('the same demographics again is 200 SINGLE_MATCH (the published body, naming the record) and creates nothing', async () => {
        const before = await platform.repo.count('Patient');
        const named = (family: string) => {
          const b = body();
          b.name[0].family = family;
          return b;
        };
        const first = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient`,
          body: named('Heldonce'),
        });
        assert.equal(first.statusCode, 201, first.body.slice(0, 500));
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient`,
          body: named('Heldonce'),
        });
        assert.equal(res.statusCode, 200, res.body);
        // karate-tests mocks/stubs/postPatientResponses/SINGLE_MATCH_FOUND.json, its one Karate expression filled
        const expected = JSON.parse(
          JSON.stringify(fixture('postPatientResponses/SINGLE_MATCH_FOUND.json')).replace(
            `"#('Unable to create new patient. NHS number ' + nhsNumber + ' found for supplied demographic data.')"`,
            JSON.stringify(
              `Unable to create new patient. NHS number ${first.json().id} found for supplied demographic data.`,
            ),
          ),
        );
        assert.deepEqual(res.json(), expected);
        assert.equal(await platform.repo.count('Patient'), before + 1);
      });

      it('demographics several records hold are 200 MULTIPLE_MATCHES (the published body) and create nothing', async () => {
        // two current records with the demographics of the request below (Jane, female, 2010-10-22)
        await commitPatients(
          platform.repo,
          P.heldTwice.map((nhs) =>
            variant(nhs, 'Heldtwice', (p) => {
              p.gender = 'female';
              p.birthDate = '2010-10-22';
            }),
          ),
        );
        const b = body();
        b.name[0].family = 'Heldtwice';
        const before = await platform.repo.count('Patient');
        const res = await platform.request({ method: 'POST', url: `${PDS}/Patient`, body: b });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), fixture('postPatientResponses/MULTIPLE_MATCHES_FOUND.json'));
        assert.equal(await platform.repo.count('Patient'), before);
      });

      it('an id, identifier or meta supplied by the caller is 400', async () => {
        const before = await platform.repo.count('Patient');
        for (const extra of [
          { id: '9000000041' },
          { identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000041' }] },
          { meta: { versionId: '5' } },
        ]) {
          const res = await platform.request({
            method: 'POST',
            url: `${PDS}/Patient`,
            body: { ...body(), name: [{ given: ['Other'], family: 'Person' }], ...extra },
          });
          assertOutcome(res, 400, 'INVALID_VALUE');
        }
        assert.equal(await platform.repo.count('Patient'), before);
      });

      it('missing gender or birthDate is 400 MISSING_VALUE', async () => {
        const before = await platform.repo.count('Patient');
        for (const field of ['gender', 'birthDate']) {
          const b: any = { ...body(), name: [{ given: ['Missing'], family: 'Field' }] };
          delete b[field];
          assertOutcome(
            await platform.request({ method: 'POST', url: `${PDS}/Patient`, body: b }),
            400,
            'MISSING_VALUE',
          );
        }
        assert.equal(await platform.repo.count('Patient'), before);
      });

      it('twenty births get twenty distinct NHS Numbers', async () => {
        const before = await platform.repo.count('Patient');
        const ids = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const b: any = {
            ...body(),
            name: [
              {
                use: 'usual',
                given: ['Baby'],
                family: `Birth${String.fromCharCode(97 + i)}`,
                period: { start: '2024-01-01' },
              },
            ],
          };
          const res = await platform.request({ method: 'POST', url: `${PDS}/Patient`, body: b });
          assert.equal(res.statusCode, 201, res.body.slice(0, 300));
          const id = res.json().id;
          assert.ok(isValidNhsNumber(id), id);
          ids.add(id);
        }
        assert.equal(ids.size, 20);
        assert.equal(await platform.repo.count('Patient'), before + 20);
      });
    });

    describe('$merge', () => {
      const merge = async (source: string, target: string, role = 'R8013') =>
        platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$merge`,
          token: await platform.token(role),
          body: mergeBody(source, target),
        });
      const sourceQuery: [string, string][] = [
        ['family', 'Mergesource'],
        ['given', 'Sam'],
        ['birthdate', 'eq1990-01-02'],
      ];

      it('supersedes the source by the target', async () => {
        // before the merge the source answers its own demographics
        assert.deepEqual(entryIds(assertSearchset(await search(platform, sourceQuery))), [
          P.mergeSource,
        ]);
        const res = await merge(P.mergeSource, P.mergeTarget);
        assert.equal(res.statusCode, 200, res.body.slice(0, 500));
        assert.equal(res.json().id, P.mergeTarget);

        const read = await readPatient(platform, P.mergeSource);
        assert.equal(read.patient.id, P.mergeTarget);
        assert.equal(read.patient.name[0].family, 'Mergetarget');
        // a search on the superseded record's details answers with the superseding record instead
        const found = assertSearchset(await search(platform, sourceQuery));
        assert.deepEqual(entryIds(found), [P.mergeTarget]);
        assert.equal(found.entry[0].resource.name[0].family, 'Mergetarget');
        const fuzzy = assertSearchset(
          await search(platform, [...sourceQuery, ['_fuzzy-match', 'true']]),
        );
        assert.deepEqual(entryIds(fuzzy), [P.mergeTarget]);
      });

      it('keeps the history of both numbers', async () => {
        const source = await platform.request({ url: `${PDS}/Patient/${P.mergeSource}/_history` });
        assert.equal(source.statusCode, 200);
        const sb = source.json();
        assert.equal(sb.type, 'history');
        assert.equal(sb.total, 2);
        assert.ok(
          sb.entry.every((e: any) => e.resource.id === P.mergeSource),
          'sb.entry.every((e: any) => e.resource.id === P.mergeSource)',
        );
        assert.equal(sb.entry[1].resource.name[0].family, 'Mergesource');
        assert.ok(
          sb.entry[0].resource.link.some(
            (l: any) => l.type === 'replaced-by' && l.other.identifier.value === P.mergeTarget,
          ),
          "sb.entry[0].resource.link.some((l: any) => l.type === 'replaced-by' && l.other.i",
        );
        const target = await platform.request({ url: `${PDS}/Patient/${P.mergeTarget}/_history` });
        assert.equal(target.statusCode, 200);
        assert.equal(target.json().total, 2);
      });

      it('merging a record into itself is 400', async () => {
        assertOutcome(await merge(P.mergeOther, P.mergeOther), 400, 'INVALID_UPDATE');
      });

      it('merging an already superseded number, or into one, is 400', async () => {
        assertOutcome(await merge(P.mergeSource, P.mergeOther), 400, 'INVALID_UPDATE');
        assertOutcome(await merge(P.mergeOther, P.mergeSource), 400, 'INVALID_UPDATE');
        assert.equal((await readPatient(platform, P.mergeOther)).version, 1, 'nothing written');
      });

      it('unknown or invalid numbers and bad bodies are refused', async () => {
        assertOutcome(await merge(NHS.notFound, P.mergeOther), 404, 'RESOURCE_NOT_FOUND');
        assertOutcome(await merge(P.mergeOther, NHS.invalid), 400, 'INVALID_RESOURCE_ID');
        const bad = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$merge`,
          token: await platform.token('R8013'),
          body: { resourceType: 'Patient' },
        });
        assertOutcome(bad, 400, 'INVALID_VALUE');
      });

      it('R8000 may not merge', async () => {
        assertOutcome(await merge(P.mergeOther, P.mergeTarget, 'R8000'), 403, 'ACCESS_DENIED');
      });
    });
  });
}
