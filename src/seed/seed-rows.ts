import { indexPatient, PATIENT, RELATED_PERSON } from '../services/pds/index.js';
import type { IndexEntry } from '../store/resource-store.js';
import { INDEX_SEPARATOR, type BulkRows, type IndexGroup } from '../store/bulk-rows.js';
import type { createPatientGenerator } from './patient-generator.js';

/** Generated patients [from, to) as store rows, plus what the seeder needs to skip and report. */
export interface SeedRows extends BulkRows {
  from: number;
  to: number;
  /** NHS Numbers in index order. */
  patientIds: string[];
  /** The patient each resource row belongs to (itself for a Patient). */
  owners: string[];
}

// JSON.stringify writes this as the six characters \u0000, which no generated value contains
const OPEN = '\u0000';
const OPEN_JSON = '\\u0000';

/**
 * The document commit() would store for a new resource ({...resource, meta: {...meta, versionId,
 * lastUpdated}}), split where lastUpdated goes. It sets meta on the freshly generated resource itself
 * rather than copying it: same key order, no copy.
 */
function splitBody(resource: Record<string, any>): [string, string] {
  if (resource.meta) Object.assign(resource.meta, { versionId: '1', lastUpdated: OPEN });
  else resource.meta = { versionId: '1', lastUpdated: OPEN };
  const json = JSON.stringify(resource);
  const at = json.indexOf(OPEN_JSON);
  return [json.slice(0, at), json.slice(at + OPEN_JSON.length)];
}

/**
 * search_index rows kept per (type, param), each as 'value<sep>id', so each group sorts on its own
 * (shorter keys, fewer comparisons) and the loader binds them without parsing anything. The
 * separator sorts below every other character, so the order is (value, id), the index's order.
 */
class IndexRows {
  private readonly groups = new Map<string, Map<string, string[]>>(); // type -> param -> rows
  add(type: string, param: string, value: string, id: string): void {
    if (value.includes(INDEX_SEPARATOR))
      throw new Error(`index value of ${type}/${id} holds the row separator`);
    let byParam = this.groups.get(type);
    if (!byParam) this.groups.set(type, (byParam = new Map()));
    let rows = byParam.get(param);
    if (!rows) byParam.set(param, (rows = []));
    rows.push(value + INDEX_SEPARATOR + id);
  }
  /** The groups in (type, param) order, rows sorted within each. */
  groupsInOrder(): IndexGroup[] {
    const groups: IndexGroup[] = [];
    for (const type of [...this.groups.keys()].sort()) {
      const byParam = this.groups.get(type)!;
      for (const param of [...byParam.keys()].sort())
        groups.push({ type, param, rows: byParam.get(param)!.sort().join(INDEX_SEPARATOR) });
    }
    return groups;
  }
}

interface ResourceRow {
  type: string;
  id: string;
  owner: string;
  indexRows: string;
  head: string;
  tail: string;
}

/**
 * Builds the rows of patients [from, to) exactly as seedPatients() would commit them through the
 * repository (same documents, same index entries), sorted by key: inserting B-tree keys in order
 * touches far fewer pages. A pure function of (generator, from, to), so any thread can run it.
 * Each resource is serialised as soon as it is generated, so a batch keeps only strings alive.
 */
export function buildSeedRows(
  generator: ReturnType<typeof createPatientGenerator>,
  from: number,
  to: number,
): SeedRows {
  const resources: ResourceRow[] = [];
  const index = new IndexRows();
  const patientIds: string[] = [];
  const add = (
    type: string,
    id: string,
    owner: string,
    entries: IndexEntry[],
    resource: Record<string, any>,
  ) => {
    const [head, tail] = splitBody(resource);
    // JSON.stringify gives a flat string, which the message to the main thread copies fastest
    const pairs: string[][] = new Array(entries.length);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      pairs[k] = [e.param, e.value];
      index.add(type, e.param, e.value, id);
    }
    resources.push({ type, id, owner, indexRows: JSON.stringify(pairs), head, tail });
  };
  for (let i = from; i < to; i++) {
    const { patient, relatedPersons } = generator.generate(i);
    const id = patient.id!;
    patientIds.push(id);
    add(PATIENT, id, id, indexPatient(patient), patient as Record<string, any>);
    for (const rp of relatedPersons)
      add(RELATED_PERSON, rp.id!, id, [{ param: 'patient', value: id }], rp as Record<string, any>);
  }
  resources.sort((a, b) =>
    a.type !== b.type ? (a.type < b.type ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  return {
    from,
    to,
    patientIds,
    owners: resources.map((r) => r.owner),
    types: resources.map((r) => r.type),
    ids: resources.map((r) => r.id),
    indexRows: resources.map((r) => r.indexRows),
    bodyHeads: resources.map((r) => r.head),
    bodyTails: resources.map((r) => r.tail),
    indexGroups: index.groupsInOrder(),
  };
}

/** The rows without the resources of the given patients (already in the store). */
export function withoutPatients(rows: SeedRows, skip: Set<string>): SeedRows {
  const keep = rows.owners.map((owner) => !skip.has(owner));
  const pick = <T>(list: T[]) => list.filter((_, i) => keep[i]);
  const dropped = new Set(rows.ids.flatMap((id, i) => (keep[i] ? [] : [rows.types[i] + ' ' + id])));
  const indexGroups = (rows.indexGroups ?? []).map(({ type, param, rows: joined }) => {
    const parts = joined ? joined.split(INDEX_SEPARATOR) : [];
    const kept: string[] = [];
    for (let p = 0; p < parts.length; p += 2)
      if (!dropped.has(type + ' ' + parts[p + 1])) kept.push(parts[p], parts[p + 1]);
    return { type, param, rows: kept.join(INDEX_SEPARATOR) };
  });
  return {
    ...rows,
    owners: pick(rows.owners),
    types: pick(rows.types),
    ids: pick(rows.ids),
    indexRows: pick(rows.indexRows),
    bodyHeads: pick(rows.bodyHeads),
    bodyTails: pick(rows.bodyTails),
    indexGroups,
  };
}
