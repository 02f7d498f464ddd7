/**
 * Triage: a referrer sends a new referral straight to a triage service
 * ($ers.createReferralAndSendForTriage, a021), the provider records its triage outcome
 * ($ers.recordReviewOutcome, a028: accept and book later, or return to the referrer with advice),
 * and the referrer changes the shortlist ($ers.changeShortlist, a031), or changes it to one triage
 * service and sends it there ($ers.changeShortlistAndSendForTriage, a032).
 * Writes go through writeOnce and commitNewReferral / commitReferralChange; every change of state
 * is a transition() of the one table; access goes through visibleReferral.
 */
import type { HealthcareService } from 'fhir/r4.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { ersProfileOf } from '../directory/index.js';
import { ersError } from './ers-errors.js';
import {
  ERS_REFERRAL_CREATED,
  ERS_REFERRAL_SENT,
  ERS_REFERRAL_SHORTLIST_CHANGED,
  ERS_REFERRAL_TRIAGED,
} from './event-topics.js';
import {
  APPOINTMENT,
  appointmentIdOf,
  APPOINTMENT_DESCRIPTION,
  APPOINTMENT_PROFILES,
  appointmentWrite,
  nextAppointmentId,
  participants,
  referralReference,
  withAppointment,
  type Appointment,
} from './appointment-model.js';
import { priorityOf } from './booking-service.js';
import {
  patientOf,
  PRIORITY_SYSTEM,
  PRIORITY_URL,
  stateOf,
  withProvider,
  type ReferralRequest,
} from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';
import {
  createReferral,
  newReferral,
  serviceNames,
  shortlistEntries,
  shortlistedServices,
} from './referral-service.js';
import { transition } from './referral-transitions.js';
import { changeReferral, inState } from './referral-writes.js';
import {
  parseChangeShortlist,
  parseCreateForTriage,
  type ChangeShortlistRequest,
  parseReviewOutcome,
  PRIORITY_DISPLAY,
  REVIEW_OUTCOME_SYSTEM,
  REVIEW_REASON_SYSTEM,
} from './triage-rules.js';

export class TriageService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** a021: a new referral, sent to its one shortlisted triage service: AWAITING_TRIAGE at its provider. */
  createForTriage(
    ctx: RequestContext,
    caller: ErsCaller,
    body: unknown,
  ): Promise<StoredResource<ReferralRequest>> {
    return createReferral(this, ctx, caller, {
      parse: () => parseCreateForTriage(body, this.now()),
      plan: (request, services, time) => {
        const [serviceId] = request.serviceIds;
        const service = services.get(serviceId)!;
        const provider = triageProvider(serviceId, service);
        const to = { id: serviceId, service, provider };
        const sent = (ubrn: string) =>
          sentForTriage(newReferral(ubrn, request, caller.ods, serviceNames(services)), to, time);
        return {
          build: (ubrn) => sent(ubrn).referral,
          with: (referral) => [appointmentWrite(sent(referral.id).appointment, 0)],
          detail: { sentTo: provider },
          topics: [ERS_REFERRAL_CREATED, ERS_REFERRAL_SENT],
        };
      },
    });
  }

  /** a028: the provider's triage outcome, at the version the caller last read. */
  recordOutcome(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
    body: unknown,
  ): Promise<StoredResource<ReferralRequest>> {
    return changeReferral(this, ctx, {
      ubrn,
      viewer: { ods: caller.ods },
      parties: ['provider'],
      action: 'ers.referral.review',
      ifMatch,
      parse: () => parseReviewOutcome(body),
      transition: (request) => request.action,
      plan: (stored, request, next) => {
        const current = priorityOf(stored.resource);
        if (request.priority && request.action === 'triageReturn' && request.priority !== current)
          throw ersError(
            422,
            'business-rule',
            'PRIORITY_NOT_CURRENT',
            "'reviewPriority' cannot be amended when the review outcome is RETURN_TO_REFERRER_WITH_ADVICE",
          );
        const outcome = {
          reason: {
            system: REVIEW_OUTCOME_SYSTEM,
            code: request.outcome,
            display: request.display,
          },
          comments: request.comments,
        };
        const changed = inState(stored.resource, next, outcome);
        return {
          next: request.priority ? withPriority(changed, request.priority) : changed,
          detail: {
            ubrn,
            outcome: request.outcome,
            businessFunction: caller.businessFunction,
            ...(caller.onBehalfOf ? { onBehalfOf: caller.onBehalfOf } : {}),
            ...(request.priority ? { priority: request.priority } : {}),
          },
          topic: ERS_REFERRAL_TRIAGED,
          reason: request.outcome,
        };
      },
    });
  }

  /** The referral's current appointment (a032 answers the one it created). */
  async currentAppointment(referral: ReferralRequest): Promise<StoredResource<Appointment> | null> {
    const id = appointmentIdOf(referral);
    return id ? this.store.read(APPOINTMENT, id) : null;
  }

  /**
   * a031 (`forTriage` false): the referrer replaces the shortlist of a referral not booked or
   * returned from triage; it is NOT_BOOKED after. a032 (`forTriage`): the same with one triage
   * service, then sent to it (`sendForTriage`): AWAITING_TRIAGE at its provider with a new proposed
   * appointment. At the version the caller last read.
   */
  changeShortlist(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
    body: unknown,
    forTriage: boolean,
  ): Promise<StoredResource<ReferralRequest>> {
    return changeReferral(this, ctx, {
      ubrn,
      viewer: { ods: caller.ods },
      parties: ['referrer'],
      action: 'ers.referral.create',
      ifMatch,
      parse: () => parseChangeShortlist(body, forTriage),
      transition: 'changeShortlist',
      plan: async (stored, request, unbooked) => {
        const services = await shortlistedServices(this.store, request.serviceIds, caller.ods);
        const changed = withShortlist(inState(stored.resource, unbooked), request, services);
        const time = this.now().toISOString();
        const [serviceId] = request.serviceIds;
        const service = services.get(serviceId)!;
        const to = forTriage
          ? { id: serviceId, service, provider: triageProvider(serviceId, service) }
          : undefined;
        const sent = to ? sentForTriage(changed, to, time, stored.version + 1) : undefined;
        return {
          next: sent?.referral ?? changed,
          detail: {
            ubrn,
            services: request.serviceIds,
            businessFunction: caller.businessFunction,
            ...(to ? { sentTo: to.provider } : {}),
          },
          topic: sent ? ERS_REFERRAL_SENT : ERS_REFERRAL_SHORTLIST_CHANGED,
          with: sent ? [appointmentWrite(sent.appointment, 0)] : [],
          time,
        };
      },
    });
  }
}

