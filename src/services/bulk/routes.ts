import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OperationOutcome } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError, operationOutcome } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ServiceDeps } from '../service-deps.js';
import { ODS_CODE } from '../directory/index.js';
import { EXPORTABLE_TYPES } from './export-enumerate.js';
import {
  EXPORT_JOB,
  exportFile,
  newExportJob,
  runExport,
  type ExportJob,
  type ExportPurpose,
} from './export-job.js';
import { principalMayPerform } from '../../security/access-control.js';
import type { Principal } from '../../security/principal.js';
import { importNdjson } from './import-ndjson.js';
import { bulkApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import { described, pathParams } from '../route-schemas.js';

export const BULK_BASE = '/bulk/FHIR/R4';
const NDJSON = 'application/fhir+ndjson';
const JOB_ID = /^[0-9a-f-]{36}$/;

const information = (diagnostics: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'information', code: 'informational', diagnostics }],
});

interface ExportQuery {
  _type?: string;
  _since?: string;
  _outputFormat?: string;
  _purpose?: string;
}

/**
 * FHIR Bulk Data: $export at system, Patient and Group level (a Group is a GP practice: its
 * registered patients) with the asynchronous kick-off / poll / download pattern, and $import of
 * NDJSON. Jobs run in the background of the node that accepted them and resume on whichever node
 * is polled after a restart. Only the caller who started an export may poll or download it.
 */
