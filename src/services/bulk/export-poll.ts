/**
 * An export job after its kick-off: polling its status, cancelling it, and downloading its files,
 * each only by the caller who started it. Out of routes.ts so the route table stays a table.
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { EXPORT_JOB, exportFile, type ExportJob } from './export-job.js';
import type { StartExport } from './export-kickoff.js';

const NDJSON = 'application/fhir+ndjson';
const JOB_ID = /^[0-9a-f-]{36}$/;

type JobRequest = FastifyRequest<{ Params: { id: string } }>;

/** The export job named in the path, if it is the caller's own. */
export async function ownJob(
  repo: ResourceStore,
  req: JobRequest,
): Promise<{ job: ExportJob; version: number }> {
  if (!JOB_ID.test(req.params.id))
    throw new FhirError(400, 'INVALID_RESOURCE_ID', 'Invalid export job id');
  const stored = await repo.read(EXPORT_JOB, req.params.id);
  // someone else's job is as invisible as a job that does not exist
  if (!stored || stored.resource.owner.userId !== req.ctx.principal!.userId)
    throw new FhirError(404, 'RESOURCE_NOT_FOUND', `No export job ${req.params.id}`);
  return { job: stored.resource, version: stored.version };
}

/** GET $export-poll-status: 202 with progress while it runs, else the manifest of its files. */
export async function pollStatus(
  repo: ResourceStore,
  base: string,
  start: StartExport,
  req: JobRequest,
  reply: FastifyReply,
) {
  const { job } = await ownJob(repo, req);
  if (job.status === 'in-progress') {
    start(job.id, req.log); // resumes a job whose node went away
    const done = Object.values(job.output).reduce((n, o) => n + o.count, 0);
    return reply
      .code(202)
      .header('x-progress', `${job.patientsDone} patients, ${done} resources`)
      .header('retry-after', '1')
      .send();
  }
  if (job.status === 'failed')
    throw new FhirError(500, 'INTERNAL_SERVER_ERROR', job.error ?? 'export failed');
  if (job.status === 'cancelled')
    throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Export ${job.id} was cancelled`);
  return reply.type('application/json').send({
    transactionTime: job.transactionTime,
    request: job.request,
    requiresAccessToken: true,
    output: job.types
      .filter((t) => job.output[t].count > 0)
      .map((t) => ({
        type: t,
        url: `${base}/$export-file/${job.id}/${t}.ndjson`,
        count: job.output[t].count,
      })),
    error: [],
  });
}

/** DELETE $export-poll-status: cancels a running job (no-op once it has ended). */
export async function cancelExport(repo: ResourceStore, req: JobRequest, reply: FastifyReply) {
  // the job moves on while we cancel it: read again until our write lands on its latest page
  for (let attempt = 0; ; attempt++) {
    const { job, version } = await ownJob(repo, req);
    if (job.status !== 'in-progress') break;
    try {
      await repo.commit({
        resources: [
          {
            type: EXPORT_JOB,
            id: job.id,
            expectedVersion: version,
            resource: { ...job, status: 'cancelled' },
            index: [{ param: 'owner', value: job.owner.userId }],
          },
        ],
        audit: [
          auditRecord(
            req.ctx,
            'bulk.export',
            null,
            'cancelled',
            { job: job.id },
            { purpose: job.purpose ?? 'secondary-use' },
          ),
        ],
      });
      break;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 50) throw err;
      // the job commits a page every few milliseconds: step out of its rhythm before reading again
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
    }
  }
  return reply.code(202).send();
}

/** GET $export-file: one type's NDJSON of a complete job, streamed; each download is audited. */
export async function downloadFile(
  repo: ResourceStore,
  req: FastifyRequest<{ Params: { id: string; file: string } }>,
  reply: FastifyReply,
) {
  const { job } = await ownJob(repo, req);
  const type = /^([A-Za-z]+)\.ndjson$/.exec(req.params.file)?.[1];
  if (job.status !== 'complete' || !type || !job.output[type])
    throw new FhirError(
      404,
      'RESOURCE_NOT_FOUND',
      `No file ${req.params.file.slice(0, 40)} in export ${job.id}`,
    );
  await repo.commit({
    audit: [
      auditRecord(
        req.ctx,
        'bulk.export',
        null,
        'downloaded',
        { job: job.id, type, count: job.output[type].count },
        { purpose: job.purpose ?? 'secondary-use' },
      ),
    ],
  });
  return reply.type(NDJSON).send(Readable.from(exportFile(repo, job, type)));
}
