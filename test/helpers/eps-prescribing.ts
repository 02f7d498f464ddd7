/**
 * Test helpers for EPS: patients on PDS (with a GP and, optionally, a nominated pharmacy),
 * prescriber keys, prescription-order messages built from the published example, signing over the
 * $prepare digest, and the dispensing messages (dispense notification, claim, cancellation).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CompactSign, exportJWK, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose';
import type { Patient } from 'fhir/r4.js';
import { nhsNumberFromStem } from '../../src/fhir/nhs-number.js';
import { indexPatient } from '../../src/services/pds/patient-index.js';
import { addPrescriberKey } from '../../src/services/eps/prescriber-keys.js';
import type { Repository } from '../../src/store/repository.js';

export const EPS = '/electronic-prescriptions/FHIR/R4';
export const GP_ORG = 'A83008';
export const PHARMACY = 'FLE79';
export const OTHER_PHARMACY = 'FCX22';
const FIXTURES = new URL('../fixtures/eps/', import.meta.url);
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';

let stem = 900_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
/** A fresh valid NHS Number for each call (a stem that gives no check digit is skipped). */
export function nextNhsNumber(): string {
  for (;;) {
    const n = nhsNumberFromStem(String(stem++).padStart(9, '0'));
    if (n) return n;
  }
}

export interface PatientOptions {
  nominated?: string | null;
  gp?: string;
  replacedBy?: string;
}

/** Writes a PDS Patient registered with `gp` (A83008) and nominating `nominated` (FLE79 unless null). */
export async function addPatient(repo: Repository, opts: PatientOptions = {}): Promise<string> {
  const nhs = nextNhsNumber();
  const nominated = opts.nominated === undefined ? PHARMACY : opts.nominated;
  const patient: Patient = {
    resourceType: 'Patient',
    id: nhs,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
    name: [{ use: 'usual', family: 'Testpatient', given: ['Eps'] }],
    gender: 'female',
    birthDate: '1970-01-01',
    generalPractitioner: [
      { type: 'Organization', identifier: { system: ODS, value: opts.gp ?? GP_ORG } },
    ],
    ...(nominated
      ? {
          extension: [
            {
              url: 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy',
              valueReference: { identifier: { system: ODS, value: nominated } },
            },
          ],
        }
      : {}),
    ...(opts.replacedBy
      ? {
          link: [
            {
              type: 'replaced-by',
              other: {
                identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: opts.replacedBy },
              },
            },
          ] as Patient['link'],
        }
      : {}),
  };
  await repo.commit({
    resources: [
      {
        type: 'Patient',
        id: nhs,
        expectedVersion: 0,
        resource: patient,
        index: indexPatient(patient),
      },
    ],
  });
  return nhs;
}

export interface PrescriberKeyPair {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newKeyPair(alg: 'ES256' | 'RS256' = 'ES256'): Promise<PrescriberKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    kid: await calculateJwkThumbprint(publicJwk),
    alg,
    privateKey: privateKey as CryptoKey,
    publicJwk,
  };
}

/** A key pair registered to the user. */
export async function registeredKey(
  repo: Repository,
  userId: string,
  alg: 'ES256' | 'RS256' = 'ES256',
): Promise<PrescriberKeyPair> {
  const pair = await newKeyPair(alg);
  await addPrescriberKey(repo, userId, pair.publicJwk);
  return pair;
}

export interface OrderOptions {
  nhsNumber: string;
  items?: number;
  type?: 'acute' | 'continuous' | 'continuous-repeat-dispensing';
  repeats?: number;
  intervalDays?: number;
  validityStart?: string;
  validityEnd?: string;
  /** Leave the prescription ids out, for $prepare to assign. */
  withoutIds?: boolean;
  shortFormId?: string;
  longFormId?: string;
}

const template = JSON.parse(
  readFileSync(new URL('prescription-order.Bundle.json', FIXTURES), 'utf8'),
);

/** A prescription-order message from the published example, for this patient, with fresh ids. */
export function orderBundle(o: OrderOptions): any {
  const bundle = structuredClone(template);
  bundle.identifier.value = randomUUID();
  const requests = bundle.entry.filter((e: any) => e.resource.resourceType === 'MedicationRequest');
  const keep = requests.slice(0, o.items ?? 2);
  bundle.entry = bundle.entry.filter(
    (e: any) => e.resource.resourceType !== 'MedicationRequest' || keep.includes(e),
  );
  bundle.entry[0].resource.focus = bundle.entry
    .slice(1)
    .map((e: any) => ({ reference: e.fullUrl }));
  const patient = bundle.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
  patient.identifier[0].value = o.nhsNumber;
  for (const { resource: r } of keep) {
    r.identifier[0].value = randomUUID();
    if (o.withoutIds) delete r.groupIdentifier;
    else {
      r.groupIdentifier.value = o.shortFormId ?? r.groupIdentifier.value;
      r.groupIdentifier.extension[0].valueIdentifier.value =
        o.longFormId ?? r.groupIdentifier.extension[0].valueIdentifier.value;
    }
    const type = o.type ?? 'acute';
    r.courseOfTherapyType.coding[0].code = type;
    r.dispenseRequest.validityPeriod = {
      start: o.validityStart ?? new Date().toISOString().slice(0, 10),
      ...(o.validityEnd ? { end: o.validityEnd } : {}),
    };
    if (type === 'continuous-repeat-dispensing') {
      r.dispenseRequest.numberOfRepeatsAllowed = o.repeats ?? 2;
      r.dispenseRequest.expectedSupplyDuration = {
        value: o.intervalDays ?? 28,
        unit: 'day',
        system: 'http://unitsofmeasure.org',
        code: 'd',
      };
    }
  }
  return bundle;
}

