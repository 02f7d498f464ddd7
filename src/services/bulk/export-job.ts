import type { FhirResource } from 'fhir/r4.js';
import type { AuditRecord } from '../../audit/types.js';
import {
  type ResourceWrite,
  type SearchCriterion,
  resourceType,
  type ResourceStore,
} from '../../store/resource-store.js';
import { VersionConflictError } from '../../store/errors.js';
import { LocationRelease } from '../../security/location-release.js';
import { PATIENT } from '../pds/index.js';
import { FIRST_PREFIXES, compartmentOf, patientOf, walkStep } from './export-enumerate.js';

/**
 * A bulk export job and its output live in the store, not on a node's disk: the job's cursor and
 * each page of NDJSON output commit together, so a job interrupted anywhere (a crash, a redeploy)
 * resumes on any node from its last page without repeating or losing a line.
 */
export const EXPORT_JOB = resourceType<ExportJob>('BulkExportJob');
export const EXPORT_CHUNK = resourceType<ExportChunk>('BulkExportChunk');

export interface ExportOwner {
  userId: string;
  userName?: string;
  role: string;
  org: string;
  requestId: string;
}

/**
 * Why the data leaves. 'secondary-use' (the default) withholds restricted patients' location data
 * like every other representation; 'migration' (moving the records to another system, which needs
 * them whole) includes it, for a caller whose role the policy grants 'bulk.export.migration'.
 */
export type ExportPurpose = 'secondary-use' | 'migration';

export interface ExportJob {
  resourceType: typeof EXPORT_JOB;
  id: string;
  owner: ExportOwner;
  level: 'system' | 'patient' | 'group';
  group?: string;
  types: string[];
  since?: string;
  /** Absent on jobs started before purposes existed: those are secondary use. */
  purpose?: ExportPurpose;
  request: string;
  transactionTime: string;
  status: 'in-progress' | 'complete' | 'cancelled' | 'failed';
  /** Prefixes of the NHS Number space still to visit, next first. */
  pending: string[];
  /** Per type: resources written and chunks of output so far. */
  output: Record<string, { count: number; chunks: number }>;
  patientsDone: number;
  error?: string;
}

export interface ExportChunk {
  resourceType: typeof EXPORT_CHUNK;
  id: string;
  job: string;
  type: string;
  n: number;
  count: number;
  ndjson: string;
}

export const chunkId = (job: string, type: string, n: number) => `${job}.${type}.${n}`;

export function newExportJob(
  id: string,
  owner: ExportOwner,
  opts: Pick<ExportJob, 'level' | 'group' | 'types' | 'since' | 'request' | 'purpose'>,
): ExportJob {
  return {
    resourceType: EXPORT_JOB,
    id,
    owner,
    ...opts,
    transactionTime: new Date().toISOString(),
    status: 'in-progress',
    pending: [...FIRST_PREFIXES],
    output: Object.fromEntries(opts.types.map((t) => [t, { count: 0, chunks: 0 }])),
    patientsDone: 0,
  };
}

function ownerAudit(
  job: ExportJob,
  patient: string | null,
  outcome: string,
  detail: Record<string, unknown>,
): AuditRecord {
  return {
    time: new Date().toISOString(),
    requestId: job.owner.requestId,
    userId: job.owner.userId,
    userName: job.owner.userName,
    role: job.owner.role,
    org: job.owner.org,
    patient,
    action: 'bulk.export',
    outcome,
    type: 'patient-record',
    purpose: job.purpose ?? 'secondary-use',
    detail: { job: job.id, ...detail },
  };
}

const since = (job: ExportJob) => (s: { lastUpdated: string }) =>
  !job.since || s.lastUpdated >= job.since;

interface ExportRow {
  lastUpdated: string;
  json: string;
  owner: string;
}

/**
 * Stored documents as NDJSON lines: a Patient's stored text passes through unparsed; other types
 * are parsed to find their patient.
 */
async function readForExport(
  repo: ResourceStore,
  type: string,
  ids: string[],
): Promise<ExportRow[]> {
  if (type !== PATIENT) {
    return (await repo.readMany(type, ids)).map((s) => ({
      lastUpdated: s.lastUpdated,
      json: JSON.stringify(s.resource),
      owner: patientOf(s.resource as FhirResource) ?? '',
    }));
  }
  const rows: ExportRow[] = [];
  for (const id of ids) {
    const stored = await repo.readJson(type, id);
    if (stored) rows.push({ lastUpdated: stored.lastUpdated, json: stored.json, owner: id });
  }
  return rows;
}

/**
 * The lines as they may leave: the file is streamed to its owner later, so the platform's
 * location-release rule is applied here, where the lines are made. Patients are current PDS
 * records (their labels decide); other types are looked up by the patients they name.
 */
