import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { toAuditEvent } from '../../audit/audit-event.js';
import { indexAuditBacklog, PeriodicJob } from '../../audit/audit-indexer.js';
import { auditRecord } from '../../audit/audit-record.js';
import { searchAuditEvents } from '../../audit/audit-search.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { AuditCheckpointSigner } from '../../audit/checkpoint-signer.js';
import { buildAuditExport, exportRange } from '../../audit/export.js';
import { parseAuditSearch } from '../../audit/search-params.js';
import { statementVerifier } from '../../audit/signed-head.js';
import { verifyStoredChain } from '../../audit/store-verifier.js';
import { FhirError } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { SigningKey } from '../../security/embedded-idp.js';
import type { Repository } from '../../store/types.js';
import { SECURITY_BASE } from './routes.js';
import { securityApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';

export interface AuditRoutesDeps {
  signingKey: SigningKey;
  config: Pick<Config, 'publicUrl' | 'auditCheckpointSeconds'>;
}

const INDEX_INTERVAL_MS = 1000;

/**
 * The audit trail as FHIR: AuditEvent search (exact, off a background index), one entry by seq,
 * chain verification including the signed checkpoints, and a self-verifying signed export. Runs
 * the catch-up indexer every second and the checkpoint signer every auditCheckpointSeconds.
 */
export function auditRoutes(repo: Repository, { signingKey, config }: AuditRoutesDeps) {
  const verify = statementVerifier([signingKey.publicJwk]);
  const audit = new AuditWriter(repo);
  const signer = new AuditCheckpointSigner(repo, signingKey);
  const baseUrl = `${config.publicUrl}${SECURITY_BASE}/AuditEvent`;
  const staffOnly = (req: FastifyRequest) => {
    if (req.ctx.principal?.kind === 'patient')
      throw new FhirError(
        403,
        'ACCESS_DENIED',
        'Patients may only see the audit log of their own record',
      );
  };

  return async function plugin(app: FastifyInstance): Promise<void> {
    registerMetadataRoute(app, securityApi(SECURITY_BASE, config.publicUrl));
    const fail = (job: string) => (err: unknown) => app.log.error({ err }, `${job} failed`);
    const indexer = new PeriodicJob(
      () => indexAuditBacklog(repo),
      INDEX_INTERVAL_MS,
      fail('audit indexer'),
    );
    const checkpoints =
      config.auditCheckpointSeconds > 0
        ? new PeriodicJob(
            () => signer.tick(),
            config.auditCheckpointSeconds * 1000,
            fail('audit checkpoint signer'),
          )
        : undefined;
    app.addHook('onReady', async () => {
      indexer.start();
      checkpoints?.start();
    });
    app.addHook('onClose', async () => {
      await Promise.all([indexer.stop(), checkpoints?.stop()]);
    });

    app.get(
      '/AuditEvent',
      { config: { fhirApi: true, activity: 'audit.read', patientFrom: { query: 'patient' } } },
      async (req, reply) => {
        const query = req.query as Record<string, unknown>;
        const search = parseAuditSearch(query);
        const principal = req.ctx.principal!;
        const { bundle, total } = await searchAuditEvents(repo, search, {
          view: principal.kind === 'patient' ? 'patient' : 'staff',
          viewerNhsNumber: principal.nhsNumber,
          baseUrl,
          selfUrl: `${config.publicUrl}${req.url}`,
          rawQuery: query,
        });
        await audit.append(
          auditRecord(
            req.ctx,
            'audit.read',
            search.filters.patient ?? null,
            'read',
            { filters: search.filters, page: search.cursor ? 'next' : 'first', total },
            { type: 'security' },
          ),
        );
        return reply.type(FHIR_JSON).send(bundle);
      },
    );

    app.get(
      '/AuditEvent/$verify',
      { config: { fhirApi: true, activity: 'audit.read' } },
      async (req, reply) => {
        staffOnly(req);
        const result = await verifyStoredChain(repo, verify);
        await audit.append(
          auditRecord(
            req.ctx,
            'audit.read',
            null,
            result.ok ? 'verified' : 'verification-failed',
            { operation: '$verify', checked: result.checked, brokenAt: result.brokenAt?.seq },
            { type: 'security' },
          ),
        );
        return reply.type(FHIR_JSON).send({
          resourceType: 'Parameters',
          parameter: [
            { name: 'valid', valueBoolean: result.ok },
            { name: 'entriesVerified', valueInteger: result.checked },
            { name: 'checkpointsVerified', valueInteger: result.checkpointsVerified },
            { name: 'headHash', valueString: result.headHash },
            ...(result.brokenAt
              ? [
                  { name: 'brokenAt', valueInteger: result.brokenAt.seq },
                  { name: 'reason', valueString: result.brokenAt.reason },
                ]
              : []),
          ],
        });
      },
    );

    // signed entries must leave byte for byte: the one named exception to the location-release rule
    app.get(
      '/AuditEvent/$export',
      { config: { fhirApi: true, activity: 'audit.read', locationRelease: 'signed-audit-export' } },
      async (req, reply) => {
        staffOnly(req);
        const { from, to } = exportRange(
          req.query as Record<string, unknown>,
          (await repo.auditHead()).seq,
        );
        const doc = await buildAuditExport(repo, signingKey, verify, from, to);
        await audit.append(
          auditRecord(
            req.ctx,
            'audit.read',
            null,
            'exported',
            { operation: '$export', from, to },
            { type: 'security' },
          ),
        );
        return reply.type('application/json; charset=utf-8').send(doc);
      },
    );

    app.get<{ Params: { id: string } }>(
      '/AuditEvent/:id',
      { config: { fhirApi: true, activity: 'audit.read' } },
      async (req, reply) => {
        staffOnly(req);
        if (!/^[1-9]\d{0,14}$/.test(req.params.id))
          throw new FhirError(
            400,
            'INVALID_RESOURCE_ID',
            'An AuditEvent id is the entry number in the audit chain',
          );
        const [entry] = await repo.readAuditEntries([Number(req.params.id)]);
        if (!entry)
          throw new FhirError(404, 'RESOURCE_NOT_FOUND', `AuditEvent ${req.params.id} not found`);
        await audit.append(
          auditRecord(
            req.ctx,
            'audit.read',
            entry.record.patient,
            'read',
            { auditEvent: entry.seq },
            { type: 'security' },
          ),
        );
        return reply.type(FHIR_JSON).send(toAuditEvent(entry, 'staff'));
      },
    );
  };
}
