/**
 * Changing a booked appointment: a034 (the referrer cancels it, or moves it to another slot),
 * a022 (the provider cancels it to action later), and what cancelling the whole referral (a036)
 * does to it. Each frees the slot the appointment held, in the same commit as the referral and the
 * appointment's next version, so no slot stays busy for an appointment that is gone and no
 * appointment holds a slot that is free.
 */
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, ResourceWrite, StoredResource } from '../../store/resource-store.js';
import { writeOnce, type WriteRequest } from '../write-once.js';
import {
  APPOINTMENT,
  appointmentIdOf,
  appointmentWrite,
  participants,
  referralReference,
  REVIEW_OUTCOME_SYSTEM,
  serviceOfAppointment,
  slotOfAppointment,
  ubrnOfAppointment,
  type Appointment,
  type Coding,
} from './appointment-model.js';
import {
  appointmentCancellation,
  parseActionLater,
  parseAppointment,
  type ActionLaterRequest,
  type AppointmentRequest,
} from './booking-rules.js';
import { BookingService } from './booking-service.js';
import {
  bookedAppointment,
  commitAppointmentChange,
  freeSlotOf,
  type Booked,
} from './booking-steps.js';
import { ersError } from './ers-errors.js';
import { ERS_APPOINTMENT_CANCELLED, ERS_REFERRAL_BOOKED } from './event-topics.js';
import { verifyPatientAccess } from './patient-access.js';
import { parsePatientAppointmentCancel, parsePatientMove } from './patient-booking-rules.js';
import { visibleReferral } from './referral-access.js';
import { PRIORITY_URL, REFERRAL_REQUEST, stateOf, type ReferralRequest } from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';
import { transition } from './referral-transitions.js';
import { changeReferral, inState } from './referral-writes.js';
import { freedSlot } from './appointment-release.js';
import { slotWrite } from './slot-model.js';

// where a036 and the provider's rejection first found it
export { releaseAppointmentWrites } from './appointment-release.js';

/** A cancellation or a move of a booked appointment, ready to commit. */
interface Change {
  referral: ReferralRequest;
  appointment: Appointment;
  slots: ResourceWrite[];
  topic: string;
  reason: string | undefined;
  detail: Record<string, unknown>;
}

const notBooked = (a: Appointment) =>
  ersError(
    422,
    'business-rule',
    'INVALID_REQUEST_STATE',
    `Appointment ${a.id} is '${a.status}'; only a booked appointment can be changed`,
  );

