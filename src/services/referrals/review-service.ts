/**
 * The provider's review of a referral booked into its service: accept ($ers.acceptReferral, a013:
 * BOOKED -> ACCEPTED, which e-RS shows as BOOKED) or reject with a published reason
 * ($ers.rejectReferral, a014: BOOKED -> REJECTED, back to the referrer); and what a caller may do to
 * a referral now (a029, GET /Task). Only a provider the referral was sent to reviews it
 * (visibleReferral with parties ['provider']); changes go through transition() and
 * commitReferralChange inside writeOnce.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { ersProfileOf, HEALTHCARE_SERVICE } from '../directory/index.js';
import { APPOINTMENT, appointmentIdOf, serviceOfAppointment } from './appointment-model.js';
import { releaseAppointmentWrites } from './appointment-changes.js';
import { ErsError, ersError } from './ers-errors.js';
import { ERS_REFERRAL_ACCEPTED, ERS_REFERRAL_REJECTED } from './event-topics.js';
import { visibleReferral } from './referral-access.js';
import { patientOf, stateOf, type ReferralRequest } from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';
import { changeReferral, inState } from './referral-writes.js';
import { availableActions, parseRejectReferral, type TaskQuery } from './review-rules.js';

export class ReviewService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** a013: the provider accepts the booked referral. */
  accept(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
  ): Promise<StoredResource<ReferralRequest>> {
    return changeReferral(this, ctx, {
      ...this.review(caller, ubrn, ifMatch),
      transition: 'accept',
      plan: (stored, _none, next) => ({
        next: inState(stored.resource, next),
        detail: { ubrn, outcome: 'ACCEPTED', ...callerDetail(caller) },
        topic: ERS_REFERRAL_ACCEPTED,
      }),
    });
  }

  /** a014: the provider rejects the booked referral back to the referrer; its appointment is cancelled. */
  reject(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
    body: unknown,
  ): Promise<StoredResource<ReferralRequest>> {
    return changeReferral(this, ctx, {
      ...this.review(caller, ubrn, ifMatch),
      parse: () => parseRejectReferral(body),
      transition: 'reject',
      plan: async (stored, request, next) => {
        if (request.appointmentCancelledInPAS === undefined && (await this.indirect(stored)))
          throw ersError(
            422,
            'business-rule',
            'VALUE_IS_REQUIRED',
            "'appointmentCancelledInPAS' is required for a referral booked into an indirectly bookable service",
          );
        return {
          next: inState(stored.resource, next, {
            reason: request.reason,
            comments: request.comments,
          }),
          // the booked appointment goes with the rejection: cancelled, its slot free again
          with: await releaseAppointmentWrites(this.store, stored.resource, stored.version + 1),
          detail: {
            ubrn,
            outcome: 'REJECTED',
            reason: request.reason.code,
            ...(request.appointmentCancelledInPAS === undefined
              ? {}
              : { appointmentCancelledInPAS: request.appointmentCancelledInPAS }),
            ...callerDetail(caller),
          },
          topic: ERS_REFERRAL_REJECTED,
          reason: request.reason.code,
        };
      },
    });
  }

  /**
   * a029: the actions the caller may perform on the referral now, asked at its current version (400
   * HISTORY_NOT_SUPPORTED for another; 400 REFERENCE_NOT_FOUND for an unknown UBRN, as a029
   * publishes). Seen by the referrer and the providers it was sent to; audited as a read.
   */
  async availableActions(
    ctx: RequestContext,
    caller: ErsCaller,
    query: TaskQuery,
  ): Promise<{ code: string; display: string }[]> {
    let stored: Awaited<ReturnType<typeof visibleReferral>>;
    try {
      stored = await visibleReferral(
        this,
        ctx,
        { ods: caller.ods },
        query.ubrn,
        'ers.referral.read',
        ['referrer', 'provider'],
      );
    } catch (err) {
      if (err instanceof ErsError && err.ersCode === 'REC_NOT_FOUND')
        throw ersError(400, 'value', 'REFERENCE_NOT_FOUND', `No referral with UBRN ${query.ubrn}`);
      throw err;
    }
    if (stored.version !== query.version)
      throw ersError(
        400,
        'value',
        'HISTORY_NOT_SUPPORTED',
        `Only the current version (${stored.version}) of referral ${query.ubrn} is permissible`,
      );
    await this.audit.append(
      auditRecord(ctx, 'ers.referral.read', patientOf(stored.resource), 'success', {
        ubrn: query.ubrn,
        version: stored.version,
        availableActions: true,
      }),
    );
    return availableActions(
      stateOf(stored.resource),
      stored.party,
      caller.businessFunction,
      ctx.principal?.role ?? '',
    );
  }

  /** A review is made by a provider the referral was sent to, at the version it last read. */
  private review(caller: ErsCaller, ubrn: string, ifMatch: number) {
    const parties = ['provider'] as const;
    return { ubrn, viewer: { ods: caller.ods }, parties, action: 'ers.referral.review', ifMatch };
  }

  /** Whether the referral is booked into an indirectly bookable service (the directory's profile). */
  private async indirect(stored: StoredResource<ReferralRequest>): Promise<boolean> {
    const id = appointmentIdOf(stored.resource);
    const appointment = id ? await this.store.read(APPOINTMENT, id) : null;
    if (!appointment) return false;
    const service = await this.store.read(
      HEALTHCARE_SERVICE,
      serviceOfAppointment(appointment.resource),
    );
    return service ? ersProfileOf(service.resource)?.bookable === 'INDIRECTLY_BOOKABLE' : false;
  }
}

const callerDetail = (caller: ErsCaller) => ({
  businessFunction: caller.businessFunction,
  ...(caller.onBehalfOf ? { onBehalfOf: caller.onBehalfOf } : {}),
});
