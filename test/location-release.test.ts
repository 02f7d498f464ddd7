/**
 * The location-release rule, rule by rule, on representations of the shapes the services send:
 * what is withheld for a restricted patient, what stays (their clinical content, an unrestricted
 * neighbour), merged numbers, the caller's own echoed message, and text that passes unparsed.
 * PDS is a small in-memory table here; test/restricted-location.test.ts runs the whole platform.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import { LocationRelease, WITHHELD } from '../src/security/location-release.js';
import type { StoredResource } from '../src/store/resource-store.js';

const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const RESTRICTED = '9000000025';
const OPEN = '9000000009';
const MERGED_AWAY = '9000000033';

const patient = (nhs: string, label: 'R' | 'U', extra: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient',
  id: nhs,
  identifier: [{ system: NHS, value: nhs }],
  meta: {
    security: [{ system: 'https://www.hl7.org/fhir/valueset-security-labels.html', code: label }],
  },
  name: [{ family: 'Smythe', given: ['Janet'] }],
  address: [{ use: 'home', line: ['9 Secret Row', 'Leeds'], postalCode: 'LS1 6AE' }],
  telecom: [{ system: 'phone', value: '01632 960999' }],
  generalPractitioner: [{ identifier: { system: ODS, value: 'Y12345' } }],
  extension: [
    {
      url: 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy',
      valueReference: { identifier: { system: ODS, value: 'FA123' } },
    },
  ],
  ...extra,
});

const pds = new Map<string, Patient>([
  [RESTRICTED, patient(RESTRICTED, 'R')],
  [
    OPEN,
    patient(OPEN, 'U', {
      address: [{ use: 'home', line: ['1 Open Street'], postalCode: 'LS2 9JT' }],
      telecom: [],
      generalPractitioner: [{ identifier: { system: ODS, value: 'B86018' } }],
    }),
  ],
  [
    MERGED_AWAY,
    {
      resourceType: 'Patient',
      id: MERGED_AWAY,
      link: [{ type: 'replaced-by', other: { identifier: { system: NHS, value: RESTRICTED } } }],
    } as Patient,
  ],
]);
let lookups = 0;
const release = new LocationRelease({
  async readMany(_type: string, ids: string[]) {
    lookups++;
    return ids
      .filter((id) => pds.has(id))
      .map(
        (id) =>
          ({
            id,
            version: 1,
            lastUpdated: '',
            resource: pds.get(id)!,
          }) as unknown as StoredResource,
      );
  },
});
const released = async (
  value: unknown,
  source?: 'pds-current' | 'any' | 'echo',
  request?: string,
) =>
  JSON.parse(
    await release.releaseText(JSON.stringify(value), source, {
      request: request === undefined ? undefined : () => request,
    }),
  );

describe('location release', () => {
  it("strips a restricted patient's Patient copy (an SCR upload's, unlabelled) and keeps who they are", async () => {
    const copy = { ...patient(RESTRICTED, 'U'), meta: undefined };
    const out = await released({
      resourceType: 'Bundle',
      type: 'document',
      entry: [{ resource: copy }],
    });
    const p = out.entry[0].resource;
    assert.equal(p.address, undefined);
    assert.equal(p.telecom, undefined);
    assert.equal(p.generalPractitioner, undefined);
    assert.equal(p.extension, undefined, 'the nominated pharmacy goes');
    assert.deepEqual(p.name, copy.name);
    assert.deepEqual(p.identifier, copy.identifier);
  });

  it('masks their GP and pharmacy wherever they appear: resources become stubs, references masked, text withheld', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          resource: {
            resourceType: 'Organization',
            id: 'org-1',
            identifier: [{ system: ODS, value: 'Y12345' }],
            name: 'Leeds Practice',
          },
        },
        {
          resource: {
            resourceType: 'MedicationRequest',
            id: 'mr-1',
            subject: { identifier: { system: NHS, value: RESTRICTED } },
            performer: { identifier: { system: ODS, value: 'FA123' } },
            note: [{ text: 'Collect at FA123 near LS1 6AE' }],
            dosageInstruction: [{ text: 'One tablet daily' }],
          },
        },
        {
          resource: {
            resourceType: 'Organization',
            id: 'org-2',
            identifier: [{ system: ODS, value: 'X26' }],
            name: 'NHS England',
          },
        },
      ],
    };
    const out = await released(bundle);
    assert.deepEqual(out.entry[0].resource, {
      resourceType: 'Organization',
      id: 'org-1',
      meta: {
        security: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
            code: 'REDACTED',
            display: 'redacted',
          },
        ],
      },
    });
    const mr = out.entry[1].resource;
    assert.deepEqual(mr.performer, {
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' },
      ],
    });
    assert.equal(mr.note[0].text, WITHHELD);
    assert.equal(mr.dosageInstruction[0].text, 'One tablet daily', 'clinical content stays');
    assert.equal(out.entry[2].resource.name, 'NHS England', 'other organisations stay');
  });

  it('drops an address or phone of theirs held anywhere, keeping other ones', async () => {
    const out = await released({
      resourceType: 'RelatedPerson',
      patient: { reference: `Patient/${RESTRICTED}` },
      name: [{ family: 'Friend' }],
      address: [{ line: ['9 Secret Row'], postalCode: 'LS1 6AE' }],
    });
    assert.equal(out.address, undefined);
    const other = await released({
      resourceType: 'Encounter',
      subject: { identifier: { value: RESTRICTED } },
      location: [{ location: { display: 'x' } }],
      contained: [
        {
          resourceType: 'Location',
          address: { line: ['1 Hospital Road'], postalCode: 'LS9 7TF' },
          telecom: [
            { system: 'phone', value: '+44 1632 960999' },
            { system: 'phone', value: '0113 243 3144' },
          ],
        },
      ],
    });
    assert.deepEqual(other.contained[0].address, {
      line: ['1 Hospital Road'],
      postalCode: 'LS9 7TF',
    });
    assert.deepEqual(
      other.contained[0].telecom,
      [{ system: 'phone', value: '0113 243 3144' }],
      'their phone, written internationally, goes; the ward phone stays',
    );
  });

  it('leaves a body about no restricted patient untouched, byte for byte', async () => {
    const text = JSON.stringify(
      { resourceType: 'Bundle', entry: [{ resource: pds.get(OPEN) }] },
      null,
      1,
    );
    assert.equal(await release.releaseText(text), text);
    assert.equal(
      release.mayNeedRelease('{"resourceType":"Organization","id":"Y12345"}'),
      false,
      'no NHS Number, nothing to look up',
    );
  });

  it('counts a merged-away number as its restricted survivor', async () => {
    const out = await released({
      resourceType: 'Patient',
      identifier: [{ system: NHS, value: MERGED_AWAY }],
      address: [{ postalCode: 'LS1 6AE' }],
    });
    assert.equal(out.address, undefined);
  });

  it("on PDS's own current records the label decides, without a look-up, and a neighbour keeps what shares a value", async () => {
    const before = lookups;
    const open = pds.get(OPEN)!;
    const text = JSON.stringify({ resourceType: 'Bundle', entry: [{ resource: open }] });
    assert.equal(release.mayNeedRelease(text, 'pds-current'), false);
    assert.equal(await release.releaseText(text, 'pds-current'), text);
    assert.equal(lookups, before, 'no look-up for unrestricted current records');
    const neighbour = {
      ...open,
      generalPractitioner: [{ identifier: { system: ODS, value: 'Y12345' } }],
    };
    const both = await released(
      {
        resourceType: 'Bundle',
        entry: [{ resource: pds.get(RESTRICTED) }, { resource: neighbour }],
      },
      'pds-current',
    );
    assert.equal(both.entry[0].resource.address, undefined);
    assert.deepEqual(
      both.entry[1].resource.generalPractitioner,
      neighbour.generalPractitioner,
      'the neighbour registered at the same practice keeps it',
    );
  });

  it("lets the caller's own message come back (EPS $prepare), and nothing else of theirs", async () => {
    const message = {
      resourceType: 'Bundle',
      entry: [
        {
          resource: {
            resourceType: 'Patient',
            identifier: [{ system: NHS, value: RESTRICTED }],
            address: [{ line: ['9 Secret Row'], postalCode: 'LS1 6AE' }],
          },
        },
      ],
    };
    const echoed = await released(message, 'echo', JSON.stringify(message));
    assert.deepEqual(echoed, message);
    const added = {
      ...message,
      entry: [
        ...message.entry,
        {
          resource: {
            resourceType: 'Organization',
            identifier: [{ system: ODS, value: 'Y12345' }],
          },
        },
      ],
    };
    const out = await released(added, 'echo', JSON.stringify(message));
    assert.equal(
      out.entry[1].resource.meta.security[0].code,
      'REDACTED',
      'a value the caller did not send is still withheld',
    );
  });
});
