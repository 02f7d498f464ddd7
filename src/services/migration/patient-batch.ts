import { VersionConflictError } from '../../store/errors.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ResourceWrite } from '../../store/resource-store.js';
import { PATIENT } from '../pds/index.js';
import {
  cleanNhsNumber,
  cleanPatient,
  groupChildren,
  patientProblem,
  type Children,
} from './legacy-clean.js';
import { legacyAudit, patientWrites } from './legacy-fhir.js';
import type { ChildRow, LegacyReader, PatientRow } from './legacy-read.js';
import { CHILD_TABLES, type ChildTable } from './legacy-schema.js';
import { addTally, quarantineWrite, type TableTally } from './migration-state.js';

/**
 * One batch of a patient partition as store writes: each patient and its child rows either mapped
 * (Patient, clinical resources, legacy audit entries) or quarantined with the reason. A pure
 * function of the rows read, so any thread can build it and a refused batch can be built again.
 */

export const CHILDREN = Object.keys(CHILD_TABLES) as ChildTable[];
const emptyChildren = (): Children =>
  Object.fromEntries(CHILDREN.map((t) => [t, []])) as unknown as Children;

export interface PatientRead {
  rows: PatientRow[];
  byPatient: Map<string, Children>;
}

/** The next patients of a partition after `after`, with all their child rows. */
export async function readPatientBatch(
  reader: LegacyReader,
  parts: number,
  part: number,
  after: string,
  limit: number,
): Promise<PatientRead> {
  const rows = await reader.patients(parts, part, after, limit);
  if (rows.length === 0) return { rows, byPatient: new Map() };
  const keys = rows.map((r) => r.key);
  const fetched = await Promise.all(CHILDREN.map((t) => reader.children(t, keys)));
  return {
    rows,
    byPatient: groupChildren(
      CHILDREN,
      Object.fromEntries(CHILDREN.map((t, i) => [t, fetched[i]])) as Record<ChildTable, ChildRow[]>,
    ),
  };
}

export interface PatientBatch {
  /** Resource writes in (type, id) order, so each B-tree is walked forwards once. */
  writes: ResourceWrite[];
  /** The legacy audit rows of the mapped patients (the batch's own entry is the caller's). */
  audit: AuditRecord[];
  /** Rows migrated and quarantined per table in this batch. */
  tally: TableTally;
  /** Legacy rows covered: each patient and every child row. */
  count: number;
}

/** Maps a batch; `refused` holds patients found at commit time to be unwritable, with the reason. */
export function mapPatientBatch(
  runId: string,
  read: PatientRead,
  refused: Map<string, string>,
): PatientBatch {
  const writes: ResourceWrite[] = [];
  const audit: AuditRecord[] = [];
  const tally: TableTally = {};
  let count = 0;
  for (const row of read.rows) {
    const children = read.byPatient.get(row.key) ?? emptyChildren();
    const childCount = CHILDREN.reduce((n, t) => n + children[t].length, 0);
    count += 1 + childCount;
    const problem = refused.get(row.key) ?? patientProblem(row);
    if (problem) {
      writes.push(quarantineWrite(runId, 'patients', row as never, row.key, problem));
      addTally(tally, 'patients', 0, 1);
      for (const t of CHILDREN) {
        for (const c of children[t])
          writes.push(
            quarantineWrite(runId, t, c, row.key, `patient ${row.key} quarantined: ${problem}`),
          );
        addTally(tally, t, 0, children[t].length);
      }
      continue;
    }
    const clean = cleanPatient(row, children);
    for (const w of patientWrites(clean)) writes.push(w);
    for (const a of legacyAudit(clean, runId)) audit.push(a);
    addTally(tally, 'patients', 1, 0);
    for (const t of CHILDREN) addTally(tally, t, children[t].length, 0);
  }
  writes.sort((a, b) =>
    a.type === b.type ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.type < b.type ? -1 : 1,
  );
  return { writes, audit, tally, count };
}

/** The checkpoint's running tally plus one batch's. */
export function addTallies(total: TableTally, batch: TableTally): TableTally {
  const out = structuredClone(total);
  for (const [table, t] of Object.entries(batch))
    addTally(out, table as ChildTable, t.migrated, t.quarantined);
  return out;
}

/**
 * A Patient already in the target (seeded, or written by PDS since) is not ours to overwrite: the
 * legacy key of the patient to refuse, or null when the error is something else (or refused already).
 */
export function patientToRefuse(
  err: unknown,
  nhsKeys: [nhs: string, key: string][],
  refused: Map<string, string>,
): { key: string; reason: string } | null {
  if (!(err instanceof VersionConflictError) || err.type !== PATIENT) return null;
  const key = nhsKeys.find(([nhs]) => nhs === err.id)?.[1] ?? '';
  return refused.has(key)
    ? null
    : { key, reason: `NHS Number ${err.id} already present in the target store` };
}

/** [cleaned NHS Number, legacy key] of each patient row, to name the patient a conflict refers to. */
export const nhsKeysOf = (rows: PatientRow[]): [string, string][] =>
  rows.map((r) => [cleanNhsNumber(r.nhs_number), r.key]);
