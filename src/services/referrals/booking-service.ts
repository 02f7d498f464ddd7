/**
 * Booking use cases: a015 slot search, a016 book or defer, a038 appointment read. Changes go
 * through commitReferralChange (inside writeOnce) with the Appointment and the Slot written in the
 * same commit, so a booking is all there or not there at all, and a slot is booked once: the slot
 * is written at the version it was read at, and a booking that loses the race for it is refused by
 * the store and answered as e-RS answers a slot no longer available (422 SLOT_NOT_AVAILABLE).
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, ResourceWrite, StoredResource } from '../../store/resource-store.js';
import { writeOnce, type EarlierAnswer, type WriteRequest } from '../write-once.js';
import {
  APPOINTMENT,
  APPOINTMENT_DESCRIPTION,
  appointmentIdOf,
  appointmentWrite,
  nextAppointmentId,
  participants,
  referralReference,
  ubrnOfAppointment,
  withAppointment,
  type Appointment,
} from './appointment-model.js';
import {
  deferralReason,
  parseAppointment,
  type AppointmentRequest,
  type SlotQuery,
} from './booking-rules.js';
import { offeredService, type OfferedService } from './offered-service.js';
import { commitAppointmentChange, freeSlotOf, type Booked } from './booking-steps.js';
import { inappropriate, inappropriateSlot } from './booking-refusals.js';
import { ersError } from './ers-errors.js';
import { ERS_REFERRAL_BOOKED, ERS_REFERRAL_SENT } from './event-topics.js';
import { verifyPatientAccess } from './patient-access.js';
import { parsePatientBooking } from './patient-booking-rules.js';
import { visibleReferral } from './referral-access.js';
import {
  patientOf,
  REFERRAL_REQUEST,
  stateOf,
  withProvider,
  type ReferralRequest,
} from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';
import { priorityOf, shortlistedService } from './referral-shortlist.js';
import { transition } from './referral-transitions.js';
import { inState, requireVersion } from './referral-writes.js';
import {
  freeKey,
  freeParam,
  SLOT,
  slotFacts,
  slotWrite,
  stampOf,
  startStampOf,
  type Slot,
} from './slot-model.js';

/** The most free slots a015 counts for one service and priority (its `total`). */
const MAX_FREE_SLOTS = 5000;

export type { Booked } from './booking-steps.js';

/** What the shared booking step is given once the caller's own access check has passed. */
interface BookingStep {
  /** The referral as read: it is written at this version. */
  stored: StoredResource<ReferralRequest>;
  request: AppointmentRequest;
  offered: OfferedService;
  /** Who booked, for the audit detail (a business function, or the patient). */
  who: Record<string, unknown>;
  /** Writes committed with the booking (the patient's cleared password failure count). */
  resetFailures?: ResourceWrite[];
}

// where they were first written; imported from here by other use cases
export { priorityOf, shortlisted } from './referral-shortlist.js';
export { refusalOf, slotNotAvailable } from './booking-refusals.js';

