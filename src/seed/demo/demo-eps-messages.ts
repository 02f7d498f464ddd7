/**
 * The EPS messages a GP system and a pharmacy system send, built for the demo (in the published
 * shapes that docs/eps.md describes): a prescription-order, its cancellation, a dispense
 * notification, a claim, and the Parameters of release, return and withdrawal. Every id is derived
 * from the demo step's name, so the same seed sends the same messages.
 */
import { ODS_SYSTEM, NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';
import { demoUuid } from './demo-api.js';
import { MEDICINES, type MedicineName } from './demo-clinical.js';

const ORDER_NUMBER = 'https://fhir.nhs.uk/Id/prescription-order-number';
const ORDER_ITEM = 'https://fhir.nhs.uk/Id/prescription-order-item-number';
const PRESCRIPTION_ID_URL = 'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId';
const MESSAGE_EVENT = 'https://fhir.nhs.uk/CodeSystem/message-event';
const RFC4122 = 'https://tools.ietf.org/html/rfc4122';
const SNOMED = 'http://snomed.info/sct';
const SYMBOLS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+';

export type Course = 'acute' | 'continuous' | 'continuous-repeat-dispensing';

export interface OrderSpec {
  /** The step's name: every id of the message derives from it. */
  name: string;
  nhs: string;
  prescriber: { userId: string; name: string; org: string };
  pharmacy: string;
  medicines: MedicineName[];
  course?: Course;
  repeats?: number;
  intervalDays?: number;
  validityStart: string;
  validityEnd?: string;
}

export interface OrderIds {
  shortFormId: string;
  longFormId: string;
  items: string[];
}

/** The MOD 37-2 check character EPS puts at the end of a short-form prescription ID. */
function checkCharacter(body: string): string {
  let total = 0;
  for (const ch of body.replace(/-/g, '')) total = ((total + SYMBOLS.indexOf(ch)) * 2) % 37;
  return SYMBOLS[(38 - total) % 37];
}

/** A short-form ID `RRRRRR-OOOOOO-SSSSSC` whose random parts come from the step's name. */
export function demoShortFormId(name: string, prescriberOds: string): string {
  const hex = demoUuid(`short-form:${name}`).replace(/-/g, '').toUpperCase();
  const body = `${hex.slice(0, 6)}-${prescriberOds.padStart(6, '0').slice(-6)}-${hex.slice(6, 11)}`;
  return body + checkCharacter(body);
}

const urn = (name: string) => `urn:uuid:${demoUuid(name)}`;

export function orderIds(spec: OrderSpec): OrderIds {
  return {
    shortFormId: demoShortFormId(spec.name, spec.prescriber.org),
    longFormId: demoUuid(`${spec.name}:long-form`),
    items: spec.medicines.map((_, i) => demoUuid(`${spec.name}:item:${i}`)),
  };
}

/** A prescription-order message (unsigned: $prepare gives the digest to sign). */
export function orderMessage(spec: OrderSpec): Record<string, any> {
  const ids = orderIds(spec);
  const course = spec.course ?? 'acute';
  const patientUrl = urn(`${spec.name}:patient`);
  const roleUrl = urn(`${spec.name}:role`);
  const practitionerUrl = urn(`${spec.name}:practitioner`);
  const orgUrl = urn(`${spec.name}:organisation`);
  const requests = spec.medicines.map((m, i) => {
    const medicine = MEDICINES[m];
    return {
      fullUrl: `urn:uuid:${ids.items[i]}`,
      resource: {
        resourceType: 'MedicationRequest',
        identifier: [{ system: ORDER_ITEM, value: ids.items[i] }],
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: {
          coding: [{ system: SNOMED, code: medicine.code, display: medicine.display }],
        },
        subject: { reference: patientUrl },
        requester: { reference: roleUrl },
        groupIdentifier: {
          system: ORDER_NUMBER,
          value: ids.shortFormId,
          extension: [
            {
              url: PRESCRIPTION_ID_URL,
              valueIdentifier: {
                system: 'https://fhir.nhs.uk/Id/prescription',
                value: ids.longFormId,
              },
            },
          ],
        },
        courseOfTherapyType: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy',
              code: course,
            },
          ],
        },
        dosageInstruction: [{ text: medicine.dosage }],
        dispenseRequest: {
          validityPeriod: {
            start: spec.validityStart,
            ...(spec.validityEnd ? { end: spec.validityEnd } : {}),
          },
          quantity: { value: medicine.quantity, unit: medicine.unit },
          ...(course === 'continuous-repeat-dispensing'
            ? {
                numberOfRepeatsAllowed: spec.repeats ?? 2,
                expectedSupplyDuration: {
                  value: spec.intervalDays ?? 28,
                  unit: 'day',
                  system: 'http://unitsofmeasure.org',
                  code: 'd',
                },
              }
            : {}),
          performer: { identifier: { system: ODS_SYSTEM, value: spec.pharmacy } },
        },
        substitution: { allowedBoolean: false },
      },
    };
  });
  return {
    resourceType: 'Bundle',
    identifier: { system: RFC4122, value: demoUuid(`${spec.name}:message`) },
    type: 'message',
    entry: [
      {
        fullUrl: urn(`${spec.name}:header`),
        resource: {
          resourceType: 'MessageHeader',
          eventCoding: { system: MESSAGE_EVENT, code: 'prescription-order' },
          destination: [
            {
              endpoint: `urn:nhs-uk:addressing:ods:${spec.pharmacy}`,
              receiver: { identifier: { system: ODS_SYSTEM, value: spec.pharmacy } },
            },
          ],
          sender: { identifier: { system: ODS_SYSTEM, value: spec.prescriber.org } },
          source: { endpoint: `urn:nhs-uk:addressing:ods:${spec.prescriber.org}` },
          focus: [...requests.map((r) => ({ reference: r.fullUrl })), { reference: patientUrl }],
        },
      },
      ...requests,
      {
        fullUrl: patientUrl,
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: NHS_NUMBER_SYSTEM, value: spec.nhs }],
        },
      },
      {
        fullUrl: roleUrl,
        resource: {
          resourceType: 'PractitionerRole',
          practitioner: { reference: practitionerUrl },
          organization: { reference: orgUrl },
          code: [
            {
              coding: [
                {
                  system: 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode',
                  code: 'R8000',
                },
              ],
            },
          ],
        },
      },
      {
        fullUrl: practitionerUrl,
        resource: {
          resourceType: 'Practitioner',
          identifier: [
            { system: 'https://fhir.nhs.uk/Id/sds-user-id', value: spec.prescriber.userId },
          ],
          name: [{ text: spec.prescriber.name }],
        },
      },
      {
        fullUrl: orgUrl,
        resource: {
          resourceType: 'Organization',
          identifier: [{ system: ODS_SYSTEM, value: spec.prescriber.org }],
        },
      },
    ],
  };
}

