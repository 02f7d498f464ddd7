import type { Address, HumanName, Patient, RelatedPerson } from 'fhir/r4.js';
import { resourceType } from '../../store/resource-store.js';

/** Facts about PDS Patient documents shared by indexing, search, rules and presentation. */

export const SECURITY_LABEL_SYSTEM = 'https://www.hl7.org/fhir/valueset-security-labels.html';
export const DEATH_NOTIFICATION_URL =
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-DeathNotificationStatus';
export const PATIENT = resourceType<Patient>('Patient');
export const RELATED_PERSON = resourceType<RelatedPerson>('RelatedPerson');

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** A period is current when it has not ended (an end date in the future still counts). */
function isCurrentPeriod(period: { end?: string } | undefined, on = today()): boolean {
  return !period?.end || period.end.slice(0, 10) >= on;
}

export function isCurrentName(name: HumanName, on = today()): boolean {
  return name.use !== 'old' && isCurrentPeriod(name.period, on);
}

export function isCurrentAddress(address: Address, on = today()): boolean {
  return address.use !== 'old' && isCurrentPeriod(address.period, on);
}

export function currentUsualName(patient: Patient): HumanName | undefined {
  const names = patient.name ?? [];
  return (
    names.find((n) => n.use === 'usual' && isCurrentName(n)) ??
    names.find((n) => isCurrentName(n)) ??
    names[0]
  );
}

/** Security label U (unrestricted), R (restricted) or V (very restricted); REDACTED records are invalidated. */
export function confidentiality(patient: Patient): string {
  return patient.meta?.security?.[0]?.code ?? 'U';
}

export function isRestricted(patient: Patient): boolean {
  const code = confidentiality(patient);
  return code === 'R' || code === 'V';
}

export function isInvalidated(patient: Patient): boolean {
  return confidentiality(patient) === 'REDACTED';
}

/** The NHS Number that replaced this one in a merge, if any. */
export function replacedBy(patient: Patient): string | undefined {
  const link = patient.link?.find((l) => l.type === 'replaced-by');
  return link?.other?.identifier?.value ?? link?.other?.reference?.split('/').pop();
}

export function gpOdsCode(patient: Patient): string | undefined {
  return patient.generalPractitioner?.[0]?.identifier?.value;
}

export function hasFormalDeathNotice(patient: Patient): boolean {
  const ext = patient.extension?.find((e) => e.url === DEATH_NOTIFICATION_URL);
  const status = ext?.extension?.find((e) => e.url === 'deathNotificationStatus');
  return status?.valueCodeableConcept?.coding?.some((c) => c.code === '2') ?? false;
}
