import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import type { ServiceDeps } from '../service-deps.js';
import { ODS_CODE } from '../directory/index.js';
import { runExport, type ExportJob } from './export-job.js';
import { kickOff as kickOffExport } from './export-kickoff.js';
import { cancelExport, downloadFile, pollStatus } from './export-poll.js';
import { importRequest } from './import-request.js';
import { bulkApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import { described, pathParams } from '../route-schemas.js';

export const BULK_BASE = '/bulk/FHIR/R4';

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

  const kickOff = (
    req: FastifyRequest,
    reply: FastifyReply,
    level: ExportJob['level'],
    group?: string,
  ) => kickOffExport(repo, BULK_BASE, base, start, req, reply, level, group);

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
      (req, reply) => pollStatus(repo, base, start, req, reply),
    );

    app.delete<{ Params: { id: string } }>(
      '/$export-poll-status/:id',
      { schema: { params: pathParams('id') }, config: exportConfig },
      (req, reply) => cancelExport(repo, req, reply),
    );

    // the file's lines passed the location-release rule when the job wrote them (export-job.ts)
    app.get<{ Params: { id: string; file: string } }>(
      '/$export-file/:id/:file',
      {
        schema: { params: pathParams('id', 'file') },
        config: { ...exportConfig, locationRelease: 'at-source' },
      },
      (req, reply) => downloadFile(repo, req, reply),
    );

    app.post('/$import', { config: { fhirApi: true, activity: 'bulk.import' } }, (req, reply) =>
      importRequest(repo, req, reply),
    );
  };
}