/** The order with the prescriber's signature (a compact JWS over the $prepare digest) added. */
export function signedMessage(order: Record<string, any>, jws: string, when: string): any {
  const signed = structuredClone(order);
  const role = signed.entry.find((e: any) => e.resource.resourceType === 'PractitionerRole');
  signed.entry.push({
    fullUrl: urn(`${order.identifier.value}:provenance`),
    resource: {
      resourceType: 'Provenance',
      target: [{ reference: signed.entry[1].fullUrl }],
      recorded: when,
      agent: [{ who: { reference: role.fullUrl } }],
      signature: [
        {
          type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' }],
          when,
          who: { reference: role.fullUrl },
          data: Buffer.from(jws).toString('base64'),
        },
      ],
    },
  });
  return signed;
}

/** A prescription-order-update cancelling every item (reason 0001: prescribing error). */
export function cancellationMessage(signed: Record<string, any>, name: string): any {
  const bundle = structuredClone(signed);
  bundle.identifier.value = demoUuid(`${name}:cancel`);
  bundle.entry = bundle.entry.filter((e: any) => e.resource.resourceType !== 'Provenance');
  bundle.entry[0].resource.eventCoding.code = 'prescription-order-update';
  for (const e of bundle.entry) {
    if (e.resource.resourceType !== 'MedicationRequest') continue;
    e.resource.status = 'cancelled';
    e.resource.statusReason = {
      coding: [
        {
          system: 'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason',
          code: '0001',
        },
      ],
    };
  }
  return bundle;
}