/**
 * The provider a referral for triage goes to: the service (already found shortlistable for the
 * referrer by shortlistedServices) must triage (its e-RS profile's request flow is TRIAGE) and name
 * its provider.
 */
function triageProvider(id: string, service: HealthcareService): string {
  const profile = ersProfileOf(service);
  const inappropriate = (why: string) =>
    ersError(422, 'business-rule', 'INAPPROPRIATE_VALUE', `Service ${id} ${why}`);
  if (profile?.flow !== 'TRIAGE')
    throw inappropriate(
      `does not support the triage request flow (${profile ? profile.flow : 'not an e-RS service'})`,
    );
  const provider = service.providedBy?.identifier?.value;
  if (!provider) throw inappropriate('names no provider organisation');
  return provider;
}

/**
 * A referral sent for triage (at its `version`), as a021 answers it: AWAITING_TRIAGE for reason TRIAGE, its
 * provider recorded and the service's specialty; with it, its first appointment (the booking
 * slice's model, appointment-model.ts): `proposed` at the triage service for reason TRIAGE, named by
 * the referral's Extension-eRS-Appointment-Reference-1.
 */
function sentForTriage(
  referral: ReferralRequest,
  to: { id: string; service: HealthcareService; provider: string },
  time: string,
  version = 1,
): { referral: ReferralRequest; appointment: Appointment } {
  const next = transition(stateOf(referral), 'sendForTriage');
  const reason = { system: REVIEW_REASON_SYSTEM, code: 'TRIAGE' };
  const id = nextAppointmentId(referral);
  const appointment: Appointment = {
    resourceType: 'Appointment',
    id,
    meta: { profile: APPOINTMENT_PROFILES },
    language: 'en',
    status: 'proposed',
    reason: [{ coding: [reason] }],
    description: APPOINTMENT_DESCRIPTION,
    created: time,
    incomingReferral: [referralReference(referral.id, version)],
    participant: participants({ id: to.id, name: to.service.name }, patientOf(referral)),
  };
  const specialty = to.service.specialty?.[0];
  const waiting = withProvider(inState(referral, next, { reason }), to.provider);
  return {
    referral: withAppointment({ ...waiting, ...(specialty ? { specialty } : {}) }, id),
    appointment,
  };
}

/**
 * The referral with its shortlist replaced (each service named as the directory names it) and, when
 * the new shortlist's search criteria give one, its priority.
 */
function withShortlist(
  referral: ReferralRequest,
  change: ChangeShortlistRequest,
  services: Map<string, HealthcareService>,
): ReferralRequest {
  const entries = shortlistEntries(
    { shortlist: change.list, serviceIds: change.serviceIds },
    serviceNames(services),
  );
  const shortlist = { ...change.list, id: 'shortlist', entry: entries };
  const contained = (referral.contained ?? []).filter((c) => c.id !== 'shortlist');
  const changed = { ...referral, contained: [...contained, shortlist] };
  return change.priority ? withPriority(changed, change.priority.code) : changed;
}

function withPriority(referral: ReferralRequest, code: string): ReferralRequest {
  const ext = {
    url: PRIORITY_URL,
    valueCodeableConcept: {
      coding: [{ system: PRIORITY_SYSTEM, code, display: PRIORITY_DISPLAY[code] }],
    },
  };
  const others = referral.extension.filter((e) => e.url !== PRIORITY_URL);
  return { ...referral, extension: [ext, ...others] };
}
