/**
 * Conformance: a patient (NHS login, P9) updating their own record, scenario by scenario from NHS England's
 * karate-tests/src/test/java/patients/patientAccess/updatePatient.feature
 * (NHSDigital/personal-demographics-service-api, f57f5839b956fedb708555227ef2f9aefcc0cc37), against the
 * limits of specification/components/paths/patient-patch.yaml ("Patient access"). The feature's patients live
 * on NHS England's INT environment; each scenario here loads a record of the same shape under the same number.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mintPatientToken } from '../../../src/security/embedded-idp.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { commitPatients } from '../../helpers/pds-fixtures.js';
import { assertPublishedError as assertExactPublished } from './karate.js';
import {
  assertPublishedError,
  daysAhead,
  patchRecord,
  person,
  readRecord,
  todayDate,
} from './published.js';

const FEATURE = 'patientAccess/updatePatient.feature';
const P9 = '9912003071';
const OTHER = '9733162930'; // the feature's second patient (9912003072) fails the NHS Number check digit; any other record does here
const COMMUNICATION = '9733162930';
const CONTACT_AND_BIRTHPLACE = '5900069176';
const PHARMACY = '9446041481';
const TEMP_ADDRESS = '9733162868';

const COMMUNICATION_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication';
const BIRTH_PLACE_URL = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const NOMINATED_PHARMACY_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy';
/** karate-tests/src/test/java/patients/requestDetails/add/nominatedPharmacy.json */
const addNominatedPharmacy = {
  patches: [
    {
      op: 'add',
      path: '/extension/-',
      value: {
        url: NOMINATED_PHARMACY_URL,
        valueReference: {
          identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'FWC87' },
        },
      },
    },
  ],
};
const communication = {
  url: COMMUNICATION_URL,
  extension: [
    {
      url: 'language',
      valueCodeableConcept: {
        coding: [
          {
            system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage',
            version: '1.0.0',
            code: 'fr',
            display: 'French',
          },
        ],
      },
    },
    { url: 'interpreterRequired', valueBoolean: true },
  ],
};

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance, ${FEATURE} (${kind})`, () => {
    let platform: TestPlatform;
    const tokenFor = (nhsNumber: string) =>
      mintPatientToken(platform.key, { nhsNumber, audience: platform.config.audience });
    /** Karate utils.buildRemovePatchBody: a test of the whole item, then its removal. */
    const removeBody = (path: string, value: unknown) => ({
      patches: [
        { op: 'test', path, value },
        { op: 'remove', path },
      ],
    });

    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [
        person(P9, 'Patientaccess'),
        person(COMMUNICATION, 'Communication', { extension: [communication] }),
        person(CONTACT_AND_BIRTHPLACE, 'Contactbirthplace', {
          contact: [
            {
              id: 'C1',
              period: { start: '2020-01-01' },
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
          ],
          extension: [
            {
              url: BIRTH_PLACE_URL,
              valueAddress: { city: 'Manchester', district: 'Greater Manchester', country: 'GBR' },
            },
          ],
        }),
        person(PHARMACY, 'Pharmacy'),
        person(TEMP_ADDRESS, 'Tempaddress'),
      ]);
    });
    after(async () => platform?.close());

    it(`${FEATURE}: Patient cannot update their gender`, async () => {
      const token = await tokenFor(P9);
      const { patient, etag } = await readRecord(platform, P9, token);
      const targetValue = ['male', 'female', 'unknown'].find((g) => g !== patient.gender);
      const res = await patchRecord(
        platform,
        P9,
        { patches: [{ op: 'replace', path: '/gender', value: targetValue }] },
        etag,
        token,
      );
      assertPublishedError(
        res,
        400,
        'INVALID_UPDATE',
        'Invalid update with error - This user does not have permission to update the fields in the patches provided.',
      );
    });

    it(`${FEATURE}: Patient can update their contact details`, async () => {
      const token = await tokenFor(P9);
      const { patient, etag } = await readRecord(platform, P9, token);
      const originalTelecom = patient.telecom;
      // removing a telecom that is not their mobile or email is refused
      const refused = await patchRecord(
        platform,
        P9,
        {
          patches: [
            { op: 'test', path: '/telecom/0/id', value: originalTelecom[0].id },
            { op: 'remove', path: '/telecom/0' },
          ],
        },
        etag,
        token,
      );
      assert.equal(refused.statusCode, 400, refused.body);
      const mobileIndex = originalTelecom.findIndex((t: any) => t.use === 'mobile');
      const newTelecom = {
        id: originalTelecom[mobileIndex].id,
        period: { start: todayDate() },
        system: 'phone',
        use: 'mobile',
        value: '07700900123',
      };
      const res = await patchRecord(
        platform,
        P9,
        { patches: [{ op: 'replace', path: `/telecom/${mobileIndex}`, value: newTelecom }] },
        etag,
        token,
      );
      assert.equal(res.statusCode, 200, res.body);
      const updated = res.json();
      assert.equal(updated.telecom.length, originalTelecom.length);
      assert.deepEqual(
        updated.telecom.find((t: any) => t.id === newTelecom.id),
        newTelecom,
      );
    });

    it(`${FEATURE}: Patient cannot update another patient`, async () => {
      const token = await tokenFor(P9);
      const newTelecom = {
        id: 'T2',
        period: { start: todayDate() },
        system: 'phone',
        use: 'mobile',
        value: '07700900124',
      };
      const res = await patchRecord(
        platform,
        OTHER,
        { patches: [{ op: 'replace', path: '/telecom/0', value: newTelecom }] },
        'W/"1"',
        token,
      );
      assertExactPublished(res, 403, 'ACCESS_DENIED', {
        display: 'Patient cannot perform this action',
        diagnostics:
          'Your access token has insufficient permissions. See documentation regarding Patient access restrictions https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir',
      });
    });

    it(`${FEATURE}: Send empty field on the update - communication Language code`, async () => {
      const token = await tokenFor(COMMUNICATION);
      const { patient, etag } = await readRecord(platform, COMMUNICATION, token);
      const index = patient.extension.findIndex((x: any) => x.url === COMMUNICATION_URL);
      assert.ok(index >= 0, 'No value found for NHS communication');
      const tested = {
        url: COMMUNICATION_URL,
        extension: [
          { url: 'language', valueCodeableConcept: { coding: ' ' } },
          { url: 'interpreterRequired', valueBoolean: false },
        ],
      };
      const res = await patchRecord(
        platform,
        COMMUNICATION,
        removeBody(`/extension/${index}`, tested),
        etag,
        token,
      );
      assertPublishedError(
        res,
        400,
        'INVALID_UPDATE',
        "Invalid update with error - Invalid patch - {'url': 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication', 'extension': [{'url': 'language', 'valueCodeableConcept': {'coding': [{'system': 'https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage', 'version': '1.0.0', 'code': 'fr', 'display': 'French'}]}}, {'url': 'interpreterRequired', 'valueBoolean': True}]} (<class 'dict'>) is not equal to tested value {'url': 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication', 'extension': [{'url': 'language', 'valueCodeableConcept': {'coding': ' '}}, {'url': 'interpreterRequired', 'valueBoolean': False}]} (<class 'dict'>)",
      );
    });

    it(`${FEATURE}: Patient can update their emergency contact details and place of birth`, async () => {
      const token = await tokenFor(CONTACT_AND_BIRTHPLACE);
      const first = await readRecord(platform, CONTACT_AND_BIRTHPLACE, token);
      const contact = first.patient.contact[0];
      const res = await patchRecord(
        platform,
        CONTACT_AND_BIRTHPLACE,
        {
          patches: [
            {
              op: 'replace',
              path: '/contact/0',
              value: {
                id: contact.id,
                relationship: contact.relationship,
                telecom: [{ system: 'phone', value: '07700900125' }],
              },
            },
          ],
        },
        first.etag,
        token,
      );
      assert.equal(res.statusCode, 200, res.body);
      const afterContact = res.json();
      assert.equal(
        afterContact.contact.find(
          (c: any) => c.id === contact.id && c.telecom[0].system === 'phone',
        ).telecom[0].value,
        '07700900125',
      );
      assert.equal(Number(afterContact.meta.versionId), first.version + 1);
      const pobIndex = afterContact.extension.findIndex((x: any) => x.url === BIRTH_PLACE_URL);
      const pob = afterContact.extension[pobIndex];
      const res2 = await patchRecord(
        platform,
        CONTACT_AND_BIRTHPLACE,
        {
          patches: [
            {
              op: 'replace',
              path: `/extension/${pobIndex}`,
              value: {
                url: BIRTH_PLACE_URL,
                valueAddress: {
                  city: 'Salford',
                  district: pob.valueAddress.district,
                  country: pob.valueAddress.country,
                },
              },
            },
          ],
        },
        String(res.headers.etag),
        token,
      );
      assert.equal(res2.statusCode, 200, res2.body);
      assert.equal(res2.json().extension[pobIndex].valueAddress.city, 'Salford');
      assert.equal(Number(res2.json().meta.versionId), first.version + 2);
    });

    it(`${FEATURE}: Patient can add and remove nominated pharmacy`, async () => {
      const token = await tokenFor(PHARMACY);
      const { patient, etag } = await readRecord(platform, PHARMACY, token);
      assert.equal(
        patient.extension,
        undefined,
        'the record has no extension list yet: the add creates it',
      );
      const added = await patchRecord(platform, PHARMACY, addNominatedPharmacy, etag, token);
      assert.equal(added.statusCode, 200, added.body);
      const version = Number(added.json().meta.versionId);
      const index = added.json().extension.findIndex((x: any) => x.url === NOMINATED_PHARMACY_URL);
      assert.ok(index >= 0, 'No value found for Nominated Pharmacy');
      const removed = await patchRecord(
        platform,
        PHARMACY,
        removeBody(`/extension/${index}`, added.json().extension[index]),
        String(added.headers.etag),
        token,
      );
      assert.equal(removed.statusCode, 200, removed.body);
      assert.equal(Number(removed.json().meta.versionId), version + 1);
      assert.equal(removed.json().extension?.[0], undefined);
    });

    it(`${FEATURE}: Patient can add temporary address and remove it`, async () => {
      const token = await tokenFor(TEMP_ADDRESS);
      const { etag } = await readRecord(platform, TEMP_ADDRESS, token);
      // Karate utils.randomTempAddress
      const tempAddress = {
        period: { start: todayDate(), end: daysAhead(60) },
        use: 'temp',
        text: 'Temporary Residence Address',
        postalCode: 'NN12 2JX',
        line: ['', '12 Ockham Road', '', 'Eastcote', ''],
      };
      const added = await patchRecord(
        platform,
        TEMP_ADDRESS,
        { patches: [{ op: 'add', path: '/address/-', value: tempAddress }] },
        etag,
        token,
      );
      assert.equal(added.statusCode, 200, added.body);
      const version = Number(added.json().meta.versionId);
      const index = added.json().address.findIndex((x: any) => x.use === 'temp');
      assert.ok(index >= 0, 'No value found for temporary address');
      const removed = await patchRecord(
        platform,
        TEMP_ADDRESS,
        removeBody(`/address/${index}`, added.json().address[index]),
        String(added.headers.etag),
        token,
      );
      assert.equal(removed.statusCode, 200, removed.body);
      assert.equal(Number(removed.json().meta.versionId), version + 1);
      assert.equal(removed.json().address[1], undefined);
    });
  });
}
