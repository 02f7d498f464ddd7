/**
 * Releasing a booked appointment: its next version `cancelled` and the slot it held `free` again,
 * each written at the version read, in the same commit as the referral's change (a036 cancelling
 * the referral, a provider's rejection, and every appointment change that frees a slot).
 */
import type { ResourceStore, ResourceWrite } from '../../store/resource-store.js';
import {
  APPOINTMENT,
  appointmentIdOf,
  appointmentWrite,
  referralReference,
  slotOfAppointment,
  type Appointment,
} from './appointment-model.js';
import type { ReferralRequest } from './referral-model.js';
import { SLOT, slotWrite } from './slot-model.js';

/**
 * The writes that release the referral's current appointment when the referral is cancelled
 * (a036): the appointment's next version `cancelled` and its slot `free` again, each at the
 * version read. None when it has no booked appointment.
 */
export async function releaseAppointmentWrites(
  store: ResourceStore,
  referral: ReferralRequest,
  nextReferralVersion: number,
): Promise<ResourceWrite[]> {
  const id = appointmentIdOf(referral);
  const current = id ? await store.read(APPOINTMENT, id) : null;
  if (!current || current.resource.status !== 'booked') return [];
  const next: Appointment = {
    ...current.resource,
    status: 'cancelled',
    incomingReferral: [referralReference(referral.id, nextReferralVersion)],
  };
  return [appointmentWrite(next, current.version), ...(await freedSlot(store, current.resource))];
}

/** The slot a booked appointment holds, written free again (none when it holds none). */
export async function freedSlot(store: ResourceStore, a: Appointment): Promise<ResourceWrite[]> {
  const id = slotOfAppointment(a);
  const slot = id ? await store.read(SLOT, id) : null;
  if (!slot || slot.resource.status !== 'busy') return [];
  return [slotWrite(slot.resource, slot.version, 'free')];
}