async function releaseRows(
  release: LocationRelease,
  job: ExportJob,
  type: string,
  rows: ExportRow[],
): Promise<ExportRow[]> {
  if (job.purpose === 'migration' || rows.length === 0) return rows;
  const texts = await release.releaseTexts(
    rows.map((r) => r.json),
    type === PATIENT ? 'pds-current' : 'any',
  );
  return rows.map((r, i) => (texts[i] === r.json ? r : { ...r, json: texts[i] }));
}

/**
 * Does one page of work (split a prefix, or export one leaf of patients with their compartments)
 * and commits it with the job's new cursor. Returns false when the job has nothing left to do or
 * another node moved it first.
 */
export async function exportStep(repo: ResourceStore, jobId: string): Promise<boolean> {
  const stored = await repo.read(EXPORT_JOB, jobId);
  if (!stored) return false;
  const job = structuredClone(stored.resource) as ExportJob;
  if (job.status !== 'in-progress') return false;
  const release = new LocationRelease(repo);
  const writes: ResourceWrite[] = [];
  const audit: AuditRecord[] = [];
  const prefix = job.pending.shift();
  if (prefix === undefined) {
    job.status = 'complete';
    audit.push(
      ownerAudit(job, null, 'complete', {
        counts: Object.fromEntries(Object.entries(job.output).map(([t, o]) => [t, o.count])),
      }),
    );
  } else {
    const extra: SearchCriterion[] = job.group
      ? [{ any: [{ param: 'general-practitioner', op: 'eq', value: job.group }] }]
      : [];
    const step = await walkStep(repo, prefix, extra);
    if ('split' in step) job.pending.unshift(...step.split);
    else if (step.patients.length) {
      job.patientsDone += step.patients.length;
      const touched = new Set<string>();
      for (const type of job.types) {
        const ids =
          type === PATIENT ? step.patients : await compartmentOf(repo, type, step.patients);
        const fresh = await releaseRows(
          release,
          job,
          type,
          (await readForExport(repo, type, ids)).filter(since(job)),
        );
        if (fresh.length === 0) continue;
        const out = job.output[type];
        const n = out.chunks++;
        out.count += fresh.length;
        const chunk: ExportChunk = {
          resourceType: EXPORT_CHUNK,
          id: chunkId(job.id, type, n),
          job: job.id,
          type,
          n,
          count: fresh.length,
          ndjson: fresh.map((r) => r.json + '\n').join(''),
        };
        writes.push({
          type: EXPORT_CHUNK,
          id: chunk.id,
          expectedVersion: 0,
          resource: chunk,
          index: [{ param: 'job', value: job.id }],
        });
        for (const r of fresh) touched.add(r.owner);
      }
      // every patient whose data left in this page gets their own entry, as any other read would
      for (const nhs of touched) if (nhs) audit.push(ownerAudit(job, nhs, 'success', {}));
    }
  }
  writes.push({
    type: EXPORT_JOB,
    id: job.id,
    expectedVersion: stored.version,
    resource: job,
    index: [{ param: 'owner', value: job.owner.userId }],
  });
  try {
    await repo.commit({ resources: writes, audit });
  } catch (err) {
    if (err instanceof VersionConflictError) return false; // another node took this page
    throw err;
  }
  return job.status === 'in-progress';
}

/** Runs a job to its end (or until another node takes it over, or it is cancelled). */
export async function runExport(
  repo: ResourceStore,
  jobId: string,
  stopping: () => boolean = () => false,
): Promise<void> {
  try {
    while (!stopping() && (await exportStep(repo, jobId)));
  } catch (err) {
    if (stopping()) return; // the node is shutting down: the job resumes wherever it is polled next
    const stored = await repo.read(EXPORT_JOB, jobId);
    if (stored && stored.resource.status === 'in-progress') {
      const job = {
        ...stored.resource,
        status: 'failed' as const,
        error: 'export failed; start a new export',
      };
      await repo
        .commit({
          resources: [
            {
              type: EXPORT_JOB,
              id: jobId,
              expectedVersion: stored.version,
              resource: job,
              index: [{ param: 'owner', value: job.owner.userId }],
            },
          ],
        })
        .catch(() => undefined);
    }
    throw err;
  }
}

/** The NDJSON of one type of a finished job, chunk by chunk (never the whole file in memory). */
export async function* exportFile(
  repo: ResourceStore,
  job: ExportJob,
  type: string,
): AsyncGenerator<string> {
  const chunks = job.output[type]?.chunks ?? 0;
  for (let n = 0; n < chunks; n += 20) {
    const ids = Array.from({ length: Math.min(20, chunks - n) }, (_, i) =>
      chunkId(job.id, type, n + i),
    );
    const found = await repo.readMany(EXPORT_CHUNK, ids);
    const byId = new Map(found.map((s) => [s.id, s.resource]));
    for (const id of ids) yield byId.get(id)?.ndjson ?? '';
  }
}
