import type {
  AllergyIntolerance,
  MedicationRequest,
  MedicationStatement,
  Patient,
} from 'fhir/r4.js';
import type { AuditRecord } from '../../audit/types.js';
import { resourceType, type IndexEntry, type ResourceWrite } from '../../store/resource-store.js';
import {
  DEATH_NOTIFICATION_URL,
  indexPatient,
  PATIENT,
  SECURITY_LABEL_SYSTEM,
} from '../pds/index.js';
import type { CleanPatient } from './legacy-clean.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/** Clean legacy values as FHIR R4 resources in the shapes PDS and the clinical services hold. */

const EXT = 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-';
const ODS_DIRECTORY = 'https://directory.spineservices.nhs.uk/STU3/Organization/';
/** The old system's own codes travel under a code system that says so, not under SNOMED. */
export const LEGACY_SUBSTANCE_SYSTEM = 'https://openspine.dev/CodeSystem/legacy-substance';
export const LEGACY_DRUG_SYSTEM = 'https://openspine.dev/CodeSystem/legacy-drug';
export const ALLERGY = resourceType<AllergyIntolerance>('AllergyIntolerance');
export const MEDICATION_STATEMENT = resourceType<MedicationStatement>('MedicationStatement');
export const MEDICATION_REQUEST = resourceType<MedicationRequest>('MedicationRequest');
/** Resource types the migration writes, with the legacy table behind each. */
export const CLINICAL_TYPES = [ALLERGY, MEDICATION_STATEMENT, MEDICATION_REQUEST] as const;

export const allergyId = (key: string) => `lgcy-alg-${key}`;
export const medicationId = (key: string) => `lgcy-med-${key}`;
export const prescriptionId = (key: string) => `lgcy-rx-${key}`;

const period = (start: string | null, end: string | null) =>
  end ? { start: start ?? undefined, end } : start ? { start } : undefined;
const patientRef = (nhs: string) => ({
  reference: `Patient/${nhs}`,
  identifier: { system: NHS_NUMBER_SYSTEM, value: nhs },
});
/** Drops undefined members in place (as JSON would), without a stringify/parse round trip per resource. */
function strip<T extends object>(o: T): T {
  for (const k of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[k];
    if (v === undefined) delete (o as Record<string, unknown>)[k];
    else if (v !== null && typeof v === 'object') strip(v as object);
  }
  return o;
}

export function legacyPatient(c: CleanPatient): Patient {
  const p: Patient = {
    resourceType: 'Patient',
    id: c.nhs,
    identifier: [{ system: NHS_NUMBER_SYSTEM, value: c.nhs }],
    meta: {
      security: [
        c.restricted
          ? { system: SECURITY_LABEL_SYSTEM, code: 'R', display: 'restricted' }
          : { system: SECURITY_LABEL_SYSTEM, code: 'U', display: 'unrestricted' },
      ],
    },
    name: c.names.map((n) => ({
      id: n.key,
      use: n.use as 'usual',
      period: period(n.start, n.end),
      given: n.given.length ? n.given : undefined,
      family: n.family,
      prefix: n.title ? [n.title] : undefined,
    })),
    gender: c.gender as Patient['gender'],
    birthDate: c.birthDate,
    deceasedDateTime: c.deceased ?? undefined,
    address: c.addresses.map((a) => ({
      id: a.key,
      period: period(a.start, a.end),
      use: 'home' as const,
      line: a.lines,
      postalCode: a.postcode ?? undefined,
    })),
    telecom: c.contacts.map((t) => ({
      id: t.key,
      system: t.system as 'phone',
      value: t.value,
      use: (t.use ?? undefined) as 'home',
    })),
    generalPractitioner: c.gps.length
      ? c.gps.map((g) => ({
          id: g.key,
          type: 'Organization',
          identifier: {
            system: ODS_SYSTEM,
            value: g.ods,
            period: g.start ? { start: g.start } : undefined,
          },
        }))
      : undefined,
  };
  const ext = [];
  if (c.pharmacy)
    ext.push({
      url: EXT + 'NominatedPharmacy',
      valueReference: {
        reference: ODS_DIRECTORY + c.pharmacy,
        identifier: { system: ODS_SYSTEM, value: c.pharmacy },
      },
    });
  if (c.formalDeathNotice) {
    ext.push({
      url: DEATH_NOTIFICATION_URL,
      extension: [
        {
          url: 'deathNotificationStatus',
          valueCodeableConcept: {
            coding: [
              {
                system: 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-DeathNotificationStatus',
                version: '1.0.0',
                code: '2',
                display: 'Formal - death notice received from Registrar of Deaths',
              },
            ],
          },
        },
      ],
    });
  }
  if (ext.length) p.extension = ext;
  const link = [
    ...(c.supersededBy
      ? [{ type: 'replaced-by' as const, other: patientRef(c.supersededBy) }]
      : []),
    ...c.replaces.map((n) => ({ type: 'replaces' as const, other: patientRef(n) })),
  ];
  if (link.length) p.link = link;
  return strip(p);
}

