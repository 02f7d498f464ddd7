import { FhirError } from '../../fhir/errors.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { currentPatient, isInvalidated } from '../pds/index.js';

/**
 * The NHS Number choices are recorded under: the patient's own, or the survivor's when the number
 * was superseded in a merge (a choice made under an old number must follow the patient). Unknown
 * or invalidated patients are a 404, so nothing is recorded against a number PDS does not hold.
 */
export async function resolvePatient(repo: ResourceStore, nhs: string): Promise<string> {
  const stored = await currentPatient(repo, nhs);
  if (!stored) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Patient '${nhs}' not found`);
  if (isInvalidated(stored.resource))
    throw new FhirError(404, 'INVALIDATED_RESOURCE', `Patient '${nhs}' has been invalidated`);
  return stored.id;
}
