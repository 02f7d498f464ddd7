import type { FastifyInstance } from 'fastify';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import { nhsNumberFromReference, parameterValue, parametersOf } from '../../fhir/parameters.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { writeOnce, type EarlierAnswer } from '../write-once.js';
import {
  EMERGENCY_ACCESS_TYPE,
  EMERGENCY_REASONS,
  RELATIONSHIP_TYPE,
  type CareRelationship,
  type EmergencyAccessGrant,
} from '../../security/relationships.js';
import type { ServiceDeps } from '../service-deps.js';
import { pathParams } from '../route-schemas.js';

export const SECURITY_BASE = '/security/FHIR/R4';
const REASON_SYSTEM = 'https://openspine.dev/CodeSystem/emergency-access-reason';
const MAX_TEXT = 1000;

function requirePatient(body: unknown): string {
  const raw = parameterValue(parametersOf(body), 'patient');
  if (!raw)
    throw new FhirError(400, 'MISSING_VALUE', "Parameter 'patient' (the NHS Number) is required");
  const nhs = nhsNumberFromReference(raw);
  if (!isValidNhsNumber(nhs))
    throw new FhirError(
      400,
      'INVALID_RESOURCE_ID',
      "Parameter 'patient' is not a valid NHS Number",
    );
  return nhs;
}

function requireText(body: unknown, name: string): string {
  const text = parameterValue(parametersOf(body), name)?.trim();
  if (!text) throw new FhirError(400, 'MISSING_VALUE', `Parameter '${name}' is required`);
  if (text.length > MAX_TEXT)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `Parameter '${name}' is longer than ${MAX_TEXT} characters`,
    );
  return text;
}

function episodeOfCare(rel: CareRelationship) {
  return {
    resourceType: 'EpisodeOfCare',
    id: rel.id,
    status: rel.status === 'active' ? 'active' : 'finished',
    patient: { identifier: { system: NHS_NUMBER_SYSTEM, value: rel.patient } },
    managingOrganization: { identifier: { system: ODS_SYSTEM, value: rel.org } },
    period: { start: rel.start, ...(rel.end ? { end: rel.end } : {}) },
  };
}

function grantParameters(grant: EmergencyAccessGrant) {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'grant', valueId: grant.id },
      { name: 'patient', valueIdentifier: { system: NHS_NUMBER_SYSTEM, value: grant.patient } },
      {
        name: 'reasonCode',
        valueCoding: {
          system: REASON_SYSTEM,
          code: grant.reasonCode,
          display: EMERGENCY_REASONS[grant.reasonCode],
        },
      },
      { name: 'expires', valueDateTime: grant.expires },
    ],
  };
}

function claimParameters(rel: CareRelationship) {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'relationship', valueId: rel.id },
      { name: 'kind', valueCode: rel.kind },
      { name: 'org', valueString: rel.org },
    ],
  };
}

const grantOf = ({ stored }: EarlierAnswer<EmergencyAccessGrant>) => stored.resource;
const relationshipOf = ({ stored }: EarlierAnswer<CareRelationship>) => stored.resource;

/**
 * Security operations on a patient's record: emergency (break-glass) access, self-claimed
 * relationships, and care episodes that give an organisation a legitimate relationship. Each write
 * is recorded under its X-Request-ID (../write-once.ts): a retry gets the original answer
 * and grants, claims, opens or closes nothing more.
 */