/** The Provenance entry carrying the signature. */
export function withSignature(bundle: any, jws: string): any {
  const signed = structuredClone(bundle);
  signed.entry.push({
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: {
      resourceType: 'Provenance',
      target: [{ reference: signed.entry[1].fullUrl }],
      recorded: new Date().toISOString(),
      agent: [
        {
          who: {
            reference: signed.entry.find((e: any) => e.resource.resourceType === 'PractitionerRole')
              .fullUrl,
          },
        },
      ],
      signature: [
        {
          type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' }],
          when: new Date().toISOString(),
          who: {
            reference: signed.entry.find((e: any) => e.resource.resourceType === 'PractitionerRole')
              .fullUrl,
          },
          data: Buffer.from(jws).toString('base64'),
        },
      ],
    },
  });
  return signed;
}

export async function signDigest(key: PrescriberKeyPair, digest: string): Promise<string> {
  return new CompactSign(new TextEncoder().encode(digest))
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .sign(key.privateKey);
}

/** Ids of an order message: short form, long form, item ids. */
export function orderIds(bundle: any): {
  shortFormId: string;
  longFormId: string;
  items: string[];
} {
  const requests = bundle.entry
    .filter((e: any) => e.resource.resourceType === 'MedicationRequest')
    .map((e: any) => e.resource);
  return {
    shortFormId: requests[0].groupIdentifier.value,
    longFormId: requests[0].groupIdentifier.extension[0].valueIdentifier.value,
    items: requests.map((r: any) => r.identifier[0].value),
  };
}

export type ItemOutcome = {
  item: string;
  code: '0001' | '0002' | '0003' | '0004';
  quantity: number;
  reason?: string;
};

/** A dispense-notification message reporting these item outcomes. */
export function dispenseNotification(
  ids: { shortFormId: string; longFormId: string },
  nhsNumber: string,
  outcomes: ItemOutcome[],
  messageId: string = randomUUID(),
): any {
  const patientUrl = `urn:uuid:${randomUUID()}`;
  return {
    resourceType: 'Bundle',
    type: 'message',
    identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: messageId },
    entry: [
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'MessageHeader',
          eventCoding: {
            system: 'https://fhir.nhs.uk/CodeSystem/message-event',
            code: 'dispense-notification',
          },
          source: { endpoint: 'urn:nhs-uk:addressing:ods:' + PHARMACY },
        },
      },
      {
        fullUrl: patientUrl,
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhsNumber }],
        },
      },
      ...outcomes.map((o) => ({
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'MedicationDispense',
          status: o.code === '0002' ? 'declined' : 'completed',
          contained: [
            {
              resourceType: 'MedicationRequest',
              id: 'm1',
              status: 'active',
              intent: 'order',
              identifier: [
                { system: 'https://fhir.nhs.uk/Id/prescription-order-item-number', value: o.item },
              ],
              groupIdentifier: {
                system: 'https://fhir.nhs.uk/Id/prescription-order-number',
                value: ids.shortFormId,
                extension: [
                  {
                    url: 'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId',
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
          medicationCodeableConcept: {
            coding: [{ system: 'http://snomed.info/sct', code: '39720311000001101' }],
          },
          subject: { reference: patientUrl },
          quantity: { value: o.quantity },
          whenHandedOver: new Date().toISOString(),
        },
      })),
    ],
  };
}

export function claimResource(
  shortFormId: string,
  nhsNumber: string,
  items: string[],
  claimId: string = randomUUID(),
): any {
  return {
    resourceType: 'Claim',
    identifier: [{ system: 'https://tools.ietf.org/html/rfc4122', value: claimId }],
    status: 'active',
    patient: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhsNumber } },
    prescription: {
      identifier: {
        system: 'https://fhir.nhs.uk/Id/prescription-order-number',
        value: shortFormId,
      },
    },
    item: items.map((item, i) => ({
      sequence: i + 1,
      extension: [
        {
          url: 'https://fhir.nhs.uk/StructureDefinition/Extension-ClaimMedicationRequestReference',
          valueReference: {
            identifier: {
              system: 'https://fhir.nhs.uk/Id/prescription-order-item-number',
              value: item,
            },
          },
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

/** A prescription-order-update cancelling items of the prescription. */
export function cancellation(order: any, items?: string[], reason = '0001'): any {
  const bundle = structuredClone(order);
  bundle.identifier.value = randomUUID();
  bundle.entry = bundle.entry.filter((e: any) => e.resource.resourceType !== 'Provenance');
  bundle.entry[0].resource.eventCoding.code = 'prescription-order-update';
  bundle.entry = bundle.entry.filter(
    (e: any) =>
      e.resource.resourceType !== 'MedicationRequest' ||
      !items ||
      items.includes(e.resource.identifier[0].value),
  );
  for (const e of bundle.entry) {
    if (e.resource.resourceType !== 'MedicationRequest') continue;
    e.resource.status = 'cancelled';
    e.resource.statusReason = {
      coding: [
        { system: 'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason', code: reason },
      ],
    };
  }
  return bundle;
}
