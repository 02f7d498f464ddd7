/**
 * The steps a booking (a016, the patient's) and a change of a booked appointment (a034, a022, the
 * patient's) share: finding the slot asked for free, finding the referral's booked appointment, and
 * one commit of the referral with its appointment and slots, refused in eRS's words when something
 * changed since it was read (or answered as a twin of the same request that committed first).
 */
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import type { WriteRequest } from '../write-once.js';
import { APPOINTMENT, appointmentIdOf, type Appointment } from './appointment-model.js';
import { inappropriateSlot, refusalOf, slotNotAvailable } from './booking-refusals.js';
import { ersError } from './ers-errors.js';
import type { ReferralRequest } from './referral-model.js';
import { commitReferralChange, type ReferralChange } from './referral-writes.js';
import { SLOT, slotFacts } from './slot-model.js';

/** The appointment a change produced, and the referral it was committed with. */
export interface Booked {
  appointment: StoredResource<Appointment>;
  referral: StoredResource<ReferralRequest>;
}

/**
 * The slot `id` of `service`, free: 422 REFERENCE_NOT_FOUND for no such slot, INAPPROPRIATE_SLOT
 * for another service's, SLOT_NOT_AVAILABLE for one already taken.
 */
export async function freeSlotOf(store: ResourceStore, id: string, service: string) {
  const slot = await store.read(SLOT, id);
  if (!slot) throw ersError(422, 'not-found', 'REFERENCE_NOT_FOUND', `Slot ${id} does not exist`);
  const facts = slotFacts(slot.resource);
  if (facts.service !== service)
    throw inappropriateSlot(`Slot ${id} is not a slot of service ${service}`);
  if (slot.resource.status !== 'free') throw slotNotAvailable(id);
  return { slot, facts };
}

/** The referral's current appointment, booked (422 INVALID_REQUEST_STATE when it has none). */
export async function bookedAppointment(
  store: ResourceStore,
  referral: ReferralRequest,
): Promise<StoredResource<Appointment>> {
  const id = appointmentIdOf(referral);
  const current = id ? await store.read(APPOINTMENT, id) : null;
  if (!current || current.resource.status !== 'booked')
    throw ersError(
      422,
      'business-rule',
      'INVALID_REQUEST_STATE',
      `Referral ${referral.id} has no booked appointment`,
    );
  return current;
}

/**
 * Commits the referral's change with appointment `appointmentId` (and its slots); answers the
 * appointment's new version and the referral's. A commit the store refuses is answered as the twin
 * that committed first would be, or refused as refusalOf says.
 */
export async function commitAppointmentChange(
  store: ResourceStore,
  ctx: RequestContext,
  { record, twin }: WriteRequest<Booked>,
  appointmentId: string,
  change: ReferralChange,
): Promise<Booked> {
  try {
    const referral = await commitReferralChange(store, ctx, record, change);
    return { appointment: (await store.read(APPOINTMENT, appointmentId))!, referral };
  } catch (err) {
    if (err instanceof VersionConflictError) {
      const answered = await twin();
      if (answered) return answered;
    }
    throw refusalOf(err);
  }
}
