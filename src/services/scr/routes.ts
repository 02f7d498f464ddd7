import type { Patient } from 'fhir/r4.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { nhsNumberFromReference } from '../../fhir/parameters.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ServiceDeps } from '../service-deps.js';
import { requireCurrentSubject } from './document-access.js';
import { ScrDocumentService } from './document-service.js';
import { scrApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import { documentSubject, validateScrDocument, type ValidDocument } from './document-rules.js';
import { GP_SUMMARY } from './document-model.js';
import { registerAlertRoute } from './alert-routes.js';
import { pathParams, queryParams } from '../route-schemas.js';

/** Where the SCR FHIR API is mounted: the one spelling of its base path (both route tables use it). */
export const SCR_BASE = '/summary-care-record/FHIR/R4';

/** The patient named in the query (the access-control hook has already checked it is one, and may be seen). */
function queryPatient(req: FastifyRequest, name: string): string {
  const raw = (req.query as Record<string, unknown>)[name];
  if (typeof raw !== 'string' || raw === '')
    throw new FhirError(
      400,
      'MISSING_VALUE',
      `Query parameter '${name}' naming the patient is required`,
    );
  return nhsNumberFromReference(raw);
}

const SUBJECT_PARAM = 'composition.subject:Patient.identifier';

/** The one composition.identifier a Bundle search gives, with any 'system|' prefix taken off. */
function compositionIdentifier(req: FastifyRequest): string {
  const raw = (req.query as Record<string, unknown>)['composition.identifier'];
  if (Array.isArray(raw))
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      "Invalid search data - give one 'composition.identifier'",
    );
  const value = typeof raw === 'string' ? raw.slice(raw.lastIndexOf('|') + 1) : '';
  if (value === '')
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - search parameter 'composition.identifier' is required",
    );
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(value))
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      `Invalid search data - '${value.slice(0, 64)}' is not a document identifier`,
    );
  return value;
}

const DOCUMENT_REFERENCE_PARAMS = ['patient', 'type', '_sort', '_count'];

/** The published DocumentReference search's options: type is the GP summary, _sort=date, _count=1 (the latest only). */
function documentReferenceOptions(req: FastifyRequest): boolean {
  const q = req.query as Record<string, unknown>;
  for (const name of ['type', '_sort', '_count']) {
    if (Array.isArray(q[name]))
      throw new FhirError(400, 'INVALID_SEARCH_DATA', `Invalid search data - give '${name}' once`);
  }
  if (
    q.type !== undefined &&
    String(q.type).slice(String(q.type).lastIndexOf('|') + 1) !== GP_SUMMARY.code
  ) {
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      `Invalid search data - 'type' must be ${GP_SUMMARY.system}|${GP_SUMMARY.code}`,
    );
  }
  if (q._sort !== undefined && q._sort !== 'date')
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      "Invalid search data - the only supported '_sort' is 'date'",
    );
  if (q._count !== undefined && q._count !== '1')
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      "Invalid search data - the only supported '_count' is 1",
    );
  return q._count === '1';
}

/**
 * SCR document routes: upload (POST /Bundle), the DocumentReference list, one version
 * (GET /Bundle/{id}?patient=, or the published search form GET /Bundle?composition.identifier=)
 * and the flattened $summary. Retrievals name the patient in the query,
 * as the NHS SCR API does, so the platform checks the relationship before anything is read; an
 * upload names its patient inside the document, which the platform reads through documentSubject.
 */
export function scrDocumentRoutes({
  store: repo,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const baseUrl = publicUrl + SCR_BASE;
  const service = new ScrDocumentService(repo, audit, baseUrl);
  // the validated document travels from the validation hook to the handler with its request
  const validated = new WeakMap<FastifyRequest, { doc: ValidDocument; patient: Patient }>();

  return async function plugin(app: FastifyInstance): Promise<void> {
    registerMetadataRoute(app, scrApi(SCR_BASE, publicUrl));
    // privacy alerts (POST /AuditEvent) go into the platform's audit trail
    registerAlertRoute(app, repo);
    app.post(
      '/Bundle',
      {
        config: { fhirApi: true, activity: 'scr.upload', patientFrom: { body: documentSubject } },
        // before the platform's relationship check: a malformed document, or one about an unknown or
        // superseded patient, gets its own answer instead of a relationship refusal
        preValidation: async (req) => {
          const doc = validateScrDocument(req.body);
          validated.set(req, { doc, patient: await requireCurrentSubject(repo, doc.subjectNhs) });
        },
      },
      async (req, reply) => {
        const { doc, patient } = validated.get(req)!;
        const stored = await service.upload(req.ctx, doc, patient);
        return reply
          .code(201)
          .type(FHIR_JSON)
          .header('location', `${baseUrl}/Bundle/${stored.id}?patient=${stored.patient}`)
          .send(stored.bundle);
      },
    );

    // the published search: ?patient=https://fhir.nhs.uk/Id/nhs-number|<NHS Number>[&type=<GP summary>][&_sort=date][&_count=1]
    app.get(
      '/DocumentReference',
      {
        schema: { querystring: queryParams(DOCUMENT_REFERENCE_PARAMS) },
        config: {
          fhirApi: true,
          activity: 'scr.view',
          patientFrom: { query: 'patient' },
          searchParams: DOCUMENT_REFERENCE_PARAMS,
        },
      },
      async (req, reply) => {
        const latestOnly = documentReferenceOptions(req);
        return reply
          .type(FHIR_JSON)
          .send(
            await service.documentReferences(req.ctx, queryPatient(req, 'patient'), { latestOnly }),
          );
      },
    );

    app.get<{ Params: { id: string } }>(
      '/Bundle/:id',
      {
        schema: { params: pathParams('id'), querystring: queryParams(['patient'], 'NHS Number') },
        config: { fhirApi: true, activity: 'scr.view', patientFrom: { query: 'patient' } },
      },
      async (req, reply) =>
        reply
          .type(FHIR_JSON)
          .send(await service.bundle(req.ctx, req.params.id, queryPatient(req, 'patient'))),
    );

    // the published API's search form: GET
    // /Bundle?composition.identifier=&composition.subject:Patient.identifier=system|nhs
    app.get(
      '/Bundle',
      {
        schema: { querystring: queryParams(['composition.identifier', SUBJECT_PARAM]) },
        config: {
          fhirApi: true,
          activity: 'scr.view',
          patientFrom: { query: SUBJECT_PARAM },
          searchParams: ['composition.identifier', SUBJECT_PARAM],
        },
      },
      async (req, reply) =>
        reply
          .type(FHIR_JSON)
          .send(
            await service.searchBundles(
              req.ctx,
              compositionIdentifier(req),
              queryPatient(req, SUBJECT_PARAM),
            ),
          ),
    );

    app.get(
      '/$summary',
      {
        schema: { querystring: queryParams(['patient'], 'NHS Number') },
        config: {
          fhirApi: true,
          activity: 'scr.view',
          patientFrom: { query: 'patient' },
          searchParams: ['patient'],
        },
      },
      async (req, reply) =>
        reply.type(FHIR_JSON).send(await service.summary(req.ctx, queryPatient(req, 'patient'))),
    );
  };
}
