/**
 * Conformance: POST /Patient (birth registration) by a healthcare worker, scenario by scenario from NHS England's
 * karate-tests/src/test/java/patients/healthcareWorker/createPatient/postPatient.feature
 * (NHSDigital/personal-demographics-service-api, f57f5839b956fedb708555227ef2f9aefcc0cc37), with its request
 * templates (test/fixtures/pds/karate/post-patient-request.json) and published error bodies.
 * Scenarios set aside are listed in test/conformance/pds/SET-ASIDE.md.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isValidNhsNumber } from '../../../src/fhir/nhs-number.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { commitPatients, PDS } from '../../helpers/pds-fixtures.js';
import { assertPublishedRefusal, fill, published } from './karate.js';
import {
  assertPublishedError,
  createPatient,
  createVars,
  karateTemplate,
  person,
} from './published.js';

const F = 'healthcareWorker/createPatient/postPatient.feature';

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance, ${F} (${kind})`, () => {
    let platform: TestPlatform;
    const post = (body: unknown) =>
      platform.request({ method: 'POST', url: `${PDS}/Patient`, body });

    before(async () => {
      platform = await startTestPlatform(kind);
      // the INT records the duplicate scenarios find: one McMatch-Single, two McMatch-Multiple
      const single = person('5900054586', 'McMatch-Single', {
        gender: 'male',
        birthDate: '1954-10-26',
      });
      single.name![0].given = ['Mickey'];
      single.address = [
        {
          id: 'A1',
          use: 'home',
          period: { start: '2024-05-09' },
          line: ['317 Stuart Streets', 'Glasgow'],
          postalCode: 'BAP 4WG',
        },
      ];
      const multiple = ['5900046192', '5900057208'].map((nhs) => {
        const p = person(nhs, 'McMatch-Multiple', { gender: 'male', birthDate: '1997-08-20' });
        p.name![0].given = ['Leandro', 'Gerry'];
        p.address = [
          {
            id: 'A1',
            use: 'home',
            period: { start: '2024-03-19' },
            line: ['1 Jasmine Court', 'DONCASTER'],
            postalCode: 'DN19 7UD',
          },
        ];
        return p;
      });
      await commitPatients(platform.repo, [single, ...multiple]);
    });
    after(async () => platform?.close());

    it(`${F}: Post patient - new patient`, async () => {
      const vars = createVars();
      const res = await createPatient(platform, 'post-patient-request', vars);
      assert.equal(res.statusCode, 201, res.body.slice(0, 600));
      const created = res.json();
      assert.ok(isValidNhsNumber(created.id));
      assert.equal(created.identifier[0].value, created.id);
      const address = vars.address as { line: string[]; postalCode: string };
      // blank address lines are not shown (the feature: "in the response, blank lines are removed")
      assert.equal(created.address[0].line[0], address.line[1]);
      assert.equal(created.address[0].line[1].toUpperCase(), address.line[3].toUpperCase());
      assert.equal(created.address[0].postalCode, address.postalCode);
    });

    it(`${F}: Fail to create a record for a new patient, single demographics match found`, async () => {
      const before = await platform.repo.count('Patient');
      const res = await createPatient(platform, 'post-patient-request', {
        familyName: 'McMatch-Single',
        givenName: ['Mickey'],
        prefix: ['Mr'],
        gender: 'male',
        birthDate: '1954-10-26',
        address: {
          period: { start: '2024-05-09' },
          use: 'home',
          postalCode: 'BAP 4WG',
          line: ['', '317 Stuart Streets', '', 'Glasgow'],
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
      // `match response ==
      // read('classpath:mocks/stubs/postPatientResponses/SINGLE_MATCH_FOUND.json')`, naming the
      // record found
      assert.deepEqual(
        res.json(),
        fill(published('postPatientResponses/SINGLE_MATCH_FOUND.json'), {
          nhsNumber: '5900054586',
        }),
      );
      assert.equal(res.headers.location, undefined);
      assert.equal(await platform.repo.count('Patient'), before, 'nothing was created');
    });

    it(`${F}: Fail to create a record for a new patient, multiple demographics matches found`, async () => {
      const body = karateTemplate('post-patient-request', {
        familyName: 'McMatch-Multiple',
        givenName: ['Leandro', 'Gerry'],
        gender: 'male',
        birthDate: '1997-08-20',
        address: {
          period: { start: '2024-03-19' },
          use: 'home',
          postalCode: 'DN19 7UD',
          line: ['', '1 Jasmine Court', '', 'DONCASTER'],
        },
      });
      delete body.name[0].prefix;
      const before = await platform.repo.count('Patient');
      const res = await post(body);
      assert.equal(res.statusCode, 200, res.body);
      // `match response == read('classpath:mocks/stubs/postPatientResponses/MULTIPLE_MATCHES_FOUND.json')`
      assert.deepEqual(res.json(), published('postPatientResponses/MULTIPLE_MATCHES_FOUND.json'));
      assert.equal(await platform.repo.count('Patient'), before, 'nothing was created');
    });

    const missing: Array<[unknown, string]> = [
      [{ bananas: 'in pyjamas' }, 'name'],
      [{ name: { family: 'Smith' } }, 'address'],
      [{ name: { family: 'Smith' }, address: [{ line: ['1'] }] }, 'gender'],
      [{ name: { family: 'Smith' }, address: [{ line: ['1'] }], gender: 'male' }, 'birthDate'],
      [
        {
          name: [{ family: 'ToRemove', given: ['No-Extensions'], period: { start: '2024-01-12' } }],
          address: [{ line: ['1'] }],
          gender: 'male',
          birthDate: '2023-12-12',
        },
        'address/0/period',
      ],
    ];
    for (const [payload, missingValue] of missing) {
      it(`${F}: Negative path: missing value in request body - missing ${missingValue}`, async () => {
        assertPublishedError(
          await post(payload),
          400,
          'MISSING_VALUE',
          `Missing value - '${missingValue}'`,
        );
      });
    }

    const invalid: Array<[string, unknown, string]> = [
      ['givenName', 'not an array', "Invalid value - 'not an array' in field 'name/0/given'"],
      [
        'address',
        ['another', 'array'],
        "Invalid value - '['another', 'array']' in field 'address/0'",
      ],
      ['gender', 'other', "Invalid value - 'other' in field 'gender'"],
      ['birthDate', 'not-a-date', "Invalid value - 'not-a-date' in field 'birthDate'"],
      ['givenName', 'O`Brien', "Invalid value - 'O`Brien' in field 'name/0/given'"],
    ];
    for (const [property, invalidValue, diagnostics] of invalid) {
      it(`${F}: Negative path: invalid value in request body - ${property} (${JSON.stringify(invalidValue)})`, async () => {
        // Karate's `json jsonValue = invalidValue`: 'O`Brien' is read as a one-item list of given names
        const value =
          property === 'givenName' && invalidValue === 'O`Brien' ? ['O`Brien'] : invalidValue;
        const res = await createPatient(
          platform,
          'post-patient-request',
          createVars({ [property]: value }),
        );
        assertPublishedError(res, 400, 'INVALID_VALUE', diagnostics);
      });
    }

    it(`${F}: Negative path: invalid "line" array defined as part of address`, async () => {
      const vars = createVars();
      const address = vars.address as { line: string[] };
      address.line = [address.line[1]];
      const res = await createPatient(platform, 'post-patient-request', vars);
      assertPublishedError(
        res,
        400,
        'INVALID_CREATE',
        "Invalid patient create data provided - 'address lines 1 and 4 or 2 and 4 must be completed as a minimum'",
      );
    });

    it(`${F}: Negative path: Fail to create a record for a new patient when Address key url's or extensions are missing from request`, async () => {
      const address = {
        use: 'home',
        period: { start: '2020-01-01' },
        id: '456',
        line: ['1 High Street', '', 'Doýnna TOPSONÔ', 'Leeds', 'West Yorkshire'],
        postalCode: 'LS1 6AE',
        extension: [
          { url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey' },
          {
            extension: [
              {
                url: 'type',
                valueCoding: {
                  code: 'UPRN',
                  system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType',
                },
              },
              { url: 'value', valueString: '123456789012' },
            ],
            url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey',
          },
        ],
      };
      const res = await createPatient(platform, 'post-patient-request', createVars({ address }));
      assertPublishedError(
        res,
        400,
        'MISSING_VALUE',
        "Missing value - 'address/0/extension/0/extension'",
      );
    });

    it(`${F}: Negative path: Fail to create a record for a new patient with invalid telecom details`, async () => {
      const body = karateTemplate('post-patient-request', createVars());
      body.telecom = [
        {
          use: 'home',
          system: 'email',
          value: 'testemail',
          period: { start: '2020-01-02', end: '2021-01-02' },
        },
      ];
      assertPublishedError(
        await post(body),
        400,
        'INVALID_CREATE',
        "Invalid patient create data provided - 'email format is invalid'",
      );
    });

    it(`${F}: Negative path: too many values in request body - givenName`, async () => {
      const res = await createPatient(
        platform,
        'post-patient-request',
        createVars({ givenName: ['One', 'Two', 'Three', 'Four', 'Five', 'six'] }),
      );
      assertPublishedError(
        res,
        400,
        'TOO_MANY_VALUES_SUBMITTED',
        "Too many values submitted - ['One', 'Two', 'Three', 'Four', 'Five', 'six'] in field 'name/0/given'",
      );
    });

    it(`${F}: Fail to create a record for a new patient when usual name has end date`, async () => {
      const body = karateTemplate('post-patient-request', createVars());
      body.name[0] = {
        family: 'Rosey',
        given: ['One'],
        prefix: ['Mr'],
        suffix: ['MBE'],
        use: 'usual',
        period: { start: '2020-01-01', end: '2024-01-01' },
      };
      assertPublishedError(
        await post(body),
        400,
        'INVALID_CREATE',
        "Invalid patient create data provided - 'An end date can not be provided on usual name'",
      );
    });

    it(`${F}: Post patient with null prefix and suffix`, async () => {
      const vars = createVars();
      const body = karateTemplate('post-patient-request', vars);
      body.name[0] = {
        family: vars.familyName,
        given: vars.givenName,
        prefix: [''],
        suffix: [''],
        use: 'usual',
        period: { start: '2020-01-01' },
      };
      const res = await post(body);
      assert.equal(res.statusCode, 201, res.body);
      const address = vars.address as { line: string[] };
      assert.equal(res.json().address[0].line[0], address.line[1]);
      assert.equal(res.json().address[0].line[1].toUpperCase(), address.line[3].toUpperCase());
    });

    it('patientAccess/postPatient.feature: Patient cannot create a patient', async () => {
      const { mintPatientToken } = await import('../../../src/security/embedded-idp.js');
      const token = await mintPatientToken(platform.key, {
        nhsNumber: '5900054586',
        audience: platform.config.audience,
      });
      const before = await platform.repo.count('Patient');
      const res = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient`,
        token,
        body: karateTemplate('post-patient-request', createVars()),
      });
      assertPublishedRefusal(res, 403, 'INVALID_METHOD', {
        display: 'Cannot create resource with patient-access access token',
        diagnostics:
          'Your app has insufficient permissions to use this method. Please contact support.',
      });
      assert.equal(await platform.repo.count('Patient'), before, 'nothing was created');
    });
  });
}
