/**
 * $export kick-off: checking the parameters (_type, _since, _outputFormat, _purpose) and recording
 * an accepted job, which the caller then starts. Out of routes.ts so the route table stays a table.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OperationOutcome } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { principalMayPerform } from '../../security/access-control.js';
import type { Principal } from '../../security/principal.js';
import { EXPORTABLE_TYPES } from './export-enumerate.js';
import { EXPORT_JOB, newExportJob, type ExportJob, type ExportPurpose } from './export-job.js';

/** An informational OperationOutcome: the body of a kick-off's and an import's answer. */
export const information = (diagnostics: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'information', code: 'informational', diagnostics }],
});

interface ExportQuery {
  _type?: string;
  _since?: string;
  _outputFormat?: string;
  _purpose?: string;
}

/** Starts (or resumes) the background run of an export job on this node. */
export type StartExport = (jobId: string, log: FastifyInstance['log']) => void;

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

/**
 * A kick-off at any level: checks the request, records the job with its audit, starts it and
 * answers 202 with where to poll. `bulkBase` is the path prefix the request URL arrived under.
 */
export async function kickOff(
  repo: ResourceStore,
  bulkBase: string,
  base: string,
  start: StartExport,
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
    { level, group, types, since, purpose, request: base + req.url.slice(bulkBase.length) },
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
