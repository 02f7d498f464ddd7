import type { Patient } from 'fhir/r4.js';
import type { Repository } from '../../store/types.js';
import { PATIENT, replacedBy } from '../pds/patient-model.js';

/** Merges chain (A into B, then B into C); following more links than this is a loop, not a history. */
const MAX_SUPERSESSION_HOPS = 5;
/** More numbers merged into one record than any real patient has; the search stops here. */
const MAX_MERGED = 100;

/**
 * The NHS Numbers merged into this surviving record, directly or through earlier merges, found
 * through the PDS index's 'replaced-by' parameter (one search per merge generation).
 */
export async function numbersMergedInto(repo: Repository, survivor: string): Promise<string[]> {
  const found = new Set<string>();
  let frontier = [survivor];
  for (let hop = 0; frontier.length > 0 && hop < MAX_SUPERSESSION_HOPS; hop++) {
    const ids = await repo.search({ type: PATIENT, criteria: [{ any: frontier.map((value) => ({ param: 'replaced-by', op: 'eq' as const, value })) }], limit: MAX_MERGED });
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
export async function survivorsOf(repo: Repository, numbers: string[]): Promise<Map<string, string>> {
  const survivor = new Map(numbers.map((n) => [n, n]));
  let pending = [...new Set(numbers)];
  for (let hop = 0; pending.length > 0 && hop < MAX_SUPERSESSION_HOPS; hop++) {
    const next = new Map<string, string>();
    for (const stored of await repo.readMany(PATIENT, pending)) {
      const by = replacedBy(stored.resource as Patient);
      if (by) next.set(stored.id, by);
    }
    for (const [input, current] of survivor) if (next.has(current)) survivor.set(input, next.get(current)!);
    pending = [...new Set(next.values())];
  }
  return survivor;
}
