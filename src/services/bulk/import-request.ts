/**
 * The $import handler: checks the NDJSON request, imports it line by line and answers with an
 * OperationOutcome naming what was created, updated, unchanged and rejected. Out of routes.ts so
 * the route table stays a table.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError, operationOutcome } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { information } from './export-kickoff.js';
import { importNdjson } from './import-ndjson.js';

export async function importRequest(repo: ResourceStore, req: FastifyRequest, reply: FastifyReply) {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim();
  if (!req.body)
    throw new FhirError(
      400,
      'MISSING_VALUE',
      'Request body is empty: send NDJSON, one resource per line',
    );
  if (!['application/fhir+ndjson', 'application/ndjson', 'application/x-ndjson'].includes(type)) {
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
}