export function legacyAllergies(c: CleanPatient): AllergyIntolerance[] {
  return c.allergies.map((a) =>
    strip({
      resourceType: 'AllergyIntolerance' as const,
      id: allergyId(a.key),
      patient: patientRef(c.nhs),
      code: {
        coding: [{ system: LEGACY_SUBSTANCE_SYSTEM, code: a.code, display: a.name }],
        text: a.name,
      },
      recordedDate: a.recorded ?? undefined,
      reaction: a.reaction
        ? [{ manifestation: [{ text: a.reaction }], severity: (a.severity ?? undefined) as 'mild' }]
        : undefined,
    }),
  );
}

export function legacyMedications(c: CleanPatient): MedicationStatement[] {
  return c.medications.map((m) =>
    strip({
      resourceType: 'MedicationStatement' as const,
      id: medicationId(m.key),
      subject: patientRef(c.nhs),
      status: m.status as 'active',
      medicationCodeableConcept: {
        coding: [{ system: LEGACY_DRUG_SYSTEM, code: m.code, display: m.name }],
        text: m.name,
      },
      effectivePeriod: m.started ? { start: m.started } : undefined,
      dosage: m.dosage ? [{ text: m.dosage }] : undefined,
    }),
  );
}

const RX_STATUS: Record<string, MedicationRequest['status']> = {
  issued: 'active',
  dispensed: 'completed',
  cancelled: 'cancelled',
};

export function legacyPrescriptions(c: CleanPatient): MedicationRequest[] {
  return c.prescriptions.map((p) =>
    strip({
      resourceType: 'MedicationRequest' as const,
      id: prescriptionId(p.key),
      subject: patientRef(c.nhs),
      status: RX_STATUS[p.status] ?? 'unknown',
      intent: 'order' as const,
      medicationCodeableConcept: {
        coding: [{ system: LEGACY_DRUG_SYSTEM, code: p.code, display: p.name }],
        text: p.name,
      },
      basedOn: p.medicationKey
        ? [{ reference: `MedicationStatement/${medicationId(p.medicationKey)}` }]
        : undefined,
      authoredOn: p.issued ?? undefined,
      requester: p.prescriber
        ? { identifier: { system: ODS_SYSTEM, value: p.prescriber } }
        : undefined,
      dispenseRequest:
        p.quantity !== null ? { quantity: { value: p.quantity, unit: 'dose' } } : undefined,
      note: [{ text: `legacy status: ${p.status}` }],
    }),
  );
}

/** A legacy audit row as an entry in the target's hash-chained audit log. */
export function legacyAudit(c: CleanPatient, runId: string): AuditRecord[] {
  return c.audit.map((a) => ({
    time: a.time,
    requestId: `migration-${runId}`,
    userId: a.userId,
    role: 'legacy',
    org: 'LEGACY',
    patient: c.nhs,
    action: `legacy.${a.action.toLowerCase()}`,
    outcome: 'success',
    type: 'patient-record',
    purpose: 'direct-care',
    detail: { legacyAuditId: a.key },
  }));
}

const byPatient = (nhs: string): IndexEntry[] => [{ param: 'patient', value: nhs }];

/** Every resource write for one clean patient (all new: the checkpoint says they were never written). */
export function patientWrites(c: CleanPatient): ResourceWrite[] {
  const patient = legacyPatient(c);
  const writes: ResourceWrite[] = [
    {
      type: PATIENT,
      id: c.nhs,
      expectedVersion: 0,
      resource: patient,
      index: indexPatient(patient),
    },
  ];
  for (const r of legacyAllergies(c))
    writes.push({
      type: ALLERGY,
      id: r.id!,
      expectedVersion: 0,
      resource: r,
      index: byPatient(c.nhs),
    });
  for (const r of legacyMedications(c))
    writes.push({
      type: MEDICATION_STATEMENT,
      id: r.id!,
      expectedVersion: 0,
      resource: r,
      index: byPatient(c.nhs),
    });
  for (const r of legacyPrescriptions(c))
    writes.push({
      type: MEDICATION_REQUEST,
      id: r.id!,
      expectedVersion: 0,
      resource: r,
      index: byPatient(c.nhs),
    });
  return writes;
}
