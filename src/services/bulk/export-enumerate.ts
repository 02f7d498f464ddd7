import type { FhirResource } from 'fhir/r4.js';
import type { IndexCondition, SearchCriterion, ResourceStore } from '../../store/resource-store.js';
import { PATIENT } from '../pds/index.js';

/**
 * Walks every Patient through the search index only (the ResourceStore has no table scan): the NHS
 * Number space is cut into prefixes, and a prefix holding more patients than one page is split into
 * its ten longer prefixes. Each leaf is one bounded index range, so a page costs the same at any
 * scale, and the list of pending prefixes is a complete, tiny cursor for a restartable export.
 */
export const LEAF_SIZE = 1000;
export const FIRST_PREFIXES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Resource types in the patient compartment that the bulk API moves, with the index parameter naming the patient. */
export const COMPARTMENT_TYPES = [
  'RelatedPerson',
  'AllergyIntolerance',
  'MedicationStatement',
  'MedicationRequest',
] as const;
export const EXPORTABLE_TYPES: readonly string[] = [PATIENT, ...COMPARTMENT_TYPES];

/** The NHS Number a compartment resource belongs to. */
export function patientOf(resource: FhirResource): string | undefined {
  const r = resource as unknown as Record<
    string,
    { identifier?: { value?: string }; reference?: string } | undefined
  >;
  const ref = r.patient ?? r.subject;
  return ref?.identifier?.value ?? ref?.reference?.match(/^Patient\/([^/]+)$/)?.[1];
}

export type LeafResult = { split: string[] } | { patients: string[] };

/**
 * One step of the walk at `prefix`: either the ten sub-prefixes to visit instead, or the ids of the
 * patients whose own number starts with it (a patient also indexed under a number it replaced is
 * left to the leaf of its own number). `extra` narrows the walk (a Group's practice).
 */
export async function walkStep(
  repo: ResourceStore,
  prefix: string,
  extra: SearchCriterion[] = [],
): Promise<LeafResult> {
  const ids = await repo.search({
    type: PATIENT,
    criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: prefix }] }, ...extra],
    limit: LEAF_SIZE + 1,
  });
  if (ids.length > LEAF_SIZE && prefix.length < 10)
    return { split: FIRST_PREFIXES.map((d) => prefix + d) };
  return { patients: ids.filter((id) => id.startsWith(prefix)) };
}

/** The compartment resources of these patients, by type, in id order. */
export async function compartmentOf(
  repo: ResourceStore,
  type: string,
  patients: string[],
): Promise<string[]> {
  const out: string[] = [];
  const CHUNK = 100,
    LIMIT = 20_000;
  for (let i = 0; i < patients.length; i += CHUNK) {
    const slice = patients.slice(i, i + CHUNK);
    const any: IndexCondition[] = slice.map((value) => ({ param: 'patient', op: 'eq', value }));
    const ids = await repo.search({ type, criteria: [{ any }], limit: LIMIT + 1 });
    if (ids.length <= LIMIT) {
      out.push(...ids);
      continue;
    }
    // an implausibly full compartment: ask patient by patient so nothing is cut off
    for (const value of slice)
      out.push(
        ...(await repo.search({
          type,
          criteria: [{ any: [{ param: 'patient', op: 'eq', value }] }],
          limit: 1_000_000,
        })),
      );
  }
  return out;
}