/** Dispensing outcome of an item: 0001 dispensed, 0002 not dispensed, 0003 partial, 0004 owing. */
export interface ItemOutcome {
  item: string;
  code: '0001' | '0002' | '0003' | '0004';
  quantity: number;
  reason?: string;
}

export function dispenseNotification(
  name: string,
  ids: OrderIds,
  nhs: string,
  pharmacy: string,
  outcomes: ItemOutcome[],
  when: string,
): any {
  const patientUrl = urn(`${name}:dn-patient`);
  return {
    resourceType: 'Bundle',
    type: 'message',
    identifier: { system: RFC4122, value: demoUuid(`${name}:dn`) },
    entry: [
      {
        fullUrl: urn(`${name}:dn-header`),
        resource: {
          resourceType: 'MessageHeader',
          eventCoding: { system: MESSAGE_EVENT, code: 'dispense-notification' },
          source: { endpoint: `urn:nhs-uk:addressing:ods:${pharmacy}` },
        },
      },
      {
        fullUrl: patientUrl,
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: NHS_NUMBER_SYSTEM, value: nhs }],
        },
      },
      ...outcomes.map((o, i) => ({
        fullUrl: urn(`${name}:dn-item:${i}`),
        resource: {
          resourceType: 'MedicationDispense',
          status: o.code === '0002' ? 'declined' : 'completed',
          contained: [
            {
              resourceType: 'MedicationRequest',
              id: 'm1',
              status: 'active',
              intent: 'order',
              identifier: [{ system: ORDER_ITEM, value: o.item }],
              groupIdentifier: {
                system: ORDER_NUMBER,
                value: ids.shortFormId,
                extension: [
                  {
                    url: PRESCRIPTION_ID_URL,
                    valueIdentifier: {
                      system: 'https://fhir.nhs.uk/Id/prescription',
                      value: ids.longFormId,
                    },
                  },
                ],
              },
            },
          ],
          authorizingPrescription: [{ reference: '#m1' }],
          type: {
            coding: [
              { system: 'https://fhir.nhs.uk/CodeSystem/medicationdispense-type', code: o.code },
            ],
          },
          ...(o.reason
            ? {
                statusReasonCodeableConcept: {
                  coding: [
                    {
                      system: 'https://fhir.nhs.uk/CodeSystem/medicationdispense-status-reason',
                      code: o.reason,
                    },
                  ],
                },
              }
            : {}),
          subject: { reference: patientUrl },
          quantity: { value: o.quantity },
          whenHandedOver: when,
        },
      })),
    ],
  };
}

export function claim(name: string, ids: OrderIds, nhs: string): any {
  return {
    resourceType: 'Claim',
    identifier: [{ system: RFC4122, value: demoUuid(`${name}:claim`) }],
    status: 'active',
    patient: { identifier: { system: NHS_NUMBER_SYSTEM, value: nhs } },
    prescription: { identifier: { system: ORDER_NUMBER, value: ids.shortFormId } },
    item: ids.items.map((item, i) => ({
      sequence: i + 1,
      extension: [
        {
          url: 'https://fhir.nhs.uk/StructureDefinition/Extension-ClaimMedicationRequestReference',
          valueReference: { identifier: { system: ORDER_ITEM, value: item } },
        },
      ],
      modifier: [
        {
          coding: [
            {
              system: 'https://fhir.nhs.uk/CodeSystem/medicationdispense-endorsement',
              code: 'NDEC',
            },
          ],
        },
      ],
    })),
  };
}

const groupIdentifier = (shortFormId: string) => ({
  name: 'group-identifier',
  valueIdentifier: { system: ORDER_NUMBER, value: shortFormId },
});

export const releaseParameters = (shortFormId: string) => ({
  resourceType: 'Parameters',
  parameter: [{ name: 'status', valueCode: 'accepted' }, groupIdentifier(shortFormId)],
});

export const returnParameters = (shortFormId: string) => ({
  resourceType: 'Parameters',
  parameter: [
    groupIdentifier(shortFormId),
    {
      name: 'reason',
      valueCoding: { code: '0002', display: 'Unable to dispense medication on prescriptions' },
    },
  ],
});

export const withdrawParameters = (shortFormId: string) => ({
  resourceType: 'Parameters',
  parameter: [
    groupIdentifier(shortFormId),
    { name: 'reason', valueCoding: { code: 'MU', display: 'Medication Update' } },
  ],
});
