import type { FastifyInstance, FastifyReply } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { etagFor } from '../../fhir/etag.js';
import { requireNhsNumber } from '../../fhir/nhs-number.js';
import { nhsNumberFromReference, parametersOf, parameterValue } from '../../fhir/parameters.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { principalMayPerform } from '../../security/access-control.js';
import type { ServiceDeps } from '../service-deps.js';
import { CHOICES, codeForOptOut } from './consent-codes.js';
import { ConsentService, type RecordedConsent } from './consent-service.js';
import { consentPatient, parseConsent, type ConsentRequest } from './consent-rules.js';
import {
  parseSetPermission,
  permissionPatient,
  permissionResponse,
  recordPermission,
} from './permission.js';
import { SCR_BASE } from './routes.js';
import { pathParams, queryParams } from '../route-schemas.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The $set-opt-out body: Parameters with 'patient' (the NHS Number) and 'optOut' (valueBoolean). */
function parseSetOptOut(body: unknown): ConsentRequest {
  const params = parametersOf(body);
  const nhs = parameterValue(params, 'patient');
  if (nhs === undefined)
    throw new FhirError(400, 'MISSING_VALUE', "Missing value - parameter 'patient' is required");
  const nhsNumber = nhsNumberFromReference(nhs);
  requireNhsNumber(nhsNumber);
  const optOut = params.find((p) => p.name === 'optOut')?.valueBoolean;
  if (typeof optOut !== 'boolean')
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - parameter 'optOut' (valueBoolean) is required",
    );
  return { nhsNumber, code: codeForOptOut(optOut) };
}

/**
 * SCR consent routes: patients' choices as FHIR Consent resources (SCR core, additional
 * information, dissent; the national data opt-out), and the clinician's permission to view.
 * Consent activities are not clinical, so no legitimate relationship is needed to record a choice;
 * recording permission to view is part of viewing, so it is.
 */
export function scrConsentRoutes({
  store: repo,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const service = new ConsentService(repo, audit);
  const baseUrl = publicUrl + SCR_BASE;
  const sendConsent = (reply: FastifyReply, r: RecordedConsent, status = 200) =>
    reply.code(status).type(FHIR_JSON).header('etag', etagFor(r.version)).send(r.consent);
  const created = async (reply: FastifyReply, r: RecordedConsent) =>
    sendConsent(reply.header('location', `${baseUrl}/Consent/${r.consent.id}`), r, 201);

  return async function plugin(app: FastifyInstance): Promise<void> {
    // the patient is inside the body; the platform checks a patient token against it before the handler
    app.post(
      '/Consent',
      { config: { fhirApi: true, activity: 'scr.consent', patientFrom: { body: consentPatient } } },
      async (req, reply) => {
        const request = parseConsent(req.body);
        const principal = req.ctx.principal!;
        // the opt-out is its own activity: a role may record SCR choices without managing the opt-out
        if (
          CHOICES[request.code].effect.kind === 'optout' &&
          !principalMayPerform(principal, 'optout.manage')
        ) {
          throw new FhirError(
            403,
            'ACCESS_DENIED',
            `Role ${principal.role || principal.userId} is not permitted to perform 'optout.manage'`,
          );
        }
        return created(reply, await service.record(req.ctx, request));
      },
    );

    app.post(
      '/$set-opt-out',
      { config: { fhirApi: true, activity: 'optout.manage', patientFrom: { body: true } } },
      async (req, reply) => created(reply, await service.record(req.ctx, parseSetOptOut(req.body))),
    );

    app.get(
      '/Consent',
      {
        schema: { querystring: queryParams(['patient'], 'NHS Number') },
        config: {
          fhirApi: true,
          activity: 'scr.consent',
          patientFrom: { query: 'patient' },
          searchParams: ['patient'],
        },
      },
      async (req, reply) => {
        const raw = (req.query as Record<string, unknown>).patient;
        if (raw === undefined || raw === '')
          throw new FhirError(
            400,
            'MISSING_VALUE',
            "Missing value - search parameter 'patient' is required",
          );
        if (typeof raw !== 'string')
          throw new FhirError(400, 'INVALID_SEARCH_DATA', 'Only one patient may be named');
        const nhs = nhsNumberFromReference(raw);
        requireNhsNumber(nhs, undefined, {
          code: 'INVALID_SEARCH_DATA',
          diagnostics: (shown) => `Invalid search data - NHS Number '${shown}' is not valid`,
        });
        const { consents } = await service.list(req.ctx, nhs);
        return reply.type(FHIR_JSON).send(service.searchset(consents, baseUrl));
      },
    );

    // no patient in the path, so patient tokens use the search above rather than this
    app.get<{ Params: { id: string } }>(
      '/Consent/:id',
      { schema: { params: pathParams('id') }, config: { fhirApi: true, activity: 'scr.consent' } },
      async (req, reply) => {
        if (!UUID.test(req.params.id))
          throw new FhirError(
            400,
            'INVALID_RESOURCE_ID',
            `Invalid resource ID - '${req.params.id.slice(0, 40)}' is not a Consent id`,
          );
        return sendConsent(reply, await service.read(req.ctx, req.params.id));
      },
    );

    app.post(
      '/$setPermission',
      { config: { fhirApi: true, activity: 'scr.view', patientFrom: { body: permissionPatient } } },
      async (req, reply) => {
        const permission = await recordPermission(repo, req.ctx, parseSetPermission(req.body));
        // 201, as the published API answers a permission recorded
        return reply
          .code(201)
          .type(FHIR_JSON)
          .send(permissionResponse(permission, req.ctx.accessBasis));
      },
    );
  };
}
