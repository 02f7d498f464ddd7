import type { Patient } from 'fhir/r4.js';

/**
 * The ODS code of the practice the patient is registered with now: the PDS record's GP, unless its
 * registration period ended before `today` (YYYY-MM-DD; the end day itself still counts).
 */
export function registeredPractice(
  patient: Pick<Patient, 'generalPractitioner'>,
  today = new Date().toISOString().slice(0, 10),
): string | undefined {
  const gp = patient.generalPractitioner?.[0]?.identifier;
  const end = gp?.period?.end;
  return end && end.slice(0, 10) < today ? undefined : gp?.value;
}
