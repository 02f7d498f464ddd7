import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import type { Repository } from '../../store/types.js';
import { isInvalidated, PATIENT, replacedBy } from '../pds/patient-model.js';

const MAX_SUPERSESSION_HOPS = 5;

/**
 * The NHS Number choices are recorded under: the patient's own, or the survivor's when the number
 * was superseded in a merge (a choice made under an old number must follow the patient). Unknown
 * or invalidated patients are a 404, so nothing is recorded against a number PDS does not hold.
 */
export async function resolvePatient(repo: Repository, nhs: string): Promise<string> {
  let stored = await repo.read(PATIENT, nhs);
  for (let hop = 0; stored && replacedBy(stored.resource as Patient) && hop < MAX_SUPERSESSION_HOPS; hop++) {
    stored = await repo.read(PATIENT, replacedBy(stored.resource as Patient)!);
  }
  if (!stored) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Patient '${nhs}' not found`);
  if (isInvalidated(stored.resource as Patient)) throw new FhirError(404, 'INVALIDATED_RESOURCE', `Patient '${nhs}' has been invalidated`);
  return stored.id;
}