export function bulkRoutes({ store: repo, publicUrl }: Pick<ServiceDeps, 'store' | 'publicUrl'>) {
  const base = publicUrl + BULK_BASE;
  const running = new Set<string>();
  let closing = false;

  function start(jobId: string, log: FastifyInstance['log']): void {
    if (running.has(jobId)) return;
    running.add(jobId);
    void runExport(repo, jobId, () => closing)
      .catch((err) => log.error({ err, job: jobId }, 'bulk export failed'))
      .finally(() => running.delete(jobId));
  }

  /**
   * '_purpose=migration' includes restricted patients' location data, for a role the policy grants
   * it; anything else is refused.
   */
  function parsePurpose(q: ExportQuery, principal: Principal): ExportPurpose {
    if (q._purpose === undefined || q._purpose === 'secondary-use') return 'secondary-use';
    if (q._purpose !== 'migration')
      throw new FhirError(
        400,
        'UNSUPPORTED_VALUE',
        `Unsupported _purpose '${String(q._purpose).slice(0, 40)}': use 'migration' or leave it out`,
      );
    if (!principalMayPerform(principal, 'bulk.export.migration')) {
      throw new FhirError(
        403,
        'ACCESS_DENIED',
        "The caller is not permitted to perform 'bulk.export.migration' (an export including restricted patients' location data)",
      );
    }
    return 'migration';
  }

  function parseExport(q: ExportQuery): { types: string[]; since?: string } {
    if (
      q._outputFormat !== undefined &&
      !['application/fhir+ndjson', 'application/ndjson', 'ndjson'].includes(q._outputFormat)
    ) {
      throw new FhirError(
        400,
        'UNSUPPORTED_VALUE',
        `Unsupported _outputFormat '${String(q._outputFormat).slice(0, 40)}': only application/fhir+ndjson`,
      );
    }
    const types =
      q._type === undefined
        ? [...EXPORTABLE_TYPES]
        : [
            ...new Set(
              String(q._type)
                .split(',')
                .map((t) => t.trim()),
            ),
          ];
    const bad = types.find((t) => !EXPORTABLE_TYPES.includes(t));
    if (bad !== undefined || types.length === 0)
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        `Invalid _type '${String(bad ?? '').slice(0, 40)}': exportable types are ${EXPORTABLE_TYPES.join(', ')}`,
      );
    let since: string | undefined;
    if (q._since !== undefined) {
      const t = Date.parse(String(q._since));
      if (
        !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(String(q._since)) ||
        Number.isNaN(t)
      )
        throw new FhirError(
          400,
          'INVALID_SEARCH_DATA',
          `Invalid _since '${String(q._since).slice(0, 40)}': use an instant such as 2025-01-01T00:00:00Z`,
        );
      since = new Date(t).toISOString();
    }
    return { types, since };
  }

  async function kickOff(
    req: FastifyRequest,
    reply: FastifyReply,
    level: ExportJob['level'],
    group?: string,
  ) {
    if (req.headers.prefer !== undefined && !/respond-async/.test(String(req.headers.prefer))) {
      throw new FhirError(
        400,
        'INVALID_VALUE',
        "Bulk export is asynchronous: send 'Prefer: respond-async' or no Prefer header",
      );
    }
    const { types, since } = parseExport(req.query as ExportQuery);
    const p = req.ctx.principal!;
    const purpose = parsePurpose(req.query as ExportQuery, p);
    const id = randomUUID();
    const job = newExportJob(
      id,
      {
        userId: p.userId,
        userName: p.name,
        role: p.role,
        org: p.org,
        requestId: req.ctx.requestId,
      },
      { level, group, types, since, purpose, request: base + req.url.slice(BULK_BASE.length) },
    );
    const locationData = purpose === 'migration' ? 'included' : 'withheld for restricted patients';
    await repo.commit({
      resources: [
        {
          type: EXPORT_JOB,
          id,
          expectedVersion: 0,
          resource: job,
          index: [{ param: 'owner', value: p.userId }],
        },
      ],
      audit: [
        auditRecord(
          req.ctx,
          'bulk.export',
          null,
          'accepted',
          { job: id, level, group, types, since, locationData },
          { purpose },
        ),
      ],
    });
    start(id, req.log);
    return reply
      .code(202)
      .header('content-location', `${base}/$export-poll-status/${id}`)
      .type(FHIR_JSON)
      .send(information(`Export ${id} accepted`));
  }

  async function ownJob(
    req: FastifyRequest<{ Params: { id: string } }>,
  ): Promise<{ job: ExportJob; version: number }> {
    if (!JOB_ID.test(req.params.id))
      throw new FhirError(400, 'INVALID_RESOURCE_ID', 'Invalid export job id');
    const stored = await repo.read(EXPORT_JOB, req.params.id);
    // someone else's job is as invisible as a job that does not exist
    if (!stored || stored.resource.owner.userId !== req.ctx.principal!.userId)
      throw new FhirError(404, 'RESOURCE_NOT_FOUND', `No export job ${req.params.id}`);
    return { job: stored.resource, version: stored.version };
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    registerMetadataRoute(app, bulkApi(BULK_BASE, publicUrl));
    app.addHook('onClose', async () => {
      closing = true;
    });
    app.addContentTypeParser(
      ['application/fhir+ndjson', 'application/ndjson', 'application/x-ndjson'],
      (_req, payload, done) => done(null, payload),
    );
    const exportConfig = { fhirApi: true, activity: 'bulk.export' } as const;
    // the kick-off parameters (ExportQuery), checked by kickOff in the published words
    const exportQuery = described({
      _type: 'comma-separated resource types',
      _since: 'FHIR instant',
      _outputFormat: 'application/fhir+ndjson (or ndjson)',
      _purpose: "'secondary-use' (default) or 'migration'",
    });

    app.get(
      '/$export',
      { schema: { querystring: exportQuery }, config: exportConfig },
      (req, reply) => kickOff(req, reply, 'system'),
    );
    app.get(
      '/Patient/$export',
      { schema: { querystring: exportQuery }, config: exportConfig },
      (req, reply) => kickOff(req, reply, 'patient'),
    );
    app.get<{ Params: { id: string } }>(
      '/Group/:id/$export',
      { schema: { params: pathParams('id'), querystring: exportQuery }, config: exportConfig },
      (req, reply) => {
        const group = req.params.id.toUpperCase();
        if (!ODS_CODE.test(group))
          throw new FhirError(
            400,
            'INVALID_RESOURCE_ID',
            `Invalid Group id '${req.params.id.slice(0, 20)}': a Group is a GP practice ODS code`,
          );
        return kickOff(req, reply, 'group', group);
      },
    );

    app.get<{ Params: { id: string } }>(
      '/$export-poll-status/:id',
      { schema: { params: pathParams('id') }, config: exportConfig },
      async (req, reply) => {
        const { job } = await ownJob(req);
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
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/$export-poll-status/:id',
      { schema: { params: pathParams('id') }, config: exportConfig },
      async (req, reply) => {
        // the job moves on while we cancel it: read again until our write lands on its latest page
        for (let attempt = 0; ; attempt++) {
          const { job, version } = await ownJob(req);
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
      },
    );

    // the file's lines passed the location-release rule when the job wrote them (export-job.ts)
    app.get<{ Params: { id: string; file: string } }>(
      '/$export-file/:id/:file',
      {
        schema: { params: pathParams('id', 'file') },
        config: { ...exportConfig, locationRelease: 'at-source' },
      },
      async (req, reply) => {
        const { job } = await ownJob(req);
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
      },
    );

    app.post(
      '/$import',
      { config: { fhirApi: true, activity: 'bulk.import' } },
      async (req, reply) => {
        const type = String(req.headers['content-type'] ?? '')
          .split(';')[0]
          .trim();
        if (!req.body)
          throw new FhirError(
            400,
            'MISSING_VALUE',
            'Request body is empty: send NDJSON, one resource per line',
          );
        if (
          !['application/fhir+ndjson', 'application/ndjson', 'application/x-ndjson'].includes(type)
        ) {
          throw new FhirError(
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            'Send the resources as application/fhir+ndjson, one per line',
          );
        }
        const result = await importNdjson(repo, req.body as Readable, (patient, detail) =>
          auditRecord(req.ctx, 'bulk.import', patient, 'success', detail),
        );
        const written = result.created + result.updated + result.unchanged;
        await repo.commit({
          audit: [
            auditRecord(req.ctx, 'bulk.import', null, written ? 'success' : 'rejected', {
              lines: result.lines,
              created: result.created,
              updated: result.updated,
              unchanged: result.unchanged,
              rejected: result.rejected.length,
            }),
          ],
        });
        if (written === 0 && result.rejected.length > 0) {
          throw new FhirError(
            400,
            'INVALID_VALUE',
            `No resource imported: ${result.rejected
              .slice(0, 5)
              .map((r) => `line ${r.line}: ${r.reason}`)
              .join('; ')}`,
          );
        }
        const outcome = information(
          `Imported ${result.lines} lines: ${result.created} created, ${result.updated} updated, ${result.unchanged} unchanged, ${result.rejected.length} rejected`,
        );
        for (const r of result.rejected)
          outcome.issue.push({
            ...operationOutcome('INVALID_VALUE', `line ${r.line}: ${r.reason}`, 'error').issue[0],
          });
        return reply.type(FHIR_JSON).send(outcome);
      },
    );
  };
}
