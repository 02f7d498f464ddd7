/**
 * PDS birth notification from maternity systems: POST Patient/$process-birth-details, scenario by
 * scenario from NHS England's published Karate features (NHSDigital/personal-demographics-service-api,
 * karate-tests/src/test/java/patients/{healthcareWorker/createNewPdsRecordAtBirth,patientAccess,
 * appRestricted}/createNewPdsRecordAtBirth.feature).
 * Mothers (the features create them through POST /Patient) are loaded through the repository; each
 * `it` names the feature file and scenario it comes from. Scenarios only the hosted service or the
 * sandbox can show: SET-ASIDE.md.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import type { Patient } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { isValidNhsNumber } from '../../../src/fhir/nhs-number.js';
import { mintApplicationToken, mintPatientToken } from '../../../src/security/embedded-idp.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import {
  commitPatients,
  current,
  fixture,
  living,
  PDS,
  withNhsNumber,
} from '../../helpers/pds-fixtures.js';
import { assertPublishedError, assertPublishedRefusal, fill, published } from './karate.js';

const HCW = 'healthcareWorker/createNewPdsRecordAtBirth/createNewPdsRecordAtBirth.feature';
const PATIENT_ACCESS = 'patientAccess/createNewPdsRecordAtBirth.feature';
const APP = 'appRestricted/createNewPdsRecordAtBirth.feature';
const ETHNIC = 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory';
const DEATH_NOTIFICATION =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus';
const URL = `${PDS}/Patient/$process-birth-details`;
const METHOD_DENIED =
  'Your app has insufficient permissions to use this method. Please contact support.';
/** NHS Numbers for the records these tests load (valid, outside the fixtures' and the seed's ranges). */
const LOADED = [
  '9000041007',
  '9000041015',
  '9000041023',
  '9000041031',
  '9000041058',
  '9000041066',
  '9000041074',
  '9000041082',
];

/** A name of letters only, different every call (as the features' faker.givenName()). */
function givenName(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return 'K' + Array.from({ length: 8 }, () => letters[randomInt(0, 26)]).join('');
}

/** utils.randomNewbornDateLast5Days */
function newbornDate(): string {
  // one to five days ago: a birth at 08:15 today would be in the future before 08:15 UTC, which PDS
  // refuses (a still birth's deceasedDateTime is that time)
  return new Date(Date.now() - randomInt(1, 6) * 86_400_000).toISOString().slice(0, 10);
}

/** utils.randomAddress(birthDate): four lines, the first and third blank, as the features' addresses are. */
function randomAddress(start: string) {
  return {
    period: { start },
    use: 'home',
    postalCode: 'LS1 6AE',
    line: ['', `${randomInt(1, 300)} Karate Street`, '', 'Leeds'],
  };
}

