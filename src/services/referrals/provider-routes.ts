import type { FastifyInstance } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { described, pathParams } from '../route-schemas.js';
import { ERS_HEADERS, ersCaller, sendReferral } from './ers-route-kit.js';
import type { ServiceDeps } from '../service-deps.js';
import { useErsErrors } from './ers-errors.js';
import { parseErsIfMatch, parseUbrn } from './referral-rules.js';
import { parseTaskQuery } from './review-rules.js';
import { ReviewService } from './review-service.js';
import { taskBundle } from './review-views.js';
import { REFERRALS_BASE } from './routes.js';
import { TriageService } from './triage-service.js';
import { sentForTriageView } from './triage-views.js';
import { WorklistService } from './worklist-service.js';
import { worklistView } from './worklist-views.js';

interface UbrnParams {
  ubrn: string;
}

const WITH_OBO = {
  ...ERS_HEADERS,
  'nhsd-ers-on-behalf-of-user-id':
    'the SDS user ID a SERVICE_PROVIDER_CLINICIAN_ADMIN acts for (required with that function only)',
};
const REVIEW_HEADERS = { ...WITH_OBO, 'if-match': 'W/"<version>" of the referral last read' };

/**
 * Triage and the provider side of the e-Referral Service (docs/referrals.md, "Triage and review"):
 * $ers.createReferralAndSendForTriage (a021), $ers.fetchworklist (a008), $ers.acceptReferral (a013),
 * $ers.rejectReferral (a014), $ers.recordReviewOutcome (a028), the available actions for the
 * user (a029, GET /Task), and the referrer's $ers.changeShortlist (a031) and
 * $ers.changeShortlistAndSendForTriage (a032). Each route reads the published headers (parseErsCaller) and makes one
 * call into its use cases; the use cases are built here from the deps, as they serve these routes
 * only. Refusals of this service are answered in eRS's STU3 OperationOutcome (ers-errors.ts).
 */
export function providerRoutes({
  store,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const baseUrl = publicUrl + REFERRALS_BASE;
  const triage = new TriageService(store, audit);
  const review = new ReviewService(store, audit);
  const worklists = new WorklistService(store, audit);

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const create = { fhirApi: true, activity: 'ers.referral.create' } as const;
    const worklist = { fhirApi: true, activity: 'ers.worklist.read' } as const;
    const reviewAccess = { fhirApi: true, activity: 'ers.referral.review' } as const;
    const read = { fhirApi: true, activity: 'ers.referral.read' } as const;

    app.post(
      '/ReferralRequest/$ers.createReferralAndSendForTriage',
      { schema: { headers: described(ERS_HEADERS) }, config: create },
      async (req, reply) => {
        const who = ersCaller(req, create.activity, false);
        const created = await triage.createForTriage(req.ctx, who, req.body);
        const location = `${baseUrl}/ReferralRequest/${created.id}/_history/${created.version}`;
        return sendReferral(reply.header('location', location), created, 201);
      },
    );

    app.post(
      '/ReferralRequest/$ers.fetchworklist',
      { schema: { headers: described(WITH_OBO) }, config: worklist },
      async (req, reply) => {
        const answer = await worklists.fetch(
          req.ctx,
          ersCaller(req, worklist.activity, true),
          req.body,
        );
        return reply.code(200).type(FHIR_JSON).send(worklistView(answer));
      },
    );

    const reviewRoute = { params: pathParams('ubrn'), headers: described(REVIEW_HEADERS) };

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.acceptReferral',
      { schema: reviewRoute, config: reviewAccess },
      async (req, reply) => {
        const who = ersCaller(req, reviewAccess.activity, true);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        return sendReferral(reply, await review.accept(req.ctx, who, ubrn, version));
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.rejectReferral',
      { schema: reviewRoute, config: reviewAccess },
      async (req, reply) => {
        const who = ersCaller(req, reviewAccess.activity, true);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        return sendReferral(reply, await review.reject(req.ctx, who, ubrn, version, req.body));
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.recordReviewOutcome',
      { schema: reviewRoute, config: reviewAccess },
      async (req, reply) => {
        const who = ersCaller(req, reviewAccess.activity, true);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        const saved = await triage.recordOutcome(req.ctx, who, ubrn, version, req.body);
        return sendReferral(reply, saved);
      },
    );

    const shortlistRoute = {
      params: pathParams('ubrn'),
      headers: described({ ...ERS_HEADERS, 'if-match': 'W/"<version>" of the referral last read' }),
    };

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.changeShortlist',
      { schema: shortlistRoute, config: create },
      async (req, reply) => {
        const who = ersCaller(req, create.activity, false);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        const saved = await triage.changeShortlist(req.ctx, who, ubrn, version, req.body, false);
        return sendReferral(reply, saved);
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.changeShortlistAndSendForTriage',
      { schema: shortlistRoute, config: create },
      async (req, reply) => {
        const who = ersCaller(req, create.activity, false);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        const saved = await triage.changeShortlist(req.ctx, who, ubrn, version, req.body, true);
        const appointment = (await triage.currentAppointment(saved.resource))!;
        return reply
          .code(200)
          .type(FHIR_JSON)
          .header('etag', etagFor(saved.version))
          .send(sentForTriageView(saved, appointment));
      },
    );

    app.get(
      '/Task',
      {
        schema: {
          headers: described(WITH_OBO),
          querystring: described({
            focus:
              'ReferralRequest/{ubrn}/_history/{version}: the referral, at its current version',
            intent: "'proposal'",
            status: "'ready'",
          }),
        },
        config: read,
      },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        const query = parseTaskQuery(req.query as Record<string, string | string[] | undefined>);
        const actions = await review.availableActions(req.ctx, who, query);
        return reply
          .code(200)
          .type(FHIR_JSON)
          .send(taskBundle(baseUrl, query, actions));
      },
    );
  };
}
