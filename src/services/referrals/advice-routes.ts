import type { FastifyInstance, FastifyReply } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { described, pathParams } from '../route-schemas.js';
import { ERS_HEADERS, OBO_HEADER, ersCaller } from './ers-route-kit.js';
import type { ServiceDeps } from '../service-deps.js';
import { convertAdvice } from './advice-conversion.js';
import { createAdvice } from './advice-create.js';
import { adviceOverviewPdf } from './advice-overview.js';
import { parseConversationQuery } from './advice-read-rules.js';
import { AdviceService } from './advice-service.js';
import {
  adviceView,
  adviceWorklistView,
  conversationView,
  createdAdviceView,
  respondedView,
} from './advice-views.js';
import { useErsErrors } from './ers-errors.js';
import { parseErsIfMatch, parseUbrn, parseVersion } from './referral-rules.js';
import { referralView } from './referral-views.js';
import { REFERRALS_BASE } from './routes.js';

interface UbrnParams {
  ubrn: string;
}
interface VersionParams extends UbrnParams {
  version: string;
}

const OBO_HEADERS = { ...ERS_HEADERS, ...OBO_HEADER };

const send = (reply: FastifyReply, status: number, body: unknown, version?: number) => {
  if (version !== undefined) reply.header('etag', etagFor(version));
  return reply.code(status).type(FHIR_JSON).send(body);
};

/**
 * The advice and guidance route table (docs/referrals.md, "Advice and guidance"), mounted under
 * REFERRALS_BASE as e-RS publishes the paths: a044 $ers.createAdviceAndGuidance, a023
 * $ers.fetchworklist, a024 CommunicationRequest/{ubrn} (and _history/{version}), a025 Communication,
 * a026 $ers.sendCommunicationToRequester, a027 $ers.createFromCommunicationRequestActionLater, a043
 * $ers.generateCRI (the overview PDF).
 * Requesting, answering and converting need `ers.advice`; reading needs `ers.referral.read` and the
 * worklist `ers.worklist.read`, as those operations publish the admin business functions too (the
 * service then allows exactly the functions each operation publishes: advice-rules.ts).
 */
export function adviceRoutes(deps: Pick<ServiceDeps, 'publicUrl' | 'store' | 'audit'>) {
  const baseUrl = deps.publicUrl + REFERRALS_BASE;
  const service = new AdviceService(deps.store, deps.audit, baseUrl);

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const advice = { fhirApi: true, activity: 'ers.advice' } as const;
    const read = { fhirApi: true, activity: 'ers.referral.read' } as const;
    const worklist = { fhirApi: true, activity: 'ers.worklist.read' } as const;

    app.post(
      '/CommunicationRequest/$ers.createAdviceAndGuidance',
      { schema: { headers: described(ERS_HEADERS) }, config: advice },
      async (req, reply) => {
        const created = await createAdvice(
          service,
          req.ctx,
          ersCaller(req, advice.activity, false),
          req.body,
        );
        return send(reply, 200, createdAdviceView(created.request, created.message));
      },
    );

    app.post(
      '/CommunicationRequest/$ers.fetchworklist',
      { schema: { headers: described(OBO_HEADERS) }, config: worklist },
      async (req, reply) => {
        const found = await service.worklist(
          req.ctx,
          ersCaller(req, worklist.activity, true),
          req.body,
        );
        return send(reply, 200, adviceWorklistView(baseUrl, found.requests, found.names));
      },
    );

    app.get<{ Params: UbrnParams }>(
      '/CommunicationRequest/:ubrn',
      { schema: { params: pathParams('ubrn'), headers: described(OBO_HEADERS) }, config: read },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        const stored = await service.read(req.ctx, who, parseUbrn(req.params.ubrn));
        return send(reply, 200, adviceView(stored), stored.version);
      },
    );

    app.get<{ Params: VersionParams }>(
      '/CommunicationRequest/:ubrn/_history/:version',
      {
        schema: { params: pathParams('ubrn', 'version'), headers: described(OBO_HEADERS) },
        config: read,
      },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        const ubrn = parseUbrn(req.params.ubrn);
        const stored = await service.readVersion(
          req.ctx,
          who,
          ubrn,
          parseVersion(req.params.version),
        );
        return send(reply, 200, adviceView(stored), stored.version);
      },
    );

    app.get(
      '/Communication',
      {
        schema: {
          querystring: described({
            'based-on':
              'CommunicationRequest/{ubrn}/_history/{version}: the current version of the request',
            _include: 'the PractitionerRoles and DocumentReferences to include (0..*)',
          }),
          headers: described(OBO_HEADERS),
        },
        config: read,
      },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        const query = parseConversationQuery(req.query as Record<string, unknown>);
        const found = await service.conversation(req.ctx, who, query);
        return send(
          reply,
          200,
          conversationView(baseUrl, found.request, found.messages, query),
          found.request.version,
        );
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/CommunicationRequest/:ubrn/$ers.generateCRI',
      { schema: { params: pathParams('ubrn'), headers: described(OBO_HEADERS) }, config: read },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        const overview = await adviceOverviewPdf(service, req.ctx, who, parseUbrn(req.params.ubrn));
        return reply
          .code(200)
          .type('application/pdf')
          .header('content-disposition', `attachment; filename="${overview.fileName}"`)
          .header('content-length', String(overview.pdf.length))
          .send(overview.pdf);
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/CommunicationRequest/:ubrn/$ers.sendCommunicationToRequester',
      {
        schema: {
          params: pathParams('ubrn'),
          headers: described({
            ...OBO_HEADERS,
            'if-match': 'W/"<version>" of the request last read',
          }),
        },
        config: advice,
      },
      async (req, reply) => {
        const who = ersCaller(req, advice.activity, true);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        const answered = await service.respond(req.ctx, who, ubrn, version, req.body);
        return send(
          reply,
          200,
          respondedView(answered.request, answered.message),
          answered.request.version,
        );
      },
    );

    app.post(
      '/ReferralRequest/$ers.createFromCommunicationRequestActionLater',
      { schema: { headers: described(OBO_HEADERS) }, config: advice },
      async (req, reply) => {
        const referral = await convertAdvice(
          service,
          req.ctx,
          ersCaller(req, advice.activity, true),
          req.body,
        );
        return send(reply, 201, referralView(referral), referral.version);
      },
    );
  };
}