function deathNotification(code: string) {
  return {
    url: DEATH_NOTIFICATION,
    extension: [
      {
        url: 'deathNotificationStatus',
        valueCodeableConcept: {
          coding: [
            { system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus', code },
          ],
        },
      },
    ],
  };
}

const stores = await storesUnderTest();
for (const kind of stores) {
  describe(`PDS $process-birth-details, conformance with the published Karate features (${kind})`, () => {
    let platform: TestPlatform;
    let worker: string;
    const mothers: string[] = [];

    before(async () => {
      platform = await startTestPlatform(kind);
      worker = await platform.token('R8000');
      // the Background's createPatient.feature: mothers aged 16-40, family name ToRemove
      const records = LOADED.slice(0, 6).map((nhs, i) => {
        const p = living(current(withNhsNumber(fixture<Patient>('Patient.json'), nhs)));
        p.name![0].family = 'ToRemove';
        p.name![0].given = [givenName()];
        p.gender = 'female';
        p.birthDate = `${1990 + i}-0${1 + i}-1${i}`;
        return p;
      });
      await commitPatients(platform.repo, records);
      mothers.push(...records.map((r) => r.id!));
    });
    after(() => platform.close());

    /** The Background and a scenario's variables for create-pds-record-at-birth.json. */
    function scenario(mother = mothers[0]) {
      const babyBirthDate = newbornDate();
      return {
        familyName: 'ToRemove',
        givenName: [givenName()],
        prefix: ['Mrs'],
        birthDate: '1990-01-10',
        motherNhsNumber: mother,
        address: randomAddress('2020-01-01'),
        babyGender: ['male', 'female', 'unknown'][randomInt(0, 3)],
        babyBirthDate,
        babyBirthTime: `${babyBirthDate}T08:15:00+00:00`,
        babyBirthOrder: 1,
        babyBirthWeight: randomInt(1500, 4500),
        babyGivenName: [givenName(), givenName()],
      } as Record<string, any>;
    }

    const payload = (vars: Record<string, unknown>, file = 'create-pds-record-at-birth.json') =>
      fill(published(`birth-details/${file}`), vars) as any;

    /** common/createNewPdsRecordAtBirth.feature@createRecordAtBirth */
    function createRecordAtBirth(
      body: unknown,
      opts: { ignoreDuplicates?: boolean; token?: string | null; requestId?: string } = {},
    ): Promise<LightMyRequestResponse> {
      const url =
        opts.ignoreDuplicates === undefined
          ? URL
          : `${URL}?ignore_potential_matches=${opts.ignoreDuplicates}`;
      return platform.request({
        method: 'POST',
        url,
        body,
        token: opts.token === undefined ? worker : opts.token,
        contentType: 'application/json',
        headers: opts.requestId ? { 'x-request-id': opts.requestId } : {},
      });
    }

    /**
     * create_record_at_birth_response_template.json, matched as Karate's `match response ==
     * expectedResponse` would.
     */
    function assertBirthRecord(res: LightMyRequestResponse, v: Record<string, any>): Patient {
      assert.equal(res.statusCode, 201, res.body);
      assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
      assert.ok(res.headers['notification-id'], 'notification-id header');
      const body = res.json();
      const nhsNumber = body.id;
      assert.ok(isValidNhsNumber(nhsNumber), `a newly allocated NHS Number: ${nhsNumber}`);
      const template = fill(
        published('birth-details/create_record_at_birth_response_template.json'),
        { ...v, nhsNumber },
      );
      const optional = new Set(['address', 'birthDate', 'gender', 'extension']);
      for (const key of Object.keys(body))
        assert.ok(key in template || key === 'deceasedDateTime', `unexpected element ${key}`);
      for (const key of Object.keys(template))
        if (!optional.has(key)) assert.ok(key in body, `missing element ${key}`);
      assert.deepEqual(body.identifier, template.identifier);
      assert.deepEqual(body.meta, template.meta);
      assert.equal(body.resourceType, 'Patient');
      assert.equal(body.multipleBirthInteger, v.babyBirthOrder);
      assert.equal(body.gender, v.babyGender);
      assert.equal(body.birthDate, v.babyBirthDate);
      const [name] = body.name;
      assert.equal(typeof name.id, 'string');
      assert.equal(name.family, v.familyName);
      assert.deepEqual(name.given, v.babyGivenName);
      assert.equal(name.use, 'usual');
      assert.deepEqual(name.period, { start: v.babyBirthDate });
      const birthPlace = body.extension.filter(
        (e: any) => e.url === 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
      );
      assert.equal(birthPlace.length, 1);
      assert.deepEqual(
        Object.keys(birthPlace[0].valueAddress)
          .filter((k) => ['city', 'country', 'district'].includes(k))
          .sort(),
        ['city', 'country', 'district'],
      );
      return body;
    }

    // ---- healthcareWorker/createNewPdsRecordAtBirth/createNewPdsRecordAtBirth.feature
    it(`${HCW}: create  PDS record at birth - successful`, async () => {
      const v = scenario();
      const res = await createRecordAtBirth(payload(v));
      const body = assertBirthRecord(res, v);
      assert.equal(body.address![0].line![0], v.address.line[1]);
      // a real record: readable, with the mother as a related person, and a birth event on its way
      const read = await platform.request({ url: `${PDS}/Patient/${body.id}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().birthDate, v.babyBirthDate);
      const related = await platform.request({ url: `${PDS}/Patient/${body.id}/RelatedPerson` });
      assert.equal(related.json().entry[0].resource.patient.identifier.value, v.motherNhsNumber);
      const audit = await platform.repo.audit.readAudit(0, 100_000);
      assert.ok(
        audit.some(
          (e) =>
            e.record.action === 'pds.birth-details' &&
            e.record.patient === body.id &&
            e.record.outcome === 'success',
        ),
      );
    });

    it(`${HCW}: Fail to create a record for a new patient, single demographics match found`, async () => {
      const v = scenario();
      const first = await createRecordAtBirth(payload(v));
      const nhsNumber = assertBirthRecord(first, v).id;
      const single = fill(published('birth-details/SINGLE_MATCH_FOUND.json'), { nhsNumber });
      const second = await createRecordAtBirth(payload(v));
      assert.equal(second.statusCode, 200, second.body);
      assert.deepEqual(second.json(), single);
      // same demographics and the same mother: the same baby, whatever ignore_potential_matches says
      const third = await createRecordAtBirth(payload(v), { ignoreDuplicates: true });
      assert.equal(third.statusCode, 200, third.body);
      assert.deepEqual(third.json(), single);
    });

    it(`${HCW}: Fail to create a record for a new patient, multiple demographics match found`, async () => {
      const v = scenario(mothers[1]);
      assertBirthRecord(await createRecordAtBirth(payload(v)), v);
      // another mother, ignore_potential_matches=true: created
      const second = { ...v, motherNhsNumber: mothers[2], birthDate: '1992-03-12' };
      assertBirthRecord(
        await createRecordAtBirth(payload(second), { ignoreDuplicates: true }),
        second,
      );
      // a third mother, without it: both earlier babies match
      const third = { ...v, motherNhsNumber: mothers[3], birthDate: '1993-04-13' };
      const res = await createRecordAtBirth(payload(third));
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), published('birth-details/MULTIPLE_MATCHES_FOUND.json'));
    });

    it(`${HCW}: Fail to create a record for a new patient, multiple demographics matches found (@sandbox-only, with the two existing records loaded)`, async () => {
      const v: Record<string, any> = {
        ...scenario(),
        familyName: 'McMatch-Multiple',
        babyGivenName: ['Leandro', 'Gerry'],
        babyGender: 'male',
        address: {
          period: { start: '2024-03-19' },
          use: 'home',
          postalCode: 'DN19 7UD',
          line: ['', '1 Jasmine Court', '', 'Doncaster'],
        },
      };
      const existing = LOADED.slice(6, 8).map((nhs) => {
        const p = living(current(withNhsNumber(fixture<Patient>('Patient.json'), nhs)));
        p.name = [
          {
            use: 'usual',
            family: 'McMatch-Multiple',
            given: ['Leandro'],
            period: { start: v.babyBirthDate },
          },
        ];
        p.gender = 'male';
        p.birthDate = v.babyBirthDate;
        p.address = [{ ...v.address, use: 'home', line: ['1 Jasmine Court', 'Doncaster'] }];
        return p;
      });
      await commitPatients(platform.repo, existing);
      const res = await createRecordAtBirth(payload(v));
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), published('birth-details/MULTIPLE_MATCHES_FOUND.json'));
    });

    const missing: [string, string][] = [
      ['create-pds-record-at-birth-missing-name-use.json', 'entry/0/resource/name/0/use'],
      ['create-pds-record-at-birth-missing-birthdate.json', 'entry/0/resource/birthDate'],
      ['create-pds-record-at-birth-missing-gender.json', 'entry/0/resource/gender'],
      ['create-pds-record-at-birth-missing-address.json', 'entry/0/resource/address'],
      [
        'create-pds-record-at-birth-missing-birthweight-value.json',
        'entry/1/resource/valueQuantity/value',
      ],
      [
        'create-pds-record-at-birth-missing-mother-nhs-number.json',
        'entry/7/resource/identifier/0/value',
      ],
    ];
    for (const [file, missingValue] of missing) {
      it(`${HCW}: Negative path: missing value in request body - missing ${missingValue}`, async () => {
        const res = await createRecordAtBirth(payload(scenario(), `MissingValuesPayload/${file}`));
        assertPublishedError(res, 400, 'MISSING_VALUE', {
          diagnostics: `Missing value - '${missingValue}'`,
        });
      });
    }

    const invalid: [string, unknown, string][] = [
      [
        'givenName',
        'not an array',
        "Invalid value - 'not an array' in field 'entry/0/resource/name/0/given'",
      ],
      ['address', 'another', "Invalid value - 'another' in field 'entry/0/resource/address/0'"],
      ['gender', 'other', "Invalid value - 'other' in field 'gender'"],
      ['birthDate', 'not-a-date', "Invalid value - 'not-a-date' in field 'birthDate'"],
      [
        'givenName',
        'O`Brien',
        "Invalid value - 'O`Brien' in field 'entry/0/resource/name/0/given'",
      ],
      ['birthOrder', 100, "Invalid value - '100' in field 'entry/0/resource/multipleBirthInteger'"],
      [
        'birthWeight',
        35552,
        "Invalid value - '35552' in field 'entry/1/resource/valueQuantity/value'",
      ],
    ];
    const variable: Record<string, string> = {
      givenName: 'babyGivenName',
      address: 'address',
      gender: 'babyGender',
      birthDate: 'babyBirthDate',
      birthOrder: 'babyBirthOrder',
      birthWeight: 'babyBirthWeight',
    };
    for (const [property, value, diagnostics] of invalid) {
      it(`${HCW}: Negative path: invalid value in request body - ${property} (${String(value)})`, async () => {
        const v = { ...scenario(), [variable[property]]: value };
        const res = await createRecordAtBirth(payload(v));
        assertPublishedError(res, 400, 'INVALID_VALUE', { diagnostics });
      });
    }

    it(`${HCW}: Negative path: invalid "line" array defined as part of address`, async () => {
      const v = scenario();
      v.address = { ...randomAddress(v.babyBirthDate), line: ['1 Karate Street'] };
      const res = await createRecordAtBirth(payload(v));
      assertPublishedError(res, 400, 'INVALID_CREATE', {
        diagnostics:
          "Invalid patient create data provided - 'address lines 1 and 4 or 2 and 4 must be completed as a minimum'",
      });
    });

    it(`${HCW}: Negative path: Mandatory resource or observation missing from request body`, async () => {
      const res = await createRecordAtBirth(
        payload(
          scenario(),
          'MissingValuesPayload/create-pds-record-at-birth-missing-delivery-location-resource.json',
        ),
      );
      assertPublishedError(res, 400, 'TOO_FEW_VALUES_SUBMITTED', {
        diagnostics: "Too few values submitted - <json too long to display> in field 'entry'",
      });
    });

    it(`${HCW}: Negative path: Mandatory extension missing from patient resource`, async () => {
      const res = await createRecordAtBirth(
        payload(
          scenario(),
          'MissingValuesPayload/create-pds-record-at-birth-missing-ethnicity-extension.json',
        ),
      );
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json().issue[0].diagnostics, /in field 'entry\/0\/resource\/extension'/);
    });

    it(`${HCW}: Fail to create a record for a new patient when usual name has end date`, async () => {
      const v = scenario();
      const body = payload(v);
      body.entry[0].resource.name[0] = {
        family: 'Rosey',
        given: ['One'],
        prefix: ['Mr'],
        suffix: ['MBE'],
        use: 'usual',
        period: { start: '2020-01-01', end: v.babyBirthDate },
      };
      const res = await createRecordAtBirth(body);
      assertPublishedError(res, 400, 'INVALID_CREATE', {
        diagnostics:
          "Invalid patient create data provided - 'An end date can not be provided on usual name'",
      });
    });

    it(`${HCW}: create a still birth PDS record at birth - formal death should have consistent still born indicatore equals 2,3 or 4`, async () => {
      const v = scenario();
      const body = payload(v);
      body.entry[0].resource.deceasedDateTime = v.babyBirthTime;
      body.entry[0].resource.extension = [
        ...body.entry[0].resource.extension,
        deathNotification('2'),
      ];
      const res = await createRecordAtBirth(body);
      assertPublishedError(res, 400, 'INSERT_BIRTH_DEATH_STATUS_INCONSISTENT');
    });

    it(`${HCW}: create a still birth PDS record at birth - Successful`, async () => {
      const v = scenario();
      const body = payload(v);
      body.entry[0].resource.deceasedDateTime = v.babyBirthTime;
      body.entry[0].resource.extension = [
        ...body.entry[0].resource.extension,
        deathNotification('2'),
      ];
      body.entry[2].resource.valueCodeableConcept.coding[0].code = '2';
      body.entry[2].resource.valueCodeableConcept.coding[0].display = 'Antepartum';
      const res = await createRecordAtBirth(body);
      assert.equal(res.statusCode, 201, res.body);
      const created = res.json();
      assert.ok(isValidNhsNumber(created.id));
      assert.equal(created.gender, v.babyGender);
      assert.equal(created.birthDate, v.babyBirthDate);
      const notice = created.extension.find((e: any) => e.url === DEATH_NOTIFICATION);
      assert.equal(notice.extension[0].valueCodeableConcept.coding[0].code, '2');
    });

    it(`${HCW}: create PDS record at birth and check the response includes the ethnicity extension when the feature is enabled for the endpoint`, async () => {
      const v = scenario();
      const res = await createRecordAtBirth(payload(v));
      const created = assertBirthRecord(res, v);
      const read = await platform.request({
        url: `${PDS}/Patient/${created.id}`,
        headers: { 'NHSD-End-User-Organisation-ODS': 'A20047' },
      });
      assert.equal(read.statusCode, 200, read.body);
      const ethnicity = (read.json().extension ?? []).find((e: any) => e.url === ETHNIC);
      assert.ok(ethnicity, 'the ethnicity extension is on the record');
      assert.equal(ethnicity.valueCodeableConcept.coding[0].code, 'A');
    });

    // ---- patientAccess, appRestricted: common/createNewPdsRecordAtBirth.feature@invalidMethodCode
    it(`${PATIENT_ACCESS}: Invalid Method error should be raised for create a new record at birth`, async () => {
      const token = await mintPatientToken(platform.key, {
        nhsNumber: '9912003071',
        audience: platform.config.audience,
      });
      const res = await createRecordAtBirth({ any: 'request', should: 'fail' }, { token });
      assertPublishedRefusal(res, 403, 'INVALID_METHOD', {
        display: 'Cannot create resource with patient-access access token',
        diagnostics: METHOD_DENIED,
      });
    });

    it(`${APP}: Invalid Method error should be raised for creat a new record at birth - application-restricted users`, async () => {
      const token = await mintApplicationToken(platform.key, {
        clientId: 'karate-app',
        name: 'App-restricted test app',
        org: 'A81001',
        scopes: ['pds.read', 'pds.search', 'pds.create'],
        audience: platform.config.audience,
      });
      const res = await createRecordAtBirth({ any: 'request', should: 'fail' }, { token });
      assertPublishedRefusal(res, 403, 'INVALID_METHOD', {
        display: 'Cannot create resource with application-restricted access token',
        diagnostics: METHOD_DENIED,
      });
    });

    // ---- OpenSpine's own
    it('OpenSpine: a birth notification retried under its X-Request-ID gets the first answer and creates one record', async () => {
      const v = scenario(mothers[4]);
      const rid = randomUUID();
      const first = await createRecordAtBirth(payload(v), { requestId: rid });
      const created = assertBirthRecord(first, v);
      const retry = await createRecordAtBirth(payload(v), { requestId: rid });
      assert.equal(retry.statusCode, 201, retry.body);
      assert.equal(retry.json().id, created.id);
      assert.equal(retry.headers['notification-id'], first.headers['notification-id']);
      const other = await createRecordAtBirth(payload({ ...v, babyGivenName: [givenName()] }), {
        requestId: rid,
      });
      assert.equal(other.statusCode, 400, other.body);
    });

    it('OpenSpine: staff roles without the birth-notification activity are refused (deny by default)', async () => {
      const res = await createRecordAtBirth(payload(scenario()), {
        token: await platform.token('R8004'),
      });
      assert.equal(res.statusCode, 403, res.body);
    });
  });
}
