import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toAuditEvent } from '../../audit/audit-event.js';
import { auditRecord } from '../../audit/audit-record.js';
import { searchAuditEvents } from '../../audit/audit-search.js';
import { buildAuditExport, exportRange } from '../../audit/export.js';
import { AUDIT_SEARCH_PARAMS, parseAuditSearch } from '../../audit/search-params.js';
import { statementVerifier } from '../../audit/signed-head.js';
import { verifyStoredChain } from '../../audit/store-verifier.js';
import { FhirError } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { historicPublicJwks } from '../../security/signing-keys.js';
import type { ServiceDeps } from '../service-deps.js';
import { SECURITY_BASE } from './routes.js';
import { securityApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import { pathParams, queryParams } from '../route-schemas.js';

/**
 * The audit trail as FHIR: AuditEvent search (exact, off a background index), one entry by seq,
 * chain verification including the signed checkpoints, and a self-verifying signed export. The
 * catch-up indexer and the checkpoint signer that feed it run from plugin.ts.
 */
export function auditRoutes({
  store: repo,
  audit,
  signingKey,
  config,
}: Pick<ServiceDeps, 'store' | 'audit' | 'signingKey' | 'config'>) {
  const verify = statementVerifier(historicPublicJwks(signingKey));
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

    app.get(
      '/AuditEvent',
      {
        schema: { querystring: queryParams(AUDIT_SEARCH_PARAMS) },
        config: { fhirApi: true, activity: 'audit.read', patientFrom: { query: 'patient' } },
      },
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
      {
        schema: { querystring: queryParams(['from', 'to'], 'entry number in the audit chain') },
        config: { fhirApi: true, activity: 'audit.read', locationRelease: 'signed-audit-export' },
      },
      async (req, reply) => {
        staffOnly(req);
        const { from, to } = exportRange(
          req.query as Record<string, unknown>,
          (await repo.audit.auditHead()).seq,
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
      { schema: { params: pathParams('id') }, config: { fhirApi: true, activity: 'audit.read' } },
      async (req, reply) => {
        staffOnly(req);
        if (!/^[1-9]\d{0,14}$/.test(req.params.id))
          throw new FhirError(
            400,
            'INVALID_RESOURCE_ID',
            'An AuditEvent id is the entry number in the audit chain',
          );
        const [entry] = await repo.audit.readAuditEntries([Number(req.params.id)]);
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
