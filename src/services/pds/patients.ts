import type { Patient } from 'fhir/r4.js';
import { registeredPractice } from '../../fhir/general-practitioner.js';
import { FhirError } from '../../fhir/errors.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { PDS_BASE } from './base-path.js';
import { isInvalidated, isRestricted, PATIENT, replacedBy } from './patient-model.js';

/**
 * The patient port: what PDS answers about "the patient" to every service, so that following a
 * merge, and deciding whether a number names a known and current record, are written once.
 * Other services reach it through src/services/pds/index.ts.
 */

export { isRestricted, registeredPractice };

/** Merges chain (A into B, then B into C); following more links than this is a loop, not a history. */
export const MAX_SUPERSESSION_HOPS = 5;
/** More numbers merged into one record than any real patient has; the search stops here. */
const MAX_MERGED = 100;

/**
 * The record a stored patient leads to: itself, or the survivor of the merges that superseded it.
 * Null when a link leads to a number PDS does not hold. After MAX_SUPERSESSION_HOPS links the
 * record reached is answered as it is (still superseded), so a loop cannot hold a request.
 */
export async function survivingRecord<
  S extends Pick<StoredResource<Patient>, 'resource' | 'version'>,
>(repo: ResourceStore, start: S | null): Promise<S | StoredResource<Patient> | null> {
  let stored: S | StoredResource<Patient> | null = start;
  for (let hop = 0; stored && replacedBy(stored.resource) && hop < MAX_SUPERSESSION_HOPS; hop++) {
    stored = await repo.read(PATIENT, replacedBy(stored.resource)!);
  }
  return stored;
}

/**
 * The record PDS holds under exactly this number, as it is: a record superseded in a merge or
 * invalidated is answered too (an event about it is still about it). Null when PDS holds none.
 */
export async function storedPatient(
  repo: ResourceStore,
  nhs: string,
): Promise<StoredResource<Patient> | null> {
  return repo.read(PATIENT, nhs);
}

/**
 * The record an NHS Number leads to, following merges to the surviving record; null when PDS holds
 * no record there. An invalidated record is answered as it is, for the caller to refuse in its own words.
 */
export async function currentPatient(
  repo: ResourceStore,
  nhs: string,
): Promise<StoredResource<Patient> | null> {
  return survivingRecord(repo, await repo.read(PATIENT, nhs));
}

/**
 * The answers to "the patient must be known and current", one set for every service, worded as
 * PDS publishes them for a read: an unknown number is 404 RESOURCE_NOT_FOUND and an invalidated
 * record 404 INVALIDATED_RESOURCE, both without diagnostics (PDS mocks/stubs/errorResponses/
 * RESOURCE_NOT_FOUND.json, INVALIDATED_RESOURCE.json). PDS itself follows a merge on a read; a
 * service acting on the number as named (a prescription, a summary, a transfer) must not, so a
 * superseded number is refused with 422 PATIENT_SUPERSEDED naming the survivor, with a Location
 * of the surviving record.
 */
export const patientRefusals = {
  unknown: () => new FhirError(404, 'RESOURCE_NOT_FOUND', ''),
  invalidated: () => new FhirError(404, 'INVALIDATED_RESOURCE', ''),
  superseded: (nhs: string, survivor: string) =>
    new FhirError(
      422,
      'PATIENT_SUPERSEDED',
      `NHS Number ${nhs} has been superseded by ${survivor}; use NHS Number ${survivor}`,
      { location: `${PDS_BASE}/Patient/${survivor}` },
    ),
};

/**
 * The patient an NHS Number names, which must be known to PDS and current: not invalidated, and
 * not superseded in a merge (a number is never silently moved to its survivor here). A record both
 * invalidated and superseded is answered as invalidated, as a PDS update answers it.
 */
export async function requireCurrentPatient(
  repo: ResourceStore,
  nhs: string,
): Promise<StoredResource<Patient>> {
  const stored = await repo.read(PATIENT, nhs);
  if (!stored) throw patientRefusals.unknown();
  if (isInvalidated(stored.resource)) throw patientRefusals.invalidated();
  const survivor = replacedBy(stored.resource);
  if (survivor) throw patientRefusals.superseded(nhs, survivor);
  return stored;
}

/**
 * The NHS Numbers merged into this surviving record, directly or through earlier merges, found
 * through the PDS index's 'replaced-by' parameter (one search per merge generation).
 */
export async function numbersMergedInto(repo: ResourceStore, survivor: string): Promise<string[]> {
  const found = new Set<string>();
  let frontier = [survivor];
  for (let hop = 0; frontier.length > 0 && hop < MAX_SUPERSESSION_HOPS; hop++) {
    const ids = await repo.search({
      type: PATIENT,
      criteria: [
        { any: frontier.map((value) => ({ param: 'replaced-by', op: 'eq' as const, value })) },
      ],
      limit: MAX_MERGED,
    });
    frontier = ids.filter((id) => id !== survivor && !found.has(id));
    frontier.forEach((id) => found.add(id));
  }
  return [...found];
}

/**
 * Each number's surviving record: itself unless PDS says it was replaced in a merge. One readMany
 * of the numbers finds which are superseded; a chain of merges costs one more per generation.
 * A number PDS does not hold maps to itself.
 */
export async function survivorsOf(
  repo: ResourceStore,
  numbers: string[],
): Promise<Map<string, string>> {
  const survivor = new Map(numbers.map((n) => [n, n]));
  let pending = [...new Set(numbers)];
  for (let hop = 0; pending.length > 0 && hop < MAX_SUPERSESSION_HOPS; hop++) {
    const next = new Map<string, string>();
    for (const stored of await repo.readMany(PATIENT, pending)) {
      const by = replacedBy(stored.resource);
      if (by) next.set(stored.id, by);
    }
    for (const [input, current] of survivor)
      if (next.has(current)) survivor.set(input, next.get(current)!);
    pending = [...new Set(next.values())];
  }
  return survivor;
}