export class AppointmentChanges {
  private readonly booking: BookingService;

  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    readonly now: () => Date = () => new Date(),
  ) {
    this.booking = new BookingService(store, audit, now);
  }

  /**
   * a034: PUT Appointment/{id} at If-Match version. `cancelled` with a referrer's
   * APPOINTMENT-CANCELLATION-REASON cancels it (referral back to NOT_BOOKED); `booked` naming
   * another slot of the same service moves it there (OpenSpine's: e-RS publishes only
   * cancellation so far).
   */
  update(ctx: RequestContext, caller: ErsCaller, id: string, ifMatch: number, body: unknown) {
    return writeOnce(this.store, ctx, {
      answers: REFERRAL_REQUEST,
      asBefore: (earlier) => this.booking.answerAsBefore(earlier),
      write: async (write): Promise<Booked> => {
        const request = parseAppointment(body);
        const current = await this.store.read(APPOINTMENT, id);
        if (!current)
          throw ersError(404, 'not-found', 'REC_NOT_FOUND', `No appointment with id ${id}`);
        const stored = await visibleReferral(
          this,
          ctx,
          caller,
          ubrnOfAppointment(id),
          'ers.appointment.book',
          ['referrer'],
        );
        if (appointmentIdOf(stored.resource) !== id)
          throw ersError(
            422,
            'business-rule',
            'INVALID_REQUEST_STATE',
            `Appointment ${id} is not the referral's current appointment`,
          );
        if (current.version !== ifMatch)
          throw ersError(
            409,
            'conflict',
            'VERSION_MISMATCH',
            `Version supplied (${ifMatch}) does not match current version (${current.version}) of the appointment`,
          );
        if (
          request.ubrn !== stored.resource.id ||
          request.service !== serviceOfAppointment(current.resource)
        )
          throw ersError(
            422,
            'business-rule',
            'INAPPROPRIATE_VALUE',
            'The appointment is for another referral or service',
          );
        if (current.resource.status !== 'booked') throw notBooked(current.resource);
        const change =
          request.status === 'cancelled'
            ? await this.cancellation(
                stored,
                current,
                appointmentCancellation(request),
                request.comment,
              )
            : await this.move(stored, current, request);
        return this.commitChange(ctx, write, stored, current, change, {
          businessFunction: caller.businessFunction,
        });
      },
    });
  }

  /**
   * The patient moves their booked appointment to another free slot of its service (OpenSpine's
   * patient route; a034's move), presenting the password of their letter.
   */
  moveForPatient(ctx: RequestContext, nhsNumber: string, ubrn: string, body: unknown) {
    return this.forPatient(
      ctx,
      nhsNumber,
      ubrn,
      () => parsePatientMove(body),
      (stored, current, r) =>
        this.move(stored, current, {
          status: 'booked',
          ubrn,
          referralVersion: stored.version,
          service: serviceOfAppointment(current.resource),
          nhsNumber,
          slot: r.slot,
          clinicianFromSlot: true,
        }),
    );
  }

  /** The patient cancels their booked appointment (a034's cancellation), with a patient's reason. */
  cancelForPatient(ctx: RequestContext, nhsNumber: string, ubrn: string, body: unknown) {
    const parse = () => parsePatientAppointmentCancel(body);
    return this.forPatient(ctx, nhsNumber, ubrn, parse, (s, c, r) =>
      this.cancellation(s, c, r.reason, r.comments),
    );
  }

  /**
   * A patient's change of their booked appointment: the request parsed first (so a malformed one
   * costs no password attempt), then the password, then the change, committed with the password's
   * cleared failure count.
   */
  private forPatient<R extends { password: string }>(
    ctx: RequestContext,
    nhsNumber: string,
    ubrn: string,
    parse: () => R,
    plan: (
      stored: StoredResource<ReferralRequest>,
      current: StoredResource<Appointment>,
      request: R,
    ) => Promise<Change>,
  ): Promise<Booked> {
    return writeOnce(this.store, ctx, {
      answers: REFERRAL_REQUEST,
      asBefore: (earlier) => this.booking.answerAsBefore(earlier),
      write: async (write) => {
        const request = parse();
        const { referral, resetFailures } = await verifyPatientAccess(
          this,
          ctx,
          { nhsNumber, ubrn, password: request.password },
          'ers.appointment.book',
        );
        const current = await bookedAppointment(this.store, referral.resource);
        const change = await plan(referral, current, request);
        const who = { by: 'patient' };
        return this.commitChange(ctx, write, referral, current, change, who, resetFailures);
      },
    });
  }

  /** Commits a cancellation or a move: the referral, the appointment's next version, the slots. */
  private async commitChange(
    ctx: RequestContext,
    write: WriteRequest<Booked>,
    stored: StoredResource<ReferralRequest>,
    current: StoredResource<Appointment>,
    change: Change,
    who: Record<string, unknown>,
    resetFailures: ResourceWrite[] = [],
  ): Promise<Booked> {
    const id = current.id;
    return commitAppointmentChange(this.store, ctx, write, id, {
      stored,
      next: change.referral,
      action: 'ers.appointment.book',
      detail: { ubrn: stored.resource.id, appointment: id, ...change.detail, ...who },
      topic: change.topic,
      ...(change.reason ? { reason: change.reason } : {}),
      with: [
        ...resetFailures,
        appointmentWrite(change.appointment, current.version),
        ...change.slots,
      ],
      status: 200,
      time: this.now().toISOString(),
    });
  }

  private async cancellation(
    stored: StoredResource<ReferralRequest>,
    current: StoredResource<Appointment>,
    reason: Coding,
    comment: string | undefined,
  ): Promise<Change> {
    const state = transition(stateOf(stored.resource), 'cancelAppointment');
    const appointment: Appointment = {
      ...current.resource,
      status: 'cancelled',
      reason: [{ coding: [reason] }],
      ...(comment ? { comment } : {}),
      incomingReferral: [referralReference(stored.resource.id, stored.version + 1)],
    };
    return {
      referral: inState(stored.resource, state),
      appointment,
      slots: await freedSlot(this.store, current.resource),
      topic: ERS_APPOINTMENT_CANCELLED,
      reason: reason.code,
      detail: { cancelled: true, reason: reason.code },
    };
  }

  private async move(
    stored: StoredResource<ReferralRequest>,
    current: StoredResource<Appointment>,
    request: AppointmentRequest,
  ): Promise<Change> {
    if (request.status !== 'booked' || !request.slot)
      throw ersError(422, 'required', 'MISSING_VALUE', "'slot' is missing.");
    const state = transition(stateOf(stored.resource), 'rebook');
    const from = slotOfAppointment(current.resource);
    if (request.slot === from)
      throw ersError(
        422,
        'business-rule',
        'INAPPROPRIATE_SLOT',
        `The appointment is already in slot ${from}`,
      );
    const { slot, facts } = await freeSlotOf(this.store, request.slot, request.service);
    const clinician = request.clinicianFromSlot ? facts.clinician : request.clinician;
    if (Date.parse(slot.resource.start) < this.now().getTime() || facts.clinician !== clinician)
      throw ersError(
        422,
        'business-rule',
        'INAPPROPRIATE_SLOT',
        `Slot ${request.slot} cannot be booked for this appointment`,
      );
    const appointment: Appointment = {
      ...current.resource,
      start: slot.resource.start,
      end: slot.resource.end,
      slot: [{ reference: `Slot/${request.slot}` }],
      incomingReferral: [referralReference(stored.resource.id, stored.version + 1)],
      // the named clinician is the new slot's (or none)
      participant: [
        ...current.resource.participant.slice(0, 2),
        ...participants({ id: request.service }, request.nhsNumber, clinician).slice(2),
      ],
    };
    return {
      referral: inState(stored.resource, state),
      appointment,
      slots: [
        ...(await freedSlot(this.store, current.resource)),
        slotWrite(slot.resource, slot.version, 'busy'),
      ],
      topic: ERS_REFERRAL_BOOKED,
      reason: undefined,
      detail: { from, to: request.slot },
    };
  }

  /**
   * a022 $ers.cancelAppointmentActionLater: the provider cancels the booked appointment for its
   * admin team to rebook or redirect; the slot is freed, the comments recorded with the state.
   */
  actionLater(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
    body: unknown,
  ) {
    return changeReferral(this, ctx, {
      ubrn,
      viewer: caller,
      parties: ['provider'],
      action: 'ers.referral.review',
      ifMatch,
      parse: () => parseActionLater(body),
      transition: 'cancelAppointmentActionLater',
      plan: async (stored, request, state) => {
        const current = await bookedAppointment(this.store, stored.resource);
        if (request.cancelledInPas !== undefined)
          throw ersError(
            422,
            'business-rule',
            'FIELD_NOT_PERMITTED',
            "'appointmentCancelledInPAS' is only for appointments at indirectly bookable services",
          );
        const reason = { system: REVIEW_OUTCOME_SYSTEM, code: 'CANCEL_APPOINTMENT_ACTION_LATER' };
        const appointment: Appointment = {
          ...current.resource,
          status: 'proposed',
          reason: [{ coding: [{ ...reason, display: 'Cancel Appointment Action Later' }] }],
          comment: request.comments,
          incomingReferral: [referralReference(ubrn, stored.version + 1)],
        };
        delete appointment.start;
        delete appointment.end;
        delete appointment.slot;
        return {
          next: withPriority(
            inState(stored.resource, state, { reason, comments: request.comments }),
            request,
          ),
          detail: {
            ubrn,
            appointment: current.id,
            outcome: reason.code,
            businessFunction: caller.businessFunction,
          },
          topic: ERS_APPOINTMENT_CANCELLED,
          reason: reason.code,
          with: [
            appointmentWrite(appointment, current.version),
            ...(await freedSlot(this.store, current.resource)),
          ],
        };
      },
    });
  }
}

/** The referral with a022's new priority, when one was given. */
function withPriority(referral: ReferralRequest, request: ActionLaterRequest): ReferralRequest {
  if (!request.priority) return referral;
  return {
    ...referral,
    extension: [
      ...referral.extension.filter((e) => e.url !== PRIORITY_URL),
      { url: PRIORITY_URL, valueCodeableConcept: { coding: [request.priority] } },
    ],
  };
}
