/**
 * $ers.createAdviceAndGuidance (a044): a referrer asks a provider's e-RS service for advice. The
 * request is stored under a UBRN no referral holds (a converted request keeps it), with its first
 * message, audit record and outbox message in one commit, through writeOnce.
 */
import type { HealthcareService } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { ersProfileOf, HEALTHCARE_SERVICE, type ErsProfile } from '../directory/index.js';
import { requireCurrentPatient } from '../pds/index.js';
import { writeOnce } from '../write-once.js';
import { adviceMessage } from './advice-access.js';
import { resolveAttachments } from './advice-attachments.js';
import { ADVICE_REQUEST } from './advice-model.js';
import { adviceWrites, newAdviceRequest, newMessage } from './advice-records.js';
import { parseCreateAdvice, requirePublishedFunction } from './advice-rules.js';
import { actorsOf, type AdviceExchange, type AdviceService } from './advice-service.js';
import { ersError } from './ers-errors.js';
import { ERS_ADVICE_CREATED } from './event-topics.js';
import { drawUbrn, ubrnReservation } from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';

/** How many UBRNs a create draws before giving up (as a referral's create). */
const UBRN_ATTEMPTS = 50;

/** The provider's e-RS service a request goes to, its e-RS profile and the providing organisation. */
export interface AdviceTarget {
  service: HealthcareService;
  profile: ErsProfile;
  provider: string;
}

const unsuitable = (why: string) =>
  ersError(422, 'business-rule', 'SHORTLISTED_SERVICE_NOT_IN_RESULTS', why);

/** a044: a new request to a service taking A&G, in PROVIDER_RESPONSE_REQUIRED, with its first message. */
export function createAdvice(
  service: AdviceService,
  ctx: RequestContext,
  caller: ErsCaller,
  body: unknown,
): Promise<AdviceExchange> {
  const { store } = service;
  requirePublishedFunction(caller, 'create');
  return writeOnce(store, ctx, {
    answers: ADVICE_REQUEST,
    asBefore: (earlier) => service.exchangeOf(earlier),
    write: async ({ record, twin }) => {
      const request = parseCreateAdvice(body, caller.businessFunction);
      await requireCurrentPatient(store, request.nhsNumber);
      const target = await adviceTarget(store, request.serviceId, caller.ods);
      const attachments = await resolveAttachments(store, request.attachments, { ods: caller.ods });
      const { criteria } = request;
      if (!criteria.priority)
        throw ersError(
          422,
          'required',
          'MISSING_VALUE',
          "the shortlist's search criteria must give a priority",
        );
      if (!(target.profile.priorities as readonly string[]).includes(criteria.priority))
        throw unsuitable(
          `Service ${request.serviceId} does not take ${criteria.priority} requests`,
        );
      if (criteria.specialty && criteria.specialty !== target.profile.specialty)
        throw unsuitable(`Service ${request.serviceId} is not a ${criteria.specialty} service`);
      if (criteria.clinicType && !target.profile.clinicTypes.includes(criteria.clinicType))
        throw unsuitable(`Service ${request.serviceId} has no ${criteria.clinicType} clinic type`);
      const { sender, requester } = actorsOf(
        ctx,
        caller,
        request.referringClinician
          ? { userId: request.referringClinician, fn: 'REFERRING_CLINICIAN' }
          : undefined,
      );
      for (let attempt = 0; attempt < UBRN_ATTEMPTS; attempt++) {
        const ubrn = drawUbrn();
        const time = service.now().toISOString();
        const advice = newAdviceRequest({
          ubrn,
          request,
          sender,
          requester,
          provider: target.provider,
          serviceName: target.service.name ?? request.serviceId,
          specialty: {
            system: `${service.baseUrl}/CodeSystem/SPECIALTY`,
            code: target.profile.specialty,
          },
          priority: criteria.priority,
          time,
        });
        const message = newMessage({
          ubrn,
          n: 1,
          version: 1,
          sentBy: 'REQUESTER',
          sender,
          requester,
          to: { service: request.serviceId },
          text: request.request,
          attachments,
          time,
        });
        try {
          const [, saved, sent] = await store.commit({
            resources: [
              // an A&G request keeps its UBRN when converted, so it reserves it from referrals too
              ubrnReservation(ubrn, 'CommunicationRequest'),
              ...adviceWrites(advice, 0, message),
            ],
            audit: [
              auditRecord(ctx, 'ers.advice.create', request.nhsNumber, 'success', {
                ubrn,
                businessFunction: caller.businessFunction,
                service: request.serviceId,
                provider: target.provider,
                attachments: request.attachments.length,
              }),
            ],
            messages: [adviceMessage(ERS_ADVICE_CREATED, advice, 1, time)],
            request: record({
              status: 200,
              resourceType: ADVICE_REQUEST,
              resourceId: ubrn,
              version: 1,
            }),
          });
          return { request: saved, message: sent } as AdviceExchange;
        } catch (err) {
          if (!(err instanceof VersionConflictError)) throw err;
          // the UBRN is already held (or this very request's twin committed): draw another
          const answered = await twin();
          if (answered) return answered;
        }
      }
      throw ersError(
        503,
        'transient',
        'SERVICE_UNAVAILABLE',
        'Too many requests at once; try again',
      );
    },
  });
}

/**
 * The e-RS service a request goes to: in the directory (REFERENCE_NOT_FOUND), active and taking
 * A&G (INAPPROPRIATE_VALUE), open to the referrer (SHORTLISTED_SERVICE_NOT_IN_RESULTS); its
 * provider is the organisation that provides it.
 */
async function adviceTarget(
  store: ResourceStore,
  serviceId: string,
  referrer: string,
): Promise<AdviceTarget> {
  const stored = await store.read(HEALTHCARE_SERVICE, serviceId);
  if (!stored)
    throw ersError(
      422,
      'not-found',
      'REFERENCE_NOT_FOUND',
      `Service ${serviceId} is not in the directory`,
    );
  const service = stored.resource;
  const profile = ersProfileOf(service);
  const provider = service.providedBy?.identifier?.value;
  if (service.active === false)
    throw ersError(
      422,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      `Service ${serviceId} is not active`,
    );
  if (!profile || !profile.adviceAndGuidance || !provider)
    throw ersError(
      422,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      `Service ${serviceId} does not take advice and guidance requests`,
    );
  if (profile.restrictedTo && !profile.restrictedTo.includes(referrer))
    throw unsuitable(`Service ${serviceId} does not take requests from organisation ${referrer}`);
  return { service, profile, provider };
}
