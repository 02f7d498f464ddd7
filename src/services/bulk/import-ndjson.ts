import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import type { FhirResource, Patient } from 'fhir/r4.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import {
  hasLoneSurrogate,
  JSON_MAX_DEPTH,
  JSON_MAX_ELEMENTS_PER_MIB,
  jsonShapeProblem,
} from '../../fhir/json-limits.js';
import type { AuditRecord } from '../../audit/types.js';
import type { IndexEntry, ResourceWrite, ResourceStore } from '../../store/resource-store.js';
import { VersionConflictError } from '../../store/errors.js';
import { indexPatient, PATIENT } from '../pds/index.js';
import { EXPORTABLE_TYPES, patientOf } from './export-enumerate.js';

/**
 * Streams NDJSON into the store in batches, one commit (resources and their audit) per batch. An
 * import is an upsert that skips resources already stored with the same content, so re-sending a
 * file after an interruption finishes the job without writing anything twice.
 */
export interface ImportResult {
  lines: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: { line: number; reason: string }[];
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const BATCH = 500;
const MAX_LINE = 1_000_000;
const MAX_REPORTED = 100;

/** The type, id and index of a line, or why it cannot be imported. */
export function checkLine(
  text: string,
): { resource: FhirResource & { id: string }; index: IndexEntry[] } | string {
  if (text.length > MAX_LINE) return 'line longer than 1 MB';
  if (text.includes('\\u0000')) return 'contains a NUL character';
  if (hasLoneSurrogate(text)) return 'contains an unpaired UTF-16 surrogate escape';
  // the same bounds as every JSON request body (src/fhir/json-limits.ts): a line is at most 1 MB
  const shape = jsonShapeProblem(text);
  if (shape)
    return shape === 'depth'
      ? `nested more than ${JSON_MAX_DEPTH} levels deep`
      : `more than ${JSON_MAX_ELEMENTS_PER_MIB} elements`;
  let resource: FhirResource;
  try {
    resource = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (!resource || typeof resource !== 'object' || Array.isArray(resource))
    return 'not a JSON object';
  if (!EXPORTABLE_TYPES.includes(resource.resourceType))
    return `resourceType '${String(resource.resourceType).slice(0, 40)}' is not importable (${EXPORTABLE_TYPES.join(', ')})`;
  if (typeof resource.id !== 'string' || !ID.test(resource.id)) return 'missing or invalid id';
  if (resource.resourceType === PATIENT) {
    if (!isValidNhsNumber(resource.id))
      return `Patient id '${resource.id}' is not a valid NHS Number`;
    if (!(resource as Patient).identifier?.some((i) => i.value === resource.id))
      return 'Patient identifier does not carry its NHS Number';
    return {
      resource: resource as FhirResource & { id: string },
      index: indexPatient(resource as Patient),
    };
  }
  const nhs = patientOf(resource);
  if (!nhs || !isValidNhsNumber(nhs))
    return `${resource.resourceType} does not name its patient by a valid NHS Number`;
  return {
    resource: resource as FhirResource & { id: string },
    index: [{ param: 'patient', value: nhs }],
  };
}

/** The content that must match for a resource to count as unchanged (the store's own meta aside). */
function content(r: Record<string, any>): Record<string, any> {
  const { versionId: _v, lastUpdated: _l, ...meta } = r.meta ?? {};
  const copy: Record<string, any> = { ...r, meta };
  if (Object.keys(meta).length === 0) delete copy.meta;
  return copy;
}

interface Pending {
  line: number;
  resource: FhirResource & { id: string };
  index: IndexEntry[];
}

async function commitBatch(
  repo: ResourceStore,
  batch: Pending[],
  audit: (patient: string | null, detail: Record<string, unknown>) => AuditRecord,
  result: ImportResult,
): Promise<void> {
  // the last line for an id wins within a batch, as it would across batches
  const byKey = new Map(batch.map((p) => [`${p.resource.resourceType}/${p.resource.id}`, p]));
  for (let attempt = 0; ; attempt++) {
    const writes: ResourceWrite[] = [];
    const audits: AuditRecord[] = [];
    let created = 0,
      updated = 0,
      unchanged = 0;
    const types = new Set([...byKey.values()].map((p) => p.resource.resourceType));
    const current = new Map<string, { version: number; resource: Record<string, any> }>();
    for (const type of types) {
      const ids = [...byKey.values()]
        .filter((p) => p.resource.resourceType === type)
        .map((p) => p.resource.id);
      for (const s of await repo.readMany(type, ids))
        current.set(`${type}/${s.id}`, { version: s.version, resource: s.resource });
    }
    for (const [key, p] of byKey) {
      const existing = current.get(key);
      if (existing && isDeepStrictEqual(content(existing.resource), content(p.resource))) {
        unchanged++;
        continue;
      }
      existing ? updated++ : created++;
      writes.push({
        type: p.resource.resourceType,
        id: p.resource.id,
        expectedVersion: existing?.version ?? 0,
        resource: p.resource as Record<string, any>,
        index: p.index,
      });
      const nhs = p.resource.resourceType === PATIENT ? p.resource.id : patientOf(p.resource)!;
      audits.push(
        audit(nhs, { resource: key, line: p.line, outcome: existing ? 'updated' : 'created' }),
      );
    }
    try {
      if (writes.length) await repo.commit({ resources: writes, audit: audits });
      result.created += created;
      result.updated += updated;
      result.unchanged += unchanged;
      return;
    } catch (err) {
      // a concurrent writer changed one of these: read again and redo the batch
      if (err instanceof VersionConflictError && attempt < 3) continue;
      throw err;
    }
  }
}

export async function importNdjson(
  repo: ResourceStore,
  input: Readable,
  audit: (patient: string | null, detail: Record<string, unknown>) => AuditRecord,
): Promise<ImportResult> {
  const result: ImportResult = { lines: 0, created: 0, updated: 0, unchanged: 0, rejected: [] };
  let batch: Pending[] = [];
  let rejectedCount = 0;
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const raw of lines) {
    const text = raw.trim();
    result.lines++;
    if (!text) continue;
    const checked = checkLine(text);
    if (typeof checked === 'string') {
      rejectedCount++;
      if (result.rejected.length < MAX_REPORTED)
        result.rejected.push({ line: result.lines, reason: checked });
      continue;
    }
    batch.push({ line: result.lines, ...checked });
    if (batch.length >= BATCH) {
      await commitBatch(repo, batch, audit, result);
      batch = [];
    }
  }
  if (batch.length) await commitBatch(repo, batch, audit, result);
  if (rejectedCount > result.rejected.length)
    result.rejected.push({
      line: 0,
      reason: `${rejectedCount - result.rejected.length} more lines rejected`,
    });
  return result;
}
