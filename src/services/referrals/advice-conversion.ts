/**
 * $ers.createFromCommunicationRequestActionLater (a027): the provider converts an advice and
 * guidance request into a referral, tasks its admin team to shortlist services, and sends its
 * final guidance to the referrer. As published (sandbox convertAdviceAndGuidanceToReferral and
 * retrieveReferralRequest/ConvertedFromAdviceAndGuidance): the referral keeps the request's UBRN,
 * starts in TRIAGED_PROVIDER_TO_ACTION with review outcome
 * PROVIDER_CONVERTED_ADVICE_AND_GUIDANCE_ADMIN_TO_REFER and the review comments, and names the
 * request in its supportingInfo; the request moves to ADVICE_CONVERTED and records the referral.
 * Everything (request, guidance message, referral, audit, events, X-Request-ID) commits at once.
 */
import { randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { StoredResource } from '../../store/resource-store.js';
import { requireCurrentPatient } from '../pds/index.js';
import { writeOnce, type EarlierAnswer } from '../write-once.js';
import {
  adviceMessage,
  commitAdviceChange,
  requireAdviceVersion,
  visibleAdvice,
} from './advice-access.js';
import {
  advicePatientOf,
  adviceProviderOf,
  adviceReferrerOf,
  adviceServiceOf,
  adviceStateOf,
  conversionOf,
  CONVERTED_TO_URL,
  messageCountOf,
  SPECIALTY_URL,
  withOwn,
  type AdviceRequest,
} from './advice-model.js';
import { resolveAttachments, type ResolvedAttachment } from './advice-attachments.js';
import { adviceWrites, documentReference, nextAdviceRequest } from './advice-records.js';
import { parseConvert, requirePublishedFunction, type ConvertRequest } from './advice-rules.js';
import { actorsOf, providerReply, type AdviceService } from './advice-service.js';
import { adviceTransition } from './advice-transitions.js';
import { ersError } from './ers-errors.js';
import { ERS_ADVICE_CONVERTED, ERS_REFERRAL_CREATED } from './event-topics.js';
import { referralMessage } from './referral-events.js';
import { HEALTHCARE_SERVICE } from '../directory/index.js';
import {
  PRIORITY_SYSTEM,
  REFERRAL_REQUEST,
  withProvider,
  type ReferralRequest,
} from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';
import { newReferral } from './referral-service.js';
import type { ReferralState } from './referral-transitions.js';
import { inState, referralWrite } from './referral-writes.js';

/** The state a converted referral starts in (the published ConvertedFromAdviceAndGuidance example). */
export const CONVERTED_REFERRAL_STATE: ReferralState = 'TRIAGED_PROVIDER_TO_ACTION';
const REVIEW_OUTCOME = {
  system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReviewOutcome-1',
  code: 'PROVIDER_CONVERTED_ADVICE_AND_GUIDANCE_ADMIN_TO_REFER',
  display: 'Provider Converted Advice and Guidance, Admin to Refer',
};

const asReferral = ({ stored }: EarlierAnswer<ReferralRequest>) => stored;

/** a027: the new referral (201), after the request, its guidance message and the referral commit together. */
export function convertAdvice(
  service: AdviceService,
  ctx: RequestContext,
  caller: ErsCaller,
  body: unknown,
): Promise<StoredResource<ReferralRequest>> {
  requirePublishedFunction(caller, 'convert');
  const { store } = service;
  return writeOnce(store, ctx, {
    answers: REFERRAL_REQUEST,
    asBefore: asReferral,
    write: async ({ record }) => {
      const convert = parseConvert(body);
      const { ubrn } = convert;
      const stored = await visibleAdvice(service, ctx, caller.ods, ubrn, 'ers.advice.convert', [
        'provider',
      ]);
      const state = adviceTransition(adviceStateOf(stored.resource), 'convert');
      requireAdviceVersion(stored.version, convert.version);
      if (conversionOf(stored.resource) !== 'AUTHORISED_TO_CONVERT')
        throw ersError(
          422,
          'business-rule',
          'INAPPROPRIATE_VALUE',
          `The referrer has not authorised the provider to convert advice and guidance request ${ubrn} to a referral`,
        );
      await service.requirePriority(adviceServiceOf(stored.resource), convert.priority);
      await requireCurrentPatient(store, advicePatientOf(stored.resource));
      const time = service.now().toISOString();
      const version = stored.version + 1;
      const n = messageCountOf(stored.resource) + 1;
      const message = await providerReply(store, ctx, caller, stored, {
        text: convert.guidance,
        attachments: convert.guidanceAttachments,
        time,
        outcome: { outcome: 'PROVIDER_CONVERTED' },
      });
      const next = withOwn(nextAdviceRequest(stored.resource, state, n), CONVERTED_TO_URL, {
        valueReference: { reference: `ReferralRequest/${ubrn}` },
      });
      const names = await serviceName(service, adviceServiceOf(stored.resource));
      const reviewFiles = await resolveAttachments(store, convert.reviewAttachments, {
        ods: caller.ods,
        ubrn,
      });
      const { sender } = actorsOf(ctx, caller);
      const referral = convertedReferral(stored.resource, convert, reviewFiles, names, sender);
      const saved = await commitAdviceChange(store, {
        resources: [
          ...adviceWrites(next, stored.version, message),
          // a referral already holding this UBRN (one drawn at random since the request was made)
          // refuses the whole batch (409) rather than being overwritten
          referralWrite(referral, 0),
        ],
        audit: [
          auditRecord(ctx, 'ers.advice.convert', advicePatientOf(next), 'success', {
            ubrn,
            businessFunction: caller.businessFunction,
            attachments: convert.guidanceAttachments.length + convert.reviewAttachments.length,
          }),
          auditRecord(ctx, 'ers.referral.create', advicePatientOf(next), 'success', {
            ubrn,
            fromAdvice: ubrn,
            businessFunction: caller.businessFunction,
          }),
        ],
        messages: [
          adviceMessage(ERS_ADVICE_CONVERTED, next, version, time, 'PROVIDER_CONVERTED'),
          referralMessage(ERS_REFERRAL_CREATED, referral, 1, time, REVIEW_OUTCOME.code),
        ],
        request: record({
          status: 201,
          resourceType: REFERRAL_REQUEST,
          resourceId: ubrn,
          version: 1,
        }),
      });
      return saved[2] as StoredResource<ReferralRequest>;
    },
  });
}

async function serviceName(service: AdviceService, id: string): Promise<Map<string, string>> {
  const stored = await service.store.read(HEALTHCARE_SERVICE, id);
  return new Map([[id, stored?.resource.name ?? id]]);
}

/**
 * The referral a request becomes: built by the referral's own create path (newReferral) from the
 * request's shortlist and patient at the new priority, sent to the request's provider, in
 * CONVERTED_REFERRAL_STATE with the review outcome and comments, the provider's review attachments
 * contained, and the request named in supportingInfo.
 */
function convertedReferral(
  r: AdviceRequest,
  convert: ConvertRequest,
  reviewFiles: ResolvedAttachment[],
  names: Map<string, string>,
  by: ReturnType<typeof actorsOf>['sender'],
): ReferralRequest {
  const shortlist = r.contained.find((c) => c.id === 'shortlist') ?? {
    resourceType: 'List',
    entry: [],
  };
  const criteria = r.contained.find((c) => c.id === 'serviceSearchCriteria');
  const built = newReferral(
    r.id,
    {
      nhsNumber: advicePatientOf(r),
      shortlist,
      serviceIds: [adviceServiceOf(r)],
      priority: { system: PRIORITY_SYSTEM, code: convert.priority },
      extra: [],
    },
    adviceReferrerOf(r),
    names,
  );
  const outcome: { reason: { system: string; code: string }; comments?: string } = {
    reason: REVIEW_OUTCOME,
    comments: convert.reviewComments,
  };
  const referral = inState(
    withProvider(built, adviceProviderOf(r)),
    CONVERTED_REFERRAL_STATE,
    outcome,
  );
  const documents = reviewFiles.map((a, i) => documentReference(`${r.id}-review-${i + 1}`, a, by));
  const specialty = r.extension.find((e) => e.url === SPECIALTY_URL)?.valueCoding;
  return {
    ...referral,
    contained: [...(criteria ? [criteria] : []), ...(referral.contained ?? []), ...documents],
    ...(specialty ? { specialty: { coding: [specialty] } } : {}),
    supportingInfo: [
      ...documents.map((d) => ({ reference: `#${d.id}` })),
      { reference: `CommunicationRequest/${r.id}` },
    ],
    identifier: [{ system: 'https://fhir.nhs.uk/Id/ers-request-id', value: `r.${randomUUID()}` }],
  };
}
