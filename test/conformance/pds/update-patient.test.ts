/**
 * Conformance: PATCH /Patient by a healthcare worker, scenario by scenario from NHS England's
 * karate-tests/src/test/java/patients/healthcareWorker/updatePatientDetails/*.feature
 * (NHSDigital/personal-demographics-service-api, f57f5839b956fedb708555227ef2f9aefcc0cc37).
 * Where a feature creates its patient (POST /Patient with the Karate templates) so does the test; where it
 * names an INT or sandbox patient, the test loads a record of the shape the scenario relies on under that number.
 * Scenarios set aside are listed in test/conformance/pds/SET-ASIDE.md.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { assertOutcome, commitPatients, fixture, PDS } from '../../helpers/pds-fixtures.js';
import {
  assertPublishedError,
  createPatient,
  createVars,
  karateTemplate,
  lastMonth,
  patchRecord,
  person,
  randomAddress,
  randomTempAddress,
  readRecord,
} from './published.js';

const F = 'healthcareWorker/updatePatientDetails';
const COMMUNICATION_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication';
const BIRTH_PLACE_URL = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';

/** The INT/sandbox patients the features name, as records of the shape each scenario relies on. */
const N = {
  oneUsualName: '5900059332',
  deceasedOffset: '9736363287',
  removeErrors: '5900057208',
  addressWithoutLine: '5900046192',
  noAddress: '5900059073',
  badStoredAddress: '9733162515',
} as const;

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance, ${F} (${kind})`, () => {
    let platform: TestPlatform;
    const patch = (nhs: string, body: unknown, etag: string) =>
      patchRecord(platform, nhs, body, etag);
    const created = async (
      template = 'post-patient-request',
      overrides: Record<string, unknown> = {},
    ) => {
      const res = await createPatient(platform, template, createVars(overrides));
      assert.equal(res.statusCode, 201, res.body.slice(0, 600));
      return res.json();
    };

    before(async () => {
      platform = await startTestPlatform(kind);
      const noAddress = person(N.noAddress, 'Noaddress');
      delete noAddress.address;
      const withoutLine = person(N.addressWithoutLine, 'Withoutline');
      withoutLine.address = [
        { id: '456', use: 'home', period: { start: '2010-01-01' }, postalCode: 'LS1 6AE' },
      ];
      // a temporary address without an end date, and a postcode PDS holds ('BAP 4WG'): data today's create rules refuse
      const badAddress = person(N.badStoredAddress, 'Badaddress');
      badAddress.address = [
        {
          id: 'A1',
          use: 'home',
          period: { start: '2010-01-01' },
          line: ['1 High Street', '', '', 'Leeds', ''],
          postalCode: 'BAP 4WG',
        },
        {
          id: 'A2',
          use: 'temp',
          period: { start: '2019-01-01' },
          line: ['2 Low Street', '', '', 'Leeds', ''],
          postalCode: 'LS1 6AE',
        },
      ];
      await commitPatients(platform.repo, [
        person(N.oneUsualName, 'Oneusualname'),
        person(N.deceasedOffset, 'Deceasedoffset'),
        person(N.removeErrors, 'Removeerrors'),
        withoutLine,
        noAddress,
        badAddress,
      ]);
    });
    after(async () => platform?.close());

    describe('patch-patient.yaml contract points (not Karate scenarios)', () => {
      it('a test of an absent list against [] holds, and add to /contact/- creates the list', async () => {
        const { patient, etag } = await readRecord(platform, N.noAddress);
        assert.equal(patient.contact, undefined);
        const res = await patch(
          N.noAddress,
          {
            patches: [
              { op: 'test', path: '/contact', value: [] },
              {
                op: 'add',
                path: '/contact/-',
                value: {
                  relationship: [
                    {
                      coding: [
                        {
                          system: 'http://terminology.hl7.org/CodeSystem/v2-0131',
                          code: 'C',
                          display: 'Emergency Contact',
                        },
                      ],
                    },
                  ],
                  telecom: [{ system: 'phone', value: '01632960587' }],
                },
              },
            ],
          },
          etag,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().contact.length, 1);
        assert.equal(typeof res.json().contact[0].id, 'string');
      });
    });

    describe(`${F}/addErrors.feature`, () => {
      it(`${F}/addErrors.feature: Forbidden update example - multiple usual names cannot be added`, async () => {
        const { patient, etag } = await readRecord(platform, N.oneUsualName);
        assert.equal(patient.name.length, 1);
        const newName = {
          use: 'usual',
          period: { start: '2019-12-31' },
          prefix: ['Dr'],
          given: ['Joe', 'Horation', 'Maximus'],
          family: 'Bloggs',
          suffix: ['PhD'],
        };
        const res = await patch(
          N.oneUsualName,
          { patches: [{ op: 'add', path: '/name/-', value: newName }] },
          etag,
        );
        assertPublishedError(
          res,
          403,
          'FORBIDDEN_UPDATE',
          'Forbidden update with error - multiple usual names cannot be added',
        );
      });

      it(`${F}/addErrors.feature: Invalid Value - Add deceasedTime in yyyy-mm-ddTHH:MM:SS+01:00 format`, async () => {
        const { etag } = await readRecord(platform, N.deceasedOffset);
        const deceasedDate = `${lastMonth()}T00:00:00+01:00`;
        const res = await patch(
          N.deceasedOffset,
          karateTemplate('deceasedDateTime', { deceasedDate }),
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_VALUE',
          `Invalid value - '${deceasedDate}' in field 'deceasedDateTime'`,
        );
      });
    });

    describe(`${F}/removeErrors.feature`, () => {
      it(`${F}/removeErrors.feature: Error: attempt to remove name object from patient without prior test`, async () => {
        const { etag } = await readRecord(platform, N.removeErrors);
        const res = await patch(
          N.removeErrors,
          { patches: [{ op: 'remove', path: '/name/1' }] },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - removal '/name/1' is not immediately preceded by equivalent test - instead it is the first item",
        );
      });

      it(`${F}/removeErrors.feature: Error: attempt to remove name object that doesn't exist`, async () => {
        const { patient, etag } = await readRecord(platform, N.removeErrors);
        assert.equal(patient.name.length, 1);
        const res = await patch(
          N.removeErrors,
          {
            patches: [
              { op: 'test', path: '/name/1/id', value: '123456' },
              { op: 'remove', path: '/name/1' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - Invalid patch - index '1' is out of bounds",
        );
      });

      it(`${F}/removeErrors.feature: Error: attempt to remove suffix that doesn't exist`, async () => {
        const { patient, etag } = await readRecord(platform, N.removeErrors);
        assert.equal(patient.name[0].suffix, undefined);
        const res = await patch(
          N.removeErrors,
          {
            patches: [
              { op: 'test', path: '/name/0/id', value: patient.name[0].id },
              { op: 'remove', path: '/name/0/suffix/0' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - Invalid patch - can't remove non-existent object '0'",
        );
      });
    });

    describe(`${F}/replaceErrors.feature`, () => {
      it(`${F}/replaceErrors.feature: Invalid patch - no address ID`, async () => {
        const nhs = (await created()).id;
        const { etag } = await readRecord(platform, nhs);
        const res = await patch(
          nhs,
          {
            patches: [
              { op: 'replace', path: '/address/0/line/0', value: '2 Whitehall Quay' },
              { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          'Invalid update with error - no id or url found for path with root /address/0',
        );
      });

      it(`${F}/replaceErrors.feature: Invalid patch - attempt to replace non-existent object`, async () => {
        // the sandbox record 5900046192: address 456 has no lines
        const { etag } = await readRecord(platform, N.addressWithoutLine);
        const res = await patch(
          N.addressWithoutLine,
          {
            patches: [
              { op: 'replace', path: '/address/0/id', value: '456' },
              {
                op: 'replace',
                path: '/address/0/line',
                value: ['2 Trevelyan Square', 'Boar Lane', 'Leeds'],
              },
              { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - Invalid patch - can't replace non-existent object 'line'",
        );
      });

      it(`${F}/replaceErrors.feature: Invalid patch - invalid address ID`, async () => {
        const nhs = (await created()).id;
        const { etag } = await readRecord(platform, nhs);
        const res = await patch(
          nhs,
          {
            patches: [
              { op: 'replace', path: '/address/0/id', value: '123456' },
              { op: 'replace', path: '/address/0/line/0', value: '2 Whitehall Quay' },
              { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - no 'address' resources with object id '123456'",
        );
      });

      it(`${F}/replaceErrors.feature: Invalid patch - invalid address ID only`, async () => {
        const nhs = (await created()).id;
        const { etag } = await readRecord(platform, nhs);
        const res = await patch(
          nhs,
          { patches: [{ op: 'replace', path: '/address/0/id', value: '123456' }] },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - no 'address' resources with object id '123456'",
        );
      });

      it(`${F}/replaceErrors.feature: Invalid patch - patient with no address`, async () => {
        const { etag } = await readRecord(platform, N.noAddress);
        const res = await patch(
          N.noAddress,
          {
            patches: [
              { op: 'replace', path: '/address/0/id', value: '456' },
              { op: 'replace', path: '/address/0/line/0', value: '2 Whitehall Quay' },
              { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - Invalid patch - index '0' is out of bounds",
        );
      });

      it(`${F}/replaceErrors.feature: Invalid patch - Patient with no address / Request without address ID`, async () => {
        const { etag } = await readRecord(platform, N.noAddress);
        const res = await patch(
          N.noAddress,
          {
            patches: [
              { op: 'replace', path: '/address/0/line/0', value: '2 Whitehall Quay' },
              { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          'Invalid update with error - no id or url found for path with root /address/0',
        );
      });
    });

    describe(`${F}/requestErrors.feature`, () => {
      const nhs = N.noAddress;
      const raw = (headers: Record<string, string>, body: unknown, url = `${PDS}/Patient/${nhs}`) =>
        platform.request({
          method: 'PATCH',
          url,
          headers,
          contentType: headers['content-type'] ?? 'application/json-patch+json',
          body,
        });

      it(`${F}/requestErrors.feature: No patch operations`, async () => {
        const { etag } = await readRecord(platform, nhs);
        assertPublishedError(
          await patch(nhs, {}, etag),
          400,
          'INVALID_UPDATE',
          'Invalid update with error - No patches found',
        );
      });

      it(`${F}/requestErrors.feature: Incorrect resource version`, async () => {
        const { version } = await readRecord(platform, nhs);
        const res = await patch(
          nhs,
          { patches: [{ op: 'replace', path: '/gender', value: 'male' }] },
          `W/"${version + 1}"`,
        );
        assertOutcome(res, 409, 'RESOURCE_VERSION_MISMATCH');
      });

      it(`${F}/requestErrors.feature: Invalid x-request-id header`, async () => {
        const { etag } = await readRecord(platform, nhs);
        const res = await raw(
          { 'if-match': etag, 'x-request-id': '1234' },
          { patches: [{ op: 'replace', path: '/gender', value: 'male' }] },
        );
        assertOutcome(res, 400, 'INVALID_VALUE');
        assert.equal(
          res.json().issue[0].diagnostics,
          "Invalid value - '1234' in header 'X-Request-ID'",
        );
      });

      it(`${F}/requestErrors.feature: Missing If-Match header`, async () => {
        const res = await raw({}, { patches: [{ op: 'replace', path: '/gender', value: 'male' }] });
        assertOutcome(res, 412, 'PRECONDITION_FAILED');
      });

      it(`${F}/requestErrors.feature: Invalid content-type header`, async () => {
        const { etag, version } = await readRecord(platform, nhs);
        const res = await raw(
          { 'if-match': etag, 'content-type': 'application/bananas' },
          JSON.stringify({ patches: [{ op: 'remove', path: '/name/0/suffix/0' }] }),
        );
        // published: 400 with mocks/stubs/errorResponses/UNSUPPORTED_SERVICE.json as it is (no diagnostics)
        assert.equal(res.statusCode, 400, res.body);
        assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
        assert.deepEqual(res.json(), fixture('errorResponses/UNSUPPORTED_SERVICE.json'));
        assert.equal((await readRecord(platform, nhs)).version, version, 'nothing was applied');
      });

      // the same refusal for a Content-Type that is not a media type at all (Fastify itself would answer 415)
      // and for text/plain (which Fastify parses by default)
      it(`${F}/requestErrors.feature: Invalid content-type header ('bananas', ';;', text/plain)`, async () => {
        const { etag } = await readRecord(platform, nhs);
        for (const contentType of ['bananas', ';;', 'text/plain']) {
          const res = await raw(
            { 'if-match': etag, 'content-type': contentType },
            JSON.stringify({ patches: [{ op: 'remove', path: '/name/0/suffix/0' }] }),
          );
          assert.equal(res.statusCode, 400, `${contentType}: ${res.body}`);
          assert.deepEqual(
            res.json(),
            fixture('errorResponses/UNSUPPORTED_SERVICE.json'),
            contentType,
          );
        }
      });

      it(`${F}/requestErrors.feature: Invalid patch`, async () => {
        const { etag } = await readRecord(platform, nhs);
        const res = await patch(nhs, { patches: [{ op: 'bad_value', path: 'not a path' }] }, etag);
        assertPublishedError(
          res,
          400,
          'INVALID_VALUE',
          "Invalid value - 'bad_value' in field '0/op'",
        );
      });

      it(`${F}/requestErrors.feature: Invalid NHS Number`, async () => {
        const res = await patch(
          '9000000000',
          { patches: [{ op: 'replace', path: '/gender', value: 'male' }] },
          'W/"1"',
        );
        assertOutcome(res, 400, 'INVALID_RESOURCE_ID');
      });

      it(`${F}/requestErrors.feature: Patient not found`, async () => {
        const res = await patch(
          '9111231130',
          { patches: [{ op: 'replace', path: '/gender', value: 'male' }] },
          'W/"1"',
        );
        assert.equal(res.statusCode, 404, res.body);
        assert.deepEqual(res.json(), fixture('errorResponses/RESOURCE_NOT_FOUND.json'));
      });

      it(`${F}/requestErrors.feature: Missing x-request-id header`, async () => {
        const token = await platform.token('R8000');
        const res = await platform.app.inject({
          method: 'PATCH',
          url: `${PDS}/Patient/${nhs}`,
          payload: JSON.stringify({ patches: [{ op: 'replace', path: '/gender', value: 'male' }] }),
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json-patch+json',
            'if-match': 'W/"1"',
          },
        });
        assertOutcome(res, 400, 'MISSING_VALUE');
      });
    });

    describe(`${F}/replace.feature`, () => {
      it(`${F}/replace.feature: Replace attribute of an object`, async () => {
        const nhs = (await created()).id;
        const { patient, etag, version } = await readRecord(platform, nhs);
        const newGivenName = ['Anne', 'Mary', 'Jane'].find((g) => g !== patient.name[0].given[0]);
        const res = await patch(
          nhs,
          {
            patches: [
              { op: 'replace', path: '/name/0/id', value: patient.name[0].id },
              { op: 'replace', path: '/name/0/given/0', value: newGivenName },
            ],
          },
          etag,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().name[0].given[0], newGivenName);
        assert.equal(Number(res.json().meta.versionId), version + 1);
      });

      for (const [property, options] of [
        ['gender', ['male', 'female', 'unknown']],
        ['birthDate', ['1985-10-26', '1955-11-05']],
      ] as const) {
        it(`${F}/replace.feature: Replace the ${property} property`, async () => {
          const nhs = (await created()).id;
          const { patient, etag, version } = await readRecord(platform, nhs);
          const targetValue = options.find((o) => o !== patient[property]);
          const res = await patch(
            nhs,
            { patches: [{ op: 'replace', path: `/${property}`, value: targetValue }] },
            etag,
          );
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.json()[property], targetValue);
          assert.equal(Number(res.json().meta.versionId), version + 1);
        });
      }

      it(`${F}/replace.feature: Healthcare worker can add, update and remove patient's emergency contact details`, async () => {
        const nhs = (await created()).id;
        const first = await readRecord(platform, nhs);
        assert.equal(
          first.patient.contact,
          undefined,
          'no contact list yet: the add to /contact/- creates it',
        );
        const mobileNumber = '0788548987';
        const added = await patch(
          nhs,
          karateTemplate('emergencyContact', { mobileNumber }),
          first.etag,
        );
        assert.equal(added.statusCode, 200, added.body);
        const contact = added
          .json()
          .contact.find((c: any) =>
            c.telecom.some((t: any) => t.value === mobileNumber && t.system === 'phone'),
          );
        assert.ok(contact?.id, 'the new contact has an id');
        const index = added.json().contact.findIndex((c: any) => c.id === contact.id);
        const updated = await patch(
          nhs,
          {
            patches: [
              {
                op: 'replace',
                path: `/contact/${index}`,
                value: {
                  id: contact.id,
                  relationship: contact.relationship,
                  telecom: [{ system: 'phone', value: '07700900999' }],
                },
              },
            ],
          },
          String(added.headers.etag),
        );
        assert.equal(updated.statusCode, 200, updated.body);
        assert.equal(
          Number(updated.json().meta.versionId),
          Number(added.json().meta.versionId) + 1,
        );
        const now = await readRecord(platform, nhs);
        const current = now.patient.contact.find((c: any) =>
          c.telecom.some((t: any) => t.value === '07700900999'),
        );
        const at = now.patient.contact.findIndex((c: any) => c.id === current.id);
        const removed = await patch(
          nhs,
          {
            patches: [
              { op: 'test', path: `/contact/${at}`, value: current },
              { op: 'remove', path: `/contact/${at}` },
            ],
          },
          now.etag,
        );
        assert.equal(removed.statusCode, 200, removed.body);
        assert.equal(Number(removed.json().meta.versionId), now.version + 1);
        assert.equal(
          (removed.json().contact ?? []).find((c: any) => c.id === current.id),
          undefined,
        );
      });

      const maximal = () =>
        created('patient-create-maximal', {
          suffix: ['PhD'],
          telecomValue: '07700900111',
          telecomUse: 'mobile',
          address: [randomAddress('1990-01-01'), randomTempAddress()],
        });

      it(`${F}/replace.feature: Healthcare worker can update communication language-interpreter details`, async () => {
        const nhs = (await maximal()).id;
        const { patient, etag, version } = await readRecord(platform, nhs);
        const index = patient.extension.findIndex((x: any) => x.url === COMMUNICATION_URL);
        assert.ok(index >= 0, 'No value found for communication Language');
        const interpreter = patient.extension[index].extension[1].valueBoolean;
        const res = await patch(
          nhs,
          {
            patches: [
              {
                op: 'replace',
                path: `/extension/${index}/extension/1`,
                value: { url: 'interpreterRequired', valueBoolean: !interpreter },
              },
            ],
          },
          etag,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(Number(res.json().meta.versionId), version + 1);
      });

      it(`${F}/replace.feature: Send empty field on the update - interpreterRequired url is empty`, async () => {
        const nhs = (await maximal()).id;
        const { patient, etag } = await readRecord(platform, nhs);
        const index = patient.extension.findIndex((x: any) => x.url === COMMUNICATION_URL);
        const interpreter = patient.extension[index].extension[1].valueBoolean;
        const res = await patch(
          nhs,
          {
            patches: [
              {
                op: 'replace',
                path: `/extension/${index}/extension/1`,
                value: { url: ' ', valueBoolean: !interpreter },
              },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          400,
          'INVALID_UPDATE',
          'Invalid update with error - interpreterRequired cannot be removed',
        );
      });

      it(`${F}/replace.feature: Healthcare worker can't remove usual name and DOB`, async () => {
        const nhs = (await created()).id;
        const { patient, etag } = await readRecord(platform, nhs);
        const usualIndex = patient.name.findIndex((x: any) => x.use === 'usual');
        const usual = { ...patient.name[usualIndex] };
        if (!usual.suffix) usual.suffix = [];
        const res = await patch(
          nhs,
          {
            patches: [
              { op: 'test', path: `/name/${usualIndex}`, value: usual },
              { op: 'remove', path: `/name/${usualIndex}` },
            ],
          },
          etag,
        );
        assertPublishedError(
          res,
          403,
          'FORBIDDEN_UPDATE',
          'Forbidden update with error - not permitted to remove usual name',
        );
        const res2 = await patch(
          nhs,
          {
            patches: [
              { op: 'test', path: '/birthDate', value: patient.birthDate },
              { op: 'remove', path: '/birthDate' },
            ],
          },
          etag,
        );
        assertPublishedError(
          res2,
          403,
          'FORBIDDEN_UPDATE',
          "Forbidden update with error - source not permitted to remove 'birthDate'",
        );
      });
    });

    describe(`${F}/addAndRemove.feature`, () => {
      it(`${F}/addAndRemove.feature: Add and remove patient name`, async () => {
        const nhs = (await created()).id;
        const first = await readRecord(platform, nhs);
        const newName = {
          use: 'old',
          period: { start: '2019-12-31' },
          prefix: ['Dr'],
          given: ['Joe', 'Horation', 'Maximus'],
          family: 'Bloggs',
          suffix: ['PhD'],
        };
        const added = await patch(
          nhs,
          { patches: [{ op: 'add', path: '/name/-', value: newName }] },
          first.etag,
        );
        assert.equal(added.statusCode, 200, added.body);
        const addedName = added.json().name.find((x: any) => x.family === 'Bloggs');
        const { id, ...rest } = addedName;
        assert.equal(typeof id, 'string');
        assert.deepEqual(rest, newName);
        assert.equal(Number(added.json().meta.versionId), first.version + 1);
        const now = await readRecord(platform, nhs);
        const nameID = now.patient.name[1].id;
        const refused = await patch(
          nhs,
          { patches: [{ op: 'remove', path: '/name/1' }] },
          now.etag,
        );
        assertPublishedError(
          refused,
          400,
          'INVALID_UPDATE',
          "Invalid update with error - removal '/name/1' is not immediately preceded by equivalent test - instead it is the first item",
        );
        const removed = await patch(
          nhs,
          {
            patches: [
              { op: 'test', path: '/name/1/id', value: nameID },
              { op: 'remove', path: '/name/1' },
            ],
          },
          now.etag,
        );
        assert.equal(removed.statusCode, 200, removed.body);
        assert.ok(!removed.json().name.some((n: any) => n.id === nameID));
        assert.equal(Number(removed.json().meta.versionId), now.version + 1);
      });

      it(`${F}/addAndRemove.feature: Add and remove patient suffix array`, async () => {
        const create = await created();
        const nhs = create.id;
        const first = await readRecord(platform, nhs);
        const nameId = create.name[0].id;
        const suffixArray = ['PhD', 'MBBS'];
        const added = await patch(
          nhs,
          {
            patches: [
              { op: 'add', path: '/name/0/id', value: nameId },
              { op: 'add', path: '/name/0/suffix', value: suffixArray },
            ],
          },
          first.etag,
        );
        assert.equal(added.statusCode, 200, added.body);
        assert.deepEqual(added.json().name[0].suffix, suffixArray);
        assert.equal(Number(added.json().meta.versionId), first.version + 1);
        const removed = await patch(
          nhs,
          {
            patches: [
              { op: 'test', path: '/name/0/id', value: nameId },
              { op: 'remove', path: '/name/0/suffix' },
            ],
          },
          String(added.headers.etag),
        );
        assert.equal(removed.statusCode, 200, removed.body);
        assert.equal(removed.json().name[0].suffix, undefined);
        assert.equal(Number(removed.json().meta.versionId), first.version + 2);
      });

      it(`${F}/addAndRemove.feature: Add suffix to the existing array of suffixes and then remove the same`, async () => {
        const nhs = (
          await created('patient-create-maximal', {
            suffix: ['PhD'],
            telecomValue: '07700900112',
            telecomUse: 'mobile',
            address: [randomAddress('1990-01-01')],
          })
        ).id;
        const first = await readRecord(platform, nhs);
        const index = first.patient.name.findIndex((x: any) => x.suffix != null);
        const nameId = first.patient.name[index].id;
        const added = await patch(
          nhs,
          {
            patches: [
              { op: 'add', path: `/name/${index}/id`, value: nameId },
              { op: 'add', path: `/name/${index}/suffix/0`, value: 'Esquire' },
            ],
          },
          first.etag,
        );
        assert.equal(added.statusCode, 200, added.body);
        assert.ok(added.json().name[0].suffix.includes('Esquire'));
        assert.equal(Number(added.json().meta.versionId), first.version + 1);
        const removed = await patch(
          nhs,
          {
            patches: [
              { op: 'test', path: `/name/${index}/id`, value: nameId },
              { op: 'remove', path: `/name/${index}/suffix/0` },
            ],
          },
          String(added.headers.etag),
        );
        assert.equal(removed.statusCode, 200, removed.body);
        assert.equal(Number(removed.json().meta.versionId), first.version + 2);
      });

      it(`${F}/addAndRemove.feature: Healthcare worker can add and remove place of birth details(city and district)`, async () => {
        const nhs = (await created()).id;
        const first = await readRecord(platform, nhs);
        const added = await patch(nhs, karateTemplate('placeOfBirth', {}), first.etag);
        assert.equal(added.statusCode, 200, added.body);
        const pobIndex = added.json().extension.findIndex((x: any) => x.url === BIRTH_PLACE_URL);
        assert.ok(pobIndex >= 0, 'No value found for place of Birth');
        const pob = added.json().extension[pobIndex];
        const removed = await patch(
          nhs,
          {
            patches: [
              { op: 'test', path: `/extension/${pobIndex}`, value: pob },
              { op: 'remove', path: `/extension/${pobIndex}` },
            ],
          },
          String(added.headers.etag),
        );
        assert.equal(removed.statusCode, 200, removed.body);
        assert.equal(
          Number(removed.json().meta.versionId),
          Number(added.json().meta.versionId) + 1,
        );
      });

      it(`${F}/addAndRemove.feature: Add an address to a PDS record that already contains a bad address- a temporary address without an end date`, async () => {
        const nhs = N.badStoredAddress;
        const { patient, etag, version } = await readRecord(platform, nhs);
        const homeIndex = patient.address.findIndex((x: any) => x.use === 'home');
        const address = randomAddress('2020-01-10');
        const res = await patch(
          nhs,
          karateTemplate('addressUpdate', {
            path: `/address/${homeIndex}`,
            testOpValue: patient.address[homeIndex],
            address,
          }),
          etag,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(Number(res.json().meta.versionId), version + 1);
        assert.ok(res.json().address.some((a: any) => a.postalCode === address.postalCode));
      });

      it(`${F}/addAndRemove.feature: Add deceasedTime in yyyy-mm-ddTHH:MM:SS+00:00 format and then replace it to yyyy-mm-dd`, async () => {
        const nhs = (await created()).id;
        const first = await readRecord(platform, nhs);
        const deceasedDate = `${lastMonth()}T00:00:00+00:00`;
        const added = await patch(
          nhs,
          karateTemplate('deceasedDateTime', { deceasedDate }),
          first.etag,
        );
        assert.equal(added.statusCode, 200, added.body);
        assert.equal(added.json().deceasedDateTime, deceasedDate);
        const noOffset = `${lastMonth()}T00:00:00`;
        const second = await patch(
          nhs,
          { patches: [{ op: 'replace', path: '/deceasedDateTime', value: noOffset }] },
          String(added.headers.etag),
        );
        assert.equal(second.statusCode, 200, second.body);
        assert.ok(second.json().deceasedDateTime.includes(noOffset));
        const third = await patch(
          nhs,
          { patches: [{ op: 'replace', path: '/deceasedDateTime', value: lastMonth() }] },
          String(second.headers.etag),
        );
        assert.equal(third.statusCode, 200, third.body);
      });
    });
  });
}
