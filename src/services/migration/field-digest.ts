import { createHash } from 'node:crypto';
import type {
  AllergyIntolerance,
  MedicationRequest,
  MedicationStatement,
  Patient,
} from 'fhir/r4.js';
import type { AuditEntry } from '../../audit/types.js';
import { DEATH_NOTIFICATION_URL } from '../pds/index.js';
import type { CleanPatient } from './legacy-clean.js';
import type { LegacyTable } from './legacy-schema.js';

/**
 * An order-independent digest of every migrated field: each row becomes a canonical tuple of its
 * field values, the tuple is hashed, and the hashes are added modulo 2^128 (a sum, not an XOR, so
 * a duplicated row changes the digest). The legacy side builds tuples from the cleaned rows; the
 * target side extracts them from the stored FHIR resources and audit entries, by separate code.
 */
const MOD = 1n << 128n;

export class Digest {
  sum = 0n;
  count = 0;
  add(tuple: unknown[]): void {
    const h = createHash('sha256')
      .update(JSON.stringify(tuple.map((v) => (v === undefined ? null : v))))
      .digest();
    this.sum = (this.sum + h.readBigUInt64BE(0) * (1n << 64n) + h.readBigUInt64BE(8)) % MOD;
    this.count++;
  }
  hex(): string {
    return this.sum.toString(16).padStart(32, '0');
  }
}

export type Digests = Record<LegacyTable, Digest>;
export const newDigests = (tables: readonly LegacyTable[]): Digests =>
  Object.fromEntries(tables.map((t) => [t, new Digest()])) as Digests;

/** Legacy side: the tuples of one clean patient, table by table. */
export function addLegacyTuples(d: Digests, c: CleanPatient): void {
  d.patients.add([
    c.nhs,
    c.gender,
    c.birthDate,
    c.deceased,
    c.formalDeathNotice,
    c.restricted,
    c.pharmacy,
    c.supersededBy,
    [...c.replaces].sort().join(','),
  ]);
  for (const n of c.names)
    d.patient_names.add([
      c.nhs,
      n.key,
      n.use,
      n.title,
      n.given.join(' '),
      n.family,
      n.start,
      n.end,
    ]);
  for (const a of c.addresses)
    d.addresses.add([c.nhs, a.key, a.lines.join('|'), a.postcode, a.start, a.end]);
  for (const t of c.contacts) d.contacts.add([c.nhs, t.key, t.system, t.use, t.value]);
  for (const g of c.gps) d.gp_registrations.add([c.nhs, g.key, g.ods, g.start]);
  for (const a of c.allergies)
    d.allergies.add([c.nhs, a.key, a.code, a.name, a.reaction, a.severity, a.recorded]);
  for (const m of c.medications)
    d.medications.add([c.nhs, m.key, m.code, m.name, m.dosage, m.started, m.status]);
  for (const p of c.prescriptions)
    d.prescriptions.add([
      c.nhs,
      p.key,
      p.medicationKey,
      p.code,
      p.name,
      p.quantity,
      p.prescriber,
      p.issued,
      p.status,
    ]);
  for (const a of c.audit)
    d.audit_log.add([c.nhs, a.key, a.userId, `legacy.${a.action.toLowerCase()}`, a.time]);
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const keyOf = (id: string | undefined, prefix: string) => (id ?? '').slice(prefix.length);

/** Target side: the tuples of a stored Patient (patients, names, addresses, contacts, GP). */
export function addPatientTuples(d: Digests, p: Patient): void {
  const nhs = p.id!;
  const pharmacy = p.extension?.find((e) => e.url.endsWith('NominatedPharmacy'))?.valueReference
    ?.identifier?.value;
  const death = p.extension
    ?.find((e) => e.url === DEATH_NOTIFICATION_URL)
    ?.extension?.find((e) => e.url === 'deathNotificationStatus');
  const links = p.link ?? [];
  d.patients.add([
    nhs,
    p.gender,
    p.birthDate,
    orNull(p.deceasedDateTime),
    death?.valueCodeableConcept?.coding?.[0]?.code === '2',
    p.meta?.security?.[0]?.code === 'R',
    orNull(pharmacy),
    orNull(links.find((l) => l.type === 'replaced-by')?.other?.identifier?.value),
    links
      .filter((l) => l.type === 'replaces')
      .map((l) => l.other?.identifier?.value)
      .sort()
      .join(','),
  ]);
  for (const n of p.name ?? [])
    d.patient_names.add([
      nhs,
      n.id,
      n.use,
      orNull(n.prefix?.[0]),
      (n.given ?? []).join(' '),
      n.family,
      orNull(n.period?.start),
      orNull(n.period?.end),
    ]);
  for (const a of p.address ?? [])
    d.addresses.add([
      nhs,
      a.id,
      (a.line ?? []).join('|'),
      orNull(a.postalCode),
      orNull(a.period?.start),
      orNull(a.period?.end),
    ]);
  for (const t of p.telecom ?? []) d.contacts.add([nhs, t.id, t.system, orNull(t.use), t.value]);
  for (const g of p.generalPractitioner ?? [])
    d.gp_registrations.add([nhs, g.id, g.identifier?.value, orNull(g.identifier?.period?.start)]);
}

export function addAllergyTuple(d: Digests, a: AllergyIntolerance): void {
  const c = a.code?.coding?.[0];
  d.allergies.add([
    a.patient.identifier?.value,
    keyOf(a.id, 'lgcy-alg-'),
    c?.code,
    c?.display,
    orNull(a.reaction?.[0]?.manifestation?.[0]?.text),
    orNull(a.reaction?.[0]?.severity),
    orNull(a.recordedDate),
  ]);
}

export function addMedicationTuple(d: Digests, m: MedicationStatement): void {
  const c = m.medicationCodeableConcept?.coding?.[0];
  d.medications.add([
    m.subject.identifier?.value,
    keyOf(m.id, 'lgcy-med-'),
    c?.code,
    c?.display,
    orNull(m.dosage?.[0]?.text),
    orNull(m.effectivePeriod?.start),
    m.status,
  ]);
}

export function addPrescriptionTuple(d: Digests, r: MedicationRequest): void {
  const c = r.medicationCodeableConcept?.coding?.[0];
  const based = r.basedOn?.[0]?.reference;
  d.prescriptions.add([
    r.subject.identifier?.value,
    keyOf(r.id, 'lgcy-rx-'),
    based ? keyOf(based, 'MedicationStatement/lgcy-med-') : null,
    c?.code,
    c?.display,
    orNull(r.dispenseRequest?.quantity?.value),
    orNull(r.requester?.identifier?.value),
    orNull(r.authoredOn),
    r.note
      ?.find((n) => n.text.startsWith('legacy status: '))
      ?.text.slice('legacy status: '.length) ?? null,
  ]);
}

export function addAuditTuple(d: Digests, e: AuditEntry): void {
  const r = e.record;
  d.audit_log.add([r.patient, String(r.detail?.legacyAuditId), r.userId, r.action, r.time]);
}
