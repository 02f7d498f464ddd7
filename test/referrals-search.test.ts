/**
 * e-RS patient service search ($ers.searchHealthcareServicesForPatient, a010) on both stores, driven
 * through the whole platform: each search criterion (specialty, clinic type, priority, request type,
 * indicative wait, distance, postcode, organisation, named clinician), both sort orders, services
 * restricted to some referrers, inactive services, distances from the patient's home district
 * (unknown districts last, excluded by a distance limit), the published answer shape, unknown
 * patients, every malformed field, the published headers; and the shortlist checks of
 * $ers.createReferral (a shortlisted service must be an e-RS service open to the referrer). Request
 * bodies start from the published sandbox examples in test/fixtures/ers/published/ (SOURCES.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import {
  buildHealthcareService,
  indexHealthcareService,
  seedDirectory,
  type ErsProfile,
} from '../src/services/directory/index.js';
import {
  commitPatients,
  currentJane,
  repoRoot,
  restrictedJanet,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const SEARCH = '/referrals/FHIR/STU3/HealthcareService/$ers.searchHealthcareServicesForPatient';
const CREATE = '/referrals/FHIR/STU3/ReferralRequest/$ers.createReferral';
const ORG = 'A81001';
const OTHER_ORG = 'B82001';
/** The patient the published examples name; Jane's record, living at LS1 6AE (Leeds). */
const PATIENT = '9912003888';
/** A restricted patient (also at LS1 6AE): their address is never used for distances. */
const RESTRICTED = '9000000025';
const UNKNOWN_PATIENT = '9000000041';
const ERS_OUTCOME = 'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-OperationOutcome-1';
const ERS_CODES = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';

const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));

const profile = (p: Partial<ErsProfile> & Pick<ErsProfile, 'specialty'>): ErsProfile => ({
  clinicTypes: [],
  flow: 'BOOKABLE',
  bookable: 'DIRECTLY_BOOKABLE',
  priorities: ['ROUTINE', 'URGENT'],
  adviceAndGuidance: false,
  ...p,
});
const heartFailure = (waitDays: number, extra: Partial<ErsProfile> = {}) =>
  profile({ specialty: 'CARDIOLOGY', clinicTypes: ['HEART_FAILURE'], waitDays, ...extra });

/** id: [provider, postcode, profile or none, active] */
const SERVICES: Record<string, [string, string, ErsProfile | undefined, boolean]> = {
  'leeds-hf': ['RR8', 'LS7 0HD', heartFailure(30), true],
  'sheffield-hf': ['RHQ', 'S10 2JF', heartFailure(10), true],
  'london-hf': ['RJ1', 'SE1 7EH', heartFailure(5), true],
  // SO6 is no postcode district: its distance is unknown
  'nowhere-hf': ['RHM', 'SO6 0BZ', heartFailure(1), true],
  'closed-hf': ['RR8', 'LS1 3EX', heartFailure(2), false],
  'restricted-hf': ['RR8', 'LS2 9JT', heartFailure(3, { restrictedTo: [OTHER_ORG] }), true],
  'leeds-lipid': [
    'RR8',
    'LS7 0HD',
    profile({
      specialty: 'CARDIOLOGY',
      clinicTypes: ['LIPID_MANAGEMENT'],
      adviceAndGuidance: true,
      waitDays: 20,
    }),
    true,
  ],
  'leeds-derm': [
    'RR8',
    'LS7 0HD',
    profile({
      specialty: 'DERMATOLOGY',
      clinicTypes: ['GENERAL_DERMATOLOGY'],
      flow: 'TRIAGE',
      bookable: undefined,
      priorities: ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'],
      adviceAndGuidance: true,
    }),
    true,
  ],
  'leeds-surgery': [
    'RR8',
    'LS7 0HD',
    profile({
      specialty: 'GENERAL_SURGERY',
      clinicTypes: ['HERNIA'],
      bookable: 'INDIRECTLY_BOOKABLE',
      priorities: ['ROUTINE'],
      waitDays: 60,
    }),
    true,
  ],
  'leeds-gp': ['RR8', 'LS7 0HD', undefined, true],
};
const PROVIDERS: Record<string, string> = {
  RR8: 'Leeds Teaching Hospitals NHS Trust',
  RHQ: 'Sheffield Teaching Hospitals NHS Foundation Trust',
  RJ1: "Guy's and St Thomas' NHS Foundation Trust",
  RHM: 'University Hospital Southampton NHS Foundation Trust',
};