export function securityRoutes({
  store: repo,
  relationships,
  metrics,
}: Pick<ServiceDeps, 'store' | 'relationships' | 'metrics'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const fhir = { fhirApi: true } as const;

    app.post(
      '/$emergency-access',
      { config: { ...fhir, activity: 'emergency.access' } },
      async (req, reply) => {
        const grant = await writeOnce(repo, req.ctx, {
          answers: EMERGENCY_ACCESS_TYPE,
          asBefore: grantOf,
          write: async ({ record }) => {
            const patient = requirePatient(req.body);
            const params = parametersOf(req.body);
            const reasonCode = parameterValue(params, 'reasonCode');
            if (!reasonCode)
              throw new FhirError(
                400,
                'MISSING_VALUE',
                `Parameter 'reasonCode' is required: one of ${Object.keys(EMERGENCY_REASONS).join(', ')}`,
              );
            if (!Object.hasOwn(EMERGENCY_REASONS, reasonCode))
              throw new FhirError(
                400,
                'INVALID_VALUE',
                `Parameter 'reasonCode' must be one of ${Object.keys(EMERGENCY_REASONS).join(', ')}`,
              );
            const reasonText = requireText(req.body, 'reasonText');
            if (!(await repo.readJson('Patient', patient)))
              throw new FhirError(404, 'RESOURCE_NOT_FOUND', 'Patient not found');
            const grant = await relationships.grantEmergencyAccess(
              req.ctx,
              patient,
              reasonCode,
              reasonText,
              undefined,
              { record, status: 201 },
            );
            // counted once it is recorded (a replayed request grants nothing more)
            metrics?.breakGlass();
            return grant;
          },
        });
        return reply.code(201).type(FHIR_JSON).send(grantParameters(grant));
      },
    );

    app.post(
      '/$claim-relationship',
      { config: { ...fhir, activity: 'relationship.claim' } },
      async (req, reply) => {
        const rel = await writeOnce(repo, req.ctx, {
          answers: RELATIONSHIP_TYPE,
          asBefore: relationshipOf,
          write: async ({ record }) => {
            const patient = requirePatient(req.body);
            const reason = requireText(req.body, 'reason');
            if (!(await repo.readJson('Patient', patient)))
              throw new FhirError(404, 'RESOURCE_NOT_FOUND', 'Patient not found');
            return relationships.selfClaim(req.ctx, patient, reason, { record, status: 201 });
          },
        });
        return reply.code(201).type(FHIR_JSON).send(claimParameters(rel));
      },
    );

    app.post(
      '/EpisodeOfCare',
      { config: { ...fhir, activity: 'care.episode' } },
      async (req, reply) => {
        const rel = await writeOnce(repo, req.ctx, {
          answers: RELATIONSHIP_TYPE,
          asBefore: relationshipOf,
          write: async ({ record }) => {
            const body = req.body as {
              resourceType?: unknown;
              patient?: { identifier?: { value?: unknown }; reference?: unknown };
            } | null;
            if (!body || body.resourceType !== 'EpisodeOfCare')
              throw new FhirError(400, 'INVALID_VALUE', 'Request body must be an EpisodeOfCare');
            const raw = body.patient?.identifier?.value ?? body.patient?.reference;
            const patient = typeof raw === 'string' ? nhsNumberFromReference(raw) : '';
            if (!isValidNhsNumber(patient))
              throw new FhirError(
                400,
                'INVALID_RESOURCE_ID',
                'EpisodeOfCare.patient must identify a patient by a valid NHS Number',
              );
            if (!(await repo.readJson('Patient', patient)))
              throw new FhirError(404, 'RESOURCE_NOT_FOUND', 'Patient not found');
            const org = req.ctx.principal!.org;
            return relationships.record(
              { patient, org, kind: 'care-episode', source: `user:${req.ctx.principal!.userId}` },
              [auditRecord(req.ctx, 'care.episode', patient, 'opened', { org })],
              { record, status: 201 },
            );
          },
        });
        return reply
          .code(201)
          .type(FHIR_JSON)
          .header('location', `${SECURITY_BASE}/EpisodeOfCare/${rel.id}`)
          .send(episodeOfCare(rel));
      },
    );

    app.post<{ Params: { id: string } }>(
      '/EpisodeOfCare/:id/$close',
      { schema: { params: pathParams('id') }, config: { ...fhir, activity: 'care.episode' } },
      async (req, reply) => {
        const ended = await writeOnce(repo, req.ctx, {
          answers: RELATIONSHIP_TYPE,
          asBefore: relationshipOf,
          write: async ({ record }) => {
            const rel = await relationships.get(req.params.id);
            const org = req.ctx.principal!.org;
            // another organisation's episode is reported as absent, not as forbidden
            if (!rel || rel.kind !== 'care-episode' || rel.org !== org)
              throw new FhirError(404, 'RESOURCE_NOT_FOUND', 'Episode of care not found');
            // closed a moment ago by a twin of this very request (409 or a version conflict): answered as it was
            const closed = await relationships.end(
              rel.id,
              [auditRecord(req.ctx, 'care.episode', rel.patient, 'closed', { org })],
              { record, status: 200 },
            );
            if (!closed)
              throw new FhirError(409, 'INVALID_UPDATE', 'Episode of care is already closed');
            return closed;
          },
        });
        return reply.type(FHIR_JSON).send(episodeOfCare(ended));
      },
    );
  };
}