export class BookingService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** a015: one page of a directly bookable service's free future slots, earliest first. */
  async searchSlots(q: SlotQuery): Promise<{ slots: Slot[]; total: number }> {
    const offered = await offeredService(this.store, q.service, 400);
    if (offered.profile.bookable !== 'DIRECTLY_BOOKABLE')
      throw ersError(
        400,
        'business-rule',
        'INVALID_STATE',
        `Service ${q.service} is not directly bookable`,
      );
    // one prefix range of the index: the service's free slots of this priority (ids sort by start)
    const ids = await this.store.search({
      type: SLOT,
      criteria: [
        {
          any: [
            {
              param: freeParam(q.clinician),
              op: 'prefix',
              value: freeKey(q.service, q.priority, q.clinician),
            },
          ],
        },
      ],
      limit: MAX_FREE_SLOTS,
    });
    const from = stampOf(this.now());
    const future = ids.filter((id) => (startStampOf(id) ?? '') >= from);
    const pages = Math.max(1, Math.ceil(future.length / q.count));
    if (q.page > pages)
      throw ersError(400, 'value', 'INVALID_VALUE', `'Page Number' (${q.page}) is invalid.`);
    const page = future.slice((q.page - 1) * q.count, q.page * q.count);
    const slots = (await this.store.readMany(SLOT, page)).map((s) => s.resource);
    return { slots: slots.filter((s) => s.status === 'free'), total: future.length };
  }

  /** a016: book the referral into a slot, or defer it to the provider, or send it for triage. */
  bookOrDefer(ctx: RequestContext, caller: ErsCaller, body: unknown): Promise<Booked> {
    return writeOnce(this.store, ctx, {
      answers: REFERRAL_REQUEST,
      asBefore: (earlier) => this.answerAsBefore(earlier),
      write: async (write) => {
        const request = parseAppointment(body);
        if (request.status === 'cancelled')
          throw ersError(
            422,
            'value',
            'INVALID_VALUE',
            "'status' must be 'booked' or 'proposed' to book or defer",
          );
        const stored = await visibleReferral(
          this,
          ctx,
          caller,
          request.ubrn,
          'ers.appointment.book',
          ['referrer', 'provider'],
        );
        requireVersion(stored.version, request.referralVersion);
        if (request.nhsNumber !== patientOf(stored.resource))
          throw inappropriate("'participant' (patient) is not the referral's patient");
        const offered = await shortlistedService(this.store, stored.resource, request.service);
        if (
          stored.party === 'provider' &&
          (request.status !== 'booked' || offered.provider !== caller.ods)
        )
          throw ersError(
            403,
            'forbidden',
            'NO_ACCESS',
            'A provider may only book its own service for a referral it holds',
          );
        return this.commitBooking(ctx, write, {
          stored,
          request,
          offered,
          who: { businessFunction: caller.businessFunction },
        });
      },
    });
  }

  /**
   * The patient books their referral into a free slot of a shortlisted service (OpenSpine's
   * patient route), presenting the password of its letter: the same booking step as a016, after
   * the patient's own access check, with the password's cleared failure count in its commit.
   */
  bookForPatient(
    ctx: RequestContext,
    nhsNumber: string,
    ubrn: string,
    body: unknown,
  ): Promise<Booked> {
    return writeOnce(this.store, ctx, {
      answers: REFERRAL_REQUEST,
      asBefore: (earlier) => this.answerAsBefore(earlier),
      write: async (write) => {
        const { password, service, slot } = parsePatientBooking(body);
        const { referral, resetFailures } = await verifyPatientAccess(
          this,
          ctx,
          { nhsNumber, ubrn, password },
          'ers.appointment.book',
        );
        // a deferred or triaged referral is the provider's to book, not the patient's
        if (stateOf(referral.resource) !== 'NOT_BOOKED')
          throw ersError(
            422,
            'business-rule',
            'INVALID_REQUEST_STATE',
            `Referral is '${stateOf(referral.resource)}'; a patient may book only when it is 'NOT_BOOKED'`,
          );
        const offered = await shortlistedService(this.store, referral.resource, service);
        return this.commitBooking(ctx, write, {
          stored: referral,
          request: {
            status: 'booked',
            ubrn,
            referralVersion: referral.version,
            service,
            nhsNumber,
            slot,
            clinicianFromSlot: true,
          },
          offered,
          who: { by: 'patient' },
          resetFailures,
        });
      },
    });
  }

  /**
   * The booking step a016 and the patient share once the caller's own access check has passed:
   * the plan (a slot, or a deferral), the referral's next appointment, and one commit of the
   * referral, the appointment and the slot written busy at the version it was read at.
   */
  private async commitBooking(
    ctx: RequestContext,
    write: WriteRequest<Booked>,
    step: BookingStep,
  ): Promise<Booked> {
    const { stored, request, offered } = step;
    const plan =
      request.status === 'booked'
        ? await this.booking(stored.resource, request, offered)
        : await this.deferral(stored.resource, request, offered);
    const clinician = plan.slot ? plan.clinician : request.clinician;
    const id = nextAppointmentId(stored.resource);
    const appointment: Appointment = {
      resourceType: 'Appointment',
      id,
      language: 'en',
      status: request.status === 'booked' ? 'booked' : 'proposed',
      ...(plan.reason ? { reason: [{ coding: [plan.reason] }] } : {}),
      description: APPOINTMENT_DESCRIPTION,
      ...(plan.slot ? { start: plan.slot.resource.start, end: plan.slot.resource.end } : {}),
      ...(request.slot ? { slot: [{ reference: `Slot/${request.slot}` }] } : {}),
      created: this.now().toISOString(),
      ...(request.comment ? { comment: request.comment } : {}),
      incomingReferral: [referralReference(stored.resource.id, stored.version + 1)],
      participant: participants(
        { id: request.service, name: offered.service.name },
        request.nhsNumber,
        clinician,
      ),
    };
    const next = withAppointment(
      withProvider(inState(stored.resource, plan.state), offered.provider),
      id,
    );
    return commitAppointmentChange(this.store, ctx, write, id, {
      stored,
      next,
      action: 'ers.appointment.book',
      detail: {
        ubrn: stored.resource.id,
        appointment: id,
        service: request.service,
        ...(request.slot ? { slot: request.slot } : {}),
        state: plan.state,
        ...step.who,
      },
      topic: plan.state === 'BOOKED' ? ERS_REFERRAL_BOOKED : ERS_REFERRAL_SENT,
      ...(plan.reason ? { reason: plan.reason.code } : {}),
      with: [
        ...(step.resetFailures ?? []),
        appointmentWrite(appointment, 0),
        ...(plan.slot ? [slotWrite(plan.slot.resource, plan.slot.version, 'busy')] : []),
      ],
      status: 201,
      time: this.now().toISOString(),
    });
  }

  /** A booking: a directly bookable service's free, future slot of the referral's priority. */
  private async booking(
    referral: ReferralRequest,
    request: AppointmentRequest,
    offered: OfferedService,
  ) {
    const state = transition(stateOf(referral), 'book');
    if (offered.profile.bookable !== 'DIRECTLY_BOOKABLE')
      throw inappropriate(`Service ${request.service} is not directly bookable`);
    if (!request.slot) throw ersError(422, 'required', 'MISSING_VALUE', "'slot' is missing.");
    const { slot, facts } = await freeSlotOf(this.store, request.slot, request.service);
    if (Date.parse(slot.resource.start) < this.now().getTime())
      throw inappropriateSlot(`Slot ${request.slot} has already started`);
    const priority = priorityOf(referral);
    if (priority && !facts.priorities.includes(priority as never))
      throw inappropriateSlot(`Slot ${request.slot} is not offered for ${priority} referrals`);
    if (!request.clinicianFromSlot && facts.clinician !== request.clinician)
      throw inappropriateSlot(
        facts.clinician
          ? `Slot ${request.slot} is with a named clinician: name them as a participant`
          : `Slot ${request.slot} has no named clinician`,
      );
    return { state, slot, clinician: facts.clinician, reason: undefined };
  }

  /** A deferral: to a directly bookable service that has no slot to offer, or to a triage service. */
  private async deferral(
    referral: ReferralRequest,
    request: AppointmentRequest,
    offered: OfferedService,
  ) {
    const reason = deferralReason(request);
    const coding = { system: request.reason!.system, code: reason };
    if (reason === 'TRIAGE') {
      const state = transition(stateOf(referral), 'sendForTriage');
      if (offered.profile.flow !== 'TRIAGE')
        throw inappropriate(`Service ${request.service} is not a triage service`);
      if (request.slot) throw inappropriate("'slot' is not expected when referring for triage");
      return { state, slot: undefined, clinician: undefined, reason: coding };
    }
    const state = transition(stateOf(referral), 'deferToProvider');
    if (offered.profile.bookable !== 'DIRECTLY_BOOKABLE')
      throw inappropriate(`Service ${request.service} is not directly bookable`);
    if (
      reason === 'NO_SLOTS_AT_SERVICE' &&
      (await this.hasFreeSlot(request.service, priorityOf(referral)))
    )
      throw ersError(
        422,
        'business-rule',
        'SLOTS_CURRENTLY_AVAILABLE',
        'There are currently future slots available, so you cannot defer to this Service to book.',
      );
    if (reason === 'SLOT_NOT_AVAILABLE' && request.slot) {
      const slot = await this.store.read(SLOT, request.slot);
      if (slot?.resource.status === 'free' && slotFacts(slot.resource).service === request.service)
        throw ersError(
          422,
          'business-rule',
          'THIS_SLOT_IS_AVAILABLE',
          `Slot ${request.slot} is currently available.`,
        );
    }
    return { state, slot: undefined, clinician: undefined, reason: coding };
  }

  private async hasFreeSlot(service: string, priority: string | undefined): Promise<boolean> {
    const from = stampOf(this.now());
    for (const p of priority ? [priority] : ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT']) {
      const ids = await this.store.search({
        type: SLOT,
        criteria: [{ any: [{ param: 'free', op: 'prefix', value: freeKey(service, p) }] }],
        limit: MAX_FREE_SLOTS,
      });
      if (ids.some((id) => (startStampOf(id) ?? '') >= from)) return true;
    }
    return false;
  }

  /** a038: the referral's current appointment (or `version` of it), for its referrer or provider. */
  async readAppointment(ctx: RequestContext, caller: ErsCaller, id: string, version?: number) {
    const stored = await this.store.read(APPOINTMENT, id);
    if (!stored) throw ersError(404, 'not-found', 'REC_NOT_FOUND', `No appointment with id ${id}`);
    const referral = await visibleReferral(
      this,
      ctx,
      caller,
      ubrnOfAppointment(id),
      'ers.appointment.read',
      ['referrer', 'provider'],
    );
    // e-RS serves only the current version of an appointment (a038-retrieve-appointment-versioned.yaml)
    if (version !== undefined && version !== stored.version)
      throw ersError(
        404,
        'not-found',
        'REC_NOT_FOUND',
        `Appointment ${id} version ${version} is not its current version (${stored.version}); only the current version can be retrieved`,
      );
    await this.audit.append(
      auditRecord(ctx, 'ers.appointment.read', patientOf(referral.resource), 'success', {
        ubrn: referral.resource.id,
        appointment: id,
        version: stored.version,
        current: appointmentIdOf(referral.resource) === id,
      }),
    );
    return stored;
  }

  /** The answer to a retry: the appointment the recorded referral version named. */
  async answerAsBefore({ stored: referral }: EarlierAnswer<ReferralRequest>): Promise<Booked> {
    const id = appointmentIdOf(referral.resource)!;
    const ref = referralReference(referral.id, referral.version).reference;
    const versions = await this.store.history(APPOINTMENT, id);
    const appointment =
      versions.find((v) => v.resource.incomingReferral[0]?.reference === ref) ?? versions[0];
    return { appointment, referral };
  }
}