/** The eRS STU3 refusal shape, with its status and eRS error code. */
function assertErs(res: LightMyRequestResponse, status: number, code: string): any {
  assert.equal(res.statusCode, status, res.body);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.deepEqual(outcome.meta.profile, [ERS_OUTCOME]);
  assert.equal(outcome.issue[0].details.coding[0].system, ERS_CODES);
  assert.equal(outcome.issue[0].details.coding[0].code, code, res.body);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

/** The published minimal request (RcMinimal), changed by `edit` (a copy). */
function searchBody(edit: (body: any, criteria: any[]) => void = () => {}): any {
  const body = published('patientServiceSearch-RcMinimal.json');
  edit(body, body.parameter.find((p: any) => p.name === 'searchCriteria').resource.parameter);
  return body;
}
const param = (list: any[], name: string) => list.find((p: any) => p.name === name);
const drop = (list: any[], name: string) => list.splice(list.indexOf(param(list, name)), 1);
const coding = (system: string, code: string) => ({ valueCoding: { system, code } });
const SORT = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-SortBy-1';
const PRIORITY = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1';

/** A search by criteria: specialty/clinic type codes (undefined drops them), priority, sort and extras. */
function criteria(opts: {
  specialty?: string;
  clinicType?: string;
  priority?: string;
  sortBy?: 'DISTANCE' | 'IWT';
  requestType?: string;
  patient?: string;
  extra?: any[];
}): any {
  return searchBody((body, list) => {
    if (opts.specialty) param(list, 'specialty').valueCoding.code = opts.specialty;
    else drop(list, 'specialty');
    if (opts.clinicType) param(list, 'clinicType').valueCoding.code = opts.clinicType;
    else drop(list, 'clinicType');
    param(list, 'priority').valueCoding.code = opts.priority ?? 'ROUTINE';
    param(body.parameter, 'sortBy').valueCoding.code = opts.sortBy ?? 'DISTANCE';
    if (opts.requestType) param(body.parameter, 'requestType').valueCoding.code = opts.requestType;
    if (opts.patient) param(body.parameter, 'patient').valueIdentifier.value = opts.patient;
    list.push(...(opts.extra ?? []));
  });
}

const summaryOf = (entry: any) => entry.item.extension[0].extension;
const itemFacts = (entry: any) => entry.extension[0].extension;
const ext = (list: any[], url: string) => list.find((e: any) => e.url === url);

for (const kind of await storesUnderTest()) {
  describe(`e-RS service search (${kind})`, () => {
    let platform: TestPlatform;
    let otherOrgToken: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await commitPatients(platform.repo, [
        withNhsNumber(currentJane(), PATIENT),
        restrictedJanet(),
      ]);
      await platform.repo.commit({
        resources: [
          ...Object.entries(PROVIDERS).map(([id, name]) => ({
            type: 'Organization',
            id,
            expectedVersion: 0,
            resource: { resourceType: 'Organization', id, name },
            index: [],
          })),
          ...Object.entries(SERVICES).map(([id, [org, postcode, ers, active]]) => {
            const resource = buildHealthcareService({
              id,
              org,
              name: `${id} clinic`,
              types: ['outpatients'],
              active,
              endpoints: [],
              address: { lines: ['1 Hospital Road'], postcode },
              ers,
            });
            return {
              type: 'HealthcareService',
              id,
              expectedVersion: 0,
              resource,
              index: indexHealthcareService(resource),
            };
          }),
          {
            type: 'PractitionerRole',
            id: 'dr-sheffield-role',
            expectedVersion: 0,
            resource: {
              resourceType: 'PractitionerRole',
              id: 'dr-sheffield-role',
              active: true,
              practitioner: { identifier: { value: 'dr-sheffield' } },
              organization: { identifier: { value: 'RHQ' } },
            },
            index: [{ param: 'practitioner', value: 'dr-sheffield' }],
          },
        ],
      });
      otherOrgToken = await platform.token('R8000', { org: OTHER_ORG, user: 'other-clinician' });
    });
    after(() => platform.close());

    const ers = (opts: {
      url?: string;
      body: unknown;
      businessFunction?: string | null;
      ods?: string | null;
      token?: string;
    }) => {
      const headers: Record<string, string> = {};
      if (opts.businessFunction !== null)
        headers['nhsd-ers-business-function'] = opts.businessFunction ?? 'REFERRING_CLINICIAN';
      if (opts.ods !== null) headers['nhsd-end-user-organisation-ods'] = opts.ods ?? ORG;
      return platform.request({
        method: 'POST',
        url: opts.url ?? SEARCH,
        body: opts.body,
        token: opts.token,
        headers,
      });
    };
    /** The ids found, in order. */
    const found = async (body: unknown, extra: { token?: string; ods?: string } = {}) => {
      const res = await ers({ body, ...extra });
      assert.equal(res.statusCode, 200, res.body);
      return (res.json().entry as any[]).map((e) => e.item.identifier.value);
    };

    it('answers the published minimal search in the published List shape', async () => {
      const res = await ers({ body: searchBody() }); // URGENT CARDIOLOGY / LIPID_MANAGEMENT
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
      const list = res.json();
      const model = published(
        'patientServiceSearch-ResponseFetchServiceListWithSingleService.json',
      );
      for (const key of ['resourceType', 'status', 'mode', 'meta'])
        assert.deepEqual(list[key], model[key]);
      assert.equal(list.entry.length, 1);
      const [entry] = list.entry;
      const [sample] = model.entry;
      assert.equal(entry.extension[0].url, sample.extension[0].url);
      assert.deepEqual(entry.item.identifier, {
        system: sample.item.identifier.system,
        value: 'leeds-lipid',
      });
      assert.equal(entry.item.extension[0].url, sample.item.extension[0].url);
      // every summary field is one the published answers use, and the required ones are there
      const publishedUrls = new Set(summaryOf(sample).map((e: any) => e.url));
      const summary = summaryOf(entry);
      for (const e of summary) assert.ok(publishedUrls.has(e.url), `published field ${e.url}`);
      for (const url of ['serviceName', 'specialty', 'genderTreated', 'bookableType', 'location'])
        assert.ok(ext(summary, url), url);
      assert.equal(ext(summary, 'serviceName').valueString, 'leeds-lipid clinic');
      const specialty = ext(summary, 'specialty').valueCodeableConcept.coding[0];
      assert.equal(specialty.code, 'CARDIOLOGY');
      assert.match(specialty.system, /^http:\/\/.+\/referrals\/FHIR\/STU3\/CodeSystem\/SPECIALTY$/);
      assert.equal(
        ext(summary, 'bookableType').valueCodeableConcept.coding[0].code,
        'DIRECTLY_BOOKABLE',
      );
      assert.deepEqual(ext(summary, 'location').valueReference, {
        identifier: {
          system: 'https://directory.spineservices.nhs.uk/STU3/Organization',
          value: 'RR8',
        },
        display: PROVIDERS.RR8,
      });
      assert.deepEqual(
        summary
          .filter((e: any) => e.url === 'supportedRequestFlowType')
          .map((e: any) => e.valueCodeableConcept.coding[0].code),
        ['APPOINTMENT_REQUEST', 'ADVICE_AND_GUIDANCE_REQUEST'],
      );
      const facts = itemFacts(entry);
      assert.equal(ext(facts, 'displayProminently').valueBoolean, false);
      assert.equal(ext(facts, 'indicativeAppointmentWaitTime').valueUnsignedInt, 20);
      assert.equal(
        ext(facts, 'distance').valueUnsignedInt,
        1,
        'LS1 to LS7: about a mile and a half',
      );
    });

    it('answers no match with the published empty List', async () => {
      const res = await ers({
        body: criteria({ specialty: 'CARDIOLOGY', priority: 'TWO_WEEK_WAIT' }),
      });
      assert.equal(res.statusCode, 200, res.body);
      const empty = published('patientServiceSearch-ResponseEmptyResponse.json');
      assert.deepEqual(res.json(), empty);
    });

    it('sorts by DISTANCE from the patient, unknown districts last; inactive and restricted services are not found', async () => {
      const body = criteria({ specialty: 'CARDIOLOGY', clinicType: 'HEART_FAILURE' });
      assert.deepEqual(await found(body), ['leeds-hf', 'sheffield-hf', 'london-hf', 'nowhere-hf']);
      const res = await ers({ body });
      const miles = res
        .json()
        .entry.map((e: any) => ext(itemFacts(e), 'distance')?.valueUnsignedInt);
      assert.ok(miles[0] <= 2 && miles[1] > 20 && miles[1] < 40 && miles[2] > 150, `${miles}`);
      assert.equal(miles[3], undefined, 'an unknown district has no distance');
    });

    it('sorts by IWT, shortest indicative wait first', async () => {
      const body = criteria({
        specialty: 'CARDIOLOGY',
        clinicType: 'HEART_FAILURE',
        sortBy: 'IWT',
      });
      assert.deepEqual(await found(body), ['nowhere-hf', 'london-hf', 'sheffield-hf', 'leeds-hf']);
    });

    it('limits by distance (an unknown distance is excluded) and by indicative wait', async () => {
      const limit = (name: string, value: number) => ({ name, valueUnsignedInt: value });
      const near = criteria({
        specialty: 'CARDIOLOGY',
        clinicType: 'HEART_FAILURE',
        extra: [limit('distanceLimit', 50)],
      });
      assert.deepEqual(await found(near), ['leeds-hf', 'sheffield-hf']);
      const quick = criteria({
        specialty: 'CARDIOLOGY',
        clinicType: 'HEART_FAILURE',
        extra: [limit('indicativeAppointmentWaitTimeLimit', 10)],
      });
      assert.deepEqual(await found(quick), ['sheffield-hf', 'london-hf', 'nowhere-hf']);
    });

    it('measures from the postcode the criteria give instead of the home address', async () => {
      const body = criteria({
        specialty: 'CARDIOLOGY',
        clinicType: 'HEART_FAILURE',
        extra: [{ name: 'postcode', valueString: 'SE1 9RT' }],
      });
      assert.deepEqual(await found(body), ['london-hf', 'sheffield-hf', 'leeds-hf', 'nowhere-hf']);
    });

    it("never uses a restricted patient's address: distances unknown unless a postcode is given", async () => {
      const res = await ers({
        body: criteria({
          specialty: 'CARDIOLOGY',
          clinicType: 'HEART_FAILURE',
          patient: RESTRICTED,
        }),
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(res.json().entry.every((e: any) => !ext(itemFacts(e), 'distance')));
      const near = criteria({
        specialty: 'CARDIOLOGY',
        clinicType: 'HEART_FAILURE',
        patient: RESTRICTED,
        extra: [{ name: 'distanceLimit', valueUnsignedInt: 500 }],
      });
      assert.deepEqual(await found(near), []);
    });

    it('filters by specialty alone, by clinic type alone, and by priority', async () => {
      assert.deepEqual((await found(criteria({ specialty: 'CARDIOLOGY' }))).sort(), [
        'leeds-hf',
        'leeds-lipid',
        'london-hf',
        'nowhere-hf',
        'sheffield-hf',
      ]);
      assert.deepEqual(await found(criteria({ clinicType: 'HERNIA' })), ['leeds-surgery']);
      assert.deepEqual(await found(criteria({ clinicType: 'HERNIA', priority: 'URGENT' })), []);
      assert.deepEqual(
        await found(criteria({ specialty: 'DERMATOLOGY', priority: 'TWO_WEEK_WAIT' })),
        ['leeds-derm'],
      );
    });

    it('answers a triage service with its request flow and no indicative wait (NOT_APPLICABLE)', async () => {
      const res = await ers({ body: criteria({ specialty: 'DERMATOLOGY' }) });
      const [entry] = res.json().entry;
      const flows = summaryOf(entry).filter((e: any) => e.url === 'supportedRequestFlowType');
      assert.deepEqual(
        flows.map((e: any) => e.valueCodeableConcept.coding[0].code),
        ['TRIAGE_REQUEST', 'ADVICE_AND_GUIDANCE_REQUEST'],
      );
      assert.deepEqual(
        ext(itemFacts(entry), 'indicativeAppointmentWaitTime').valueCodeableConcept.coding[0],
        {
          system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-IWT-1',
          code: 'NOT_APPLICABLE',
        },
      );
    });

    it('finds only services taking advice and guidance for an ADVICE_AND_GUIDANCE_REQUEST', async () => {
      const body = published('patientServiceSearch-RcSearchForAdviceService.json');
      assert.deepEqual(await found(body), ['leeds-lipid']);
      const cardiology = criteria({
        specialty: 'CARDIOLOGY',
        requestType: 'ADVICE_AND_GUIDANCE_REQUEST',
      });
      assert.deepEqual(await found(cardiology), ['leeds-lipid']);
    });

    it('filters by provider organisation and by named clinician', async () => {
      const org = {
        name: 'organisation',
        valueIdentifier: {
          system: 'https://directory.spineservices.nhs.uk/STU3/Organization',
          value: 'RHQ',
        },
      };
      assert.deepEqual(await found(criteria({ specialty: 'CARDIOLOGY', extra: [org] })), [
        'sheffield-hf',
      ]);
      assert.deepEqual(await found(criteria({ extra: [org] })), ['sheffield-hf']);
      const named = published('patientServiceSearch-RcSearchByNamedClinician.json');
      const clinician = param(named.parameter, 'searchCriteria').resource.parameter;
      param(clinician, 'namedClinician').valueIdentifier.value = 'dr-sheffield';
      assert.deepEqual(await found(named), ['sheffield-hf']);
      param(clinician, 'namedClinician').valueIdentifier.value = 'nobody-here';
      assertErs(await ers({ body: named }), 422, 'REFERENCE_NOT_FOUND');
    });

    it('finds a restricted service only for referrers at the organisations it names', async () => {
      const body = criteria({ specialty: 'CARDIOLOGY', clinicType: 'HEART_FAILURE' });
      assert.ok(!(await found(body)).includes('restricted-hf'));
      const other = await found(body, { token: otherOrgToken, ods: OTHER_ORG });
      assert.deepEqual(other, [
        'restricted-hf',
        'leeds-hf',
        'sheffield-hf',
        'london-hf',
        'nowhere-hf',
      ]);
    });

    it('accepts the published admin search with an IWT limit and a commissioning rule organisation', async () => {
      const rca = await ers({
        body: published('patientServiceSearch-RcaWithIWT.json'),
        businessFunction: 'REFERRING_CLINICIAN_ADMIN',
      });
      assert.equal(rca.statusCode, 200, rca.body);
      assert.deepEqual(rca.json().entry, [], 'the lipid clinic waits 20 days, over the 15 asked');
      const withRule = await ers({
        body: published('patientServiceSearch-RcSearchWithCommissioningRuleOrganisation.json'),
      });
      assert.equal(withRule.statusCode, 200, withRule.body);
    });

    it('audits the search against the patient', async () => {
      await found(criteria({ specialty: 'CARDIOLOGY' }));
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) =>
            r.action === 'ers.service.search' && r.patient === PATIENT && r.outcome === 'success',
        ),
      );
    });

    it('answers an unknown patient as PDS does (404 RESOURCE_NOT_FOUND)', async () => {
      const res = await ers({
        body: criteria({ specialty: 'CARDIOLOGY', patient: UNKNOWN_PATIENT }),
      });
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(spineCode(res), 'RESOURCE_NOT_FOUND');
    });

    it('refuses every malformed field with a 422 eRS OperationOutcome', async () => {
      const cases: [string, (body: any, list: any[]) => void, string][] = [
        ['not Parameters', (b) => (b.resourceType = 'Bundle'), 'INVALID_FHIR_STRUCTURE'],
        ['parameter not an array', (b) => (b.parameter = {}), 'INVALID_FHIR_STRUCTURE'],
        [
          'unknown parameter',
          (b) => b.parameter.push({ name: 'colour', valueString: 'red' }),
          'UNEXPECTED_FIELD',
        ],
        [
          'repeated parameter',
          (b) => b.parameter.push(param(b.parameter, 'sortBy')),
          'INVALID_FHIR_STRUCTURE',
        ],
        ['no requestType', (b) => drop(b.parameter, 'requestType'), 'MISSING_VALUE'],
        [
          'TRIAGE_REQUEST is no request type',
          (b) => (param(b.parameter, 'requestType').valueCoding.code = 'TRIAGE_REQUEST'),
          'INVALID_CODE',
        ],
        [
          'requestType system',
          (b) =>
            Object.assign(param(b.parameter, 'requestType'), coding('x', 'APPOINTMENT_REQUEST')),
          'INVALID_CODE',
        ],
        ['no sortBy', (b) => drop(b.parameter, 'sortBy'), 'MISSING_VALUE'],
        [
          'sortBy NAME',
          (b) => Object.assign(param(b.parameter, 'sortBy'), coding(SORT, 'NAME')),
          'INVALID_CODE',
        ],
        ['no patient', (b) => drop(b.parameter, 'patient'), 'MISSING_VALUE'],
        [
          'bad NHS Number',
          (b) => (param(b.parameter, 'patient').valueIdentifier.value = '9000000000'),
          'INVALID_VALUE',
        ],
        [
          'patient system',
          (b) => (param(b.parameter, 'patient').valueIdentifier.system = 'x'),
          'INVALID_VALUE',
        ],
        [
          'referringClinician',
          (b) =>
            b.parameter.push({
              name: 'referringClinician',
              valueIdentifier: { system: 'x', value: '1' },
            }),
          'INVALID_VALUE',
        ],
        [
          'commissioningRuleOrganisation',
          (b) =>
            b.parameter.push({
              name: 'commissioningRuleOrganisation',
              valueIdentifier: {
                system: 'https://fhir.nhs.uk/Id/ods-organization-code',
                value: '!',
              },
            }),
          'INVALID_VALUE',
        ],
        [
          'rule org with A&G',
          (b) => {
            param(b.parameter, 'requestType').valueCoding.code = 'ADVICE_AND_GUIDANCE_REQUEST';
            b.parameter.push({
              name: 'commissioningRuleOrganisation',
              valueIdentifier: {
                system: 'https://fhir.nhs.uk/Id/ods-organization-code',
                value: 'R69',
              },
            });
          },
          'FIELD_NOT_PERMITTED',
        ],
        ['no searchCriteria', (b) => drop(b.parameter, 'searchCriteria'), 'MISSING_VALUE'],
        [
          'searchCriteria not Parameters',
          (b) => (param(b.parameter, 'searchCriteria').resource = { resourceType: 'List' }),
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'unknown criterion',
          (_b, l) => l.push({ name: 'colour', valueString: 'red' }),
          'UNEXPECTED_FIELD',
        ],
        ['no priority', (_b, l) => drop(l, 'priority'), 'MISSING_VALUE'],
        [
          'priority code',
          (_b, l) => Object.assign(param(l, 'priority'), coding(PRIORITY, 'SOON')),
          'INVALID_CODE',
        ],
        [
          'specialty system',
          (_b, l) => (param(l, 'specialty').valueCoding.system = 'urn:x'),
          'INVALID_CODE',
        ],
        [
          'specialty code',
          (_b, l) => (param(l, 'specialty').valueCoding.code = 'heart stuff'),
          'INVALID_CODE',
        ],
        [
          'clinicType system',
          (_b, l) => Object.assign(param(l, 'clinicType'), coding('urn:x', 'HEART_FAILURE')),
          'INVALID_CODE',
        ],
        [
          'wait limit',
          (_b, l) => l.push({ name: 'indicativeAppointmentWaitTimeLimit', valueUnsignedInt: -1 }),
          'INVALID_VALUE',
        ],
        [
          'distance limit',
          (_b, l) => l.push({ name: 'distanceLimit', valueUnsignedInt: '5' }),
          'INVALID_VALUE',
        ],
        [
          'postcode',
          (_b, l) => l.push({ name: 'postcode', valueString: 'NOT A POSTCODE' }),
          'INVALID_VALUE',
        ],
        [
          'clinicalTerm system',
          (_b, l) => l.push({ name: 'clinicalTerm', ...coding('urn:x', '1003') }),
          'INVALID_VALUE',
        ],
        [
          'clinicalTerm not in the dictionary',
          (_b, l) => l.push({ name: 'clinicalTerm', ...coding('http://snomed.info/sct', '1003') }),
          'SNOMED_NOT_FOUND',
        ],
        [
          'namedClinician',
          (_b, l) =>
            l.push({
              name: 'namedClinician',
              valueIdentifier: { system: 'http://fhir.nhs.net/Id/sds-user-id', value: '' },
            }),
          'INVALID_VALUE',
        ],
        [
          'organisation',
          (_b, l) =>
            l.push({ name: 'organisation', valueIdentifier: { system: 'urn:x', value: 'RR8' } }),
          'INVALID_VALUE',
        ],
        [
          'place',
          (_b, l) => l.push({ name: 'place', valueString: 'Leeds' }),
          'FIELD_NOT_PERMITTED',
        ],
        [
          'commissioningProvisioning',
          (_b, l) =>
            l.push({ name: 'commissioningProvisioning', ...coding('urn:x', 'ALL_SERVICES') }),
          'INVALID_CODE',
        ],
        [
          'no ageAndGenderAppropriate',
          (_b, l) => drop(l, 'ageAndGenderAppropriate'),
          'MISSING_VALUE',
        ],
        [
          'ageAndGenderAppropriate',
          (_b, l) => (param(l, 'ageAndGenderAppropriate').valueBoolean = 'yes'),
          'INVALID_VALUE',
        ],
        [
          'nothing to search by',
          (_b, l) => {
            drop(l, 'specialty');
            drop(l, 'clinicType');
          },
          'VALUE_IS_REQUIRED',
        ],
      ];
      for (const [why, edit, code] of cases) {
        const res = await ers({ body: searchBody(edit) });
        assert.equal(res.statusCode, 422, `${why}: ${res.body}`);
        assertErs(res, 422, code);
      }
      const notJson = await platform.request({
        method: 'POST',
        url: SEARCH,
        body: 'not json at all',
        headers: {
          'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
          'nhsd-end-user-organisation-ods': ORG,
        },
      });
      assert.equal(notJson.statusCode, 400, notJson.body);
    });

    it('requires the published headers and a referring business function', async () => {
      const body = criteria({ specialty: 'CARDIOLOGY' });
      assertErs(await ers({ body, businessFunction: null }), 400, 'MISSING_HEADER');
      assertErs(await ers({ body, ods: null }), 400, 'MISSING_HEADER');
      assertErs(
        await ers({ body, businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await ers({ body, ods: OTHER_ORG }), 403, 'NO_ACCESS');
      const noToken = await platform.request({ method: 'POST', url: SEARCH, body, token: null });
      assert.equal(noToken.statusCode, 401, noToken.body);
    });

    it('creates a referral only to e-RS services open to the referrer', async () => {
      const create = (services: string[], extra: { token?: string; ods?: string } = {}) => {
        const body = published('createReferral-MinimalRequest.json');
        param(body.parameter, 'eReferralPathwayStart').valueInstant = new Date(
          Date.now() - 86_400_000,
        ).toISOString();
        param(body.parameter, 'patient').valueIdentifier.value = PATIENT;
        const list = param(body.parameter, 'shortlist').resource;
        list.entry = services.map((id) => ({
          item: { identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: id } },
        }));
        return ers({ url: CREATE, body, ...extra });
      };
      assertErs(await create(['leeds-hf', 'leeds-gp']), 422, 'INAPPROPRIATE_VALUE');
      assertErs(await create(['restricted-hf']), 422, 'SHORTLISTED_SERVICE_NOT_IN_RESULTS');
      const allowed = await create(['restricted-hf', 'leeds-hf'], {
        token: otherOrgToken,
        ods: OTHER_ORG,
      });
      assert.equal(allowed.statusCode, 201, allowed.body);
      assert.equal((await create(['leeds-hf', 'leeds-derm'])).statusCode, 201);
    });

    it("finds the demo directory's clinics, nearest trust first", async () => {
      await seedDirectory(platform.repo, 1);
      const body = criteria({ specialty: 'CARDIOLOGY', clinicType: 'HEART_FAILURE' });
      const res = await ers({ body });
      assert.equal(res.statusCode, 200, res.body);
      const names: string[] = res
        .json()
        .entry.map((e: any) => ext(summaryOf(e), 'serviceName').valueString)
        .filter((n: string) => n.endsWith('Heart Failure Clinic'));
      assert.equal(names.length, 24, 'one clinic for each demo trust');
      // the patient lives in Leeds (LS1): the Leeds trust's clinic (LS7) comes first, then Bradford
      assert.deepEqual(
        names.slice(0, 2),
        [
          'Leeds Teaching Hospitals Heart Failure Clinic',
          'Bradford Teaching Hospitals Heart Failure Clinic',
        ],
        names.join(', '),
      );
    });
  });
}
