/**
 * How a booking is refused in eRS's words: a slot taken (SLOT_NOT_AVAILABLE), a slot or value that
 * does not fit, and a commit the store refused because something changed since it was read.
 */
import { VersionConflictError } from '../../store/errors.js';
import { ersError } from './ers-errors.js';
import { REFERRAL_REQUEST } from './referral-model.js';
import { SLOT } from './slot-model.js';

export const slotNotAvailable = (id: string) =>
  ersError(422, 'business-rule', 'SLOT_NOT_AVAILABLE', `Slot ${id} is no longer available.`);
export const inappropriateSlot = (why: string) =>
  ersError(422, 'business-rule', 'INAPPROPRIATE_SLOT', why);
export const inappropriate = (why: string) =>
  ersError(422, 'business-rule', 'INAPPROPRIATE_VALUE', why);

/**
 * What a refused commit is answered with (once a twin of the request is ruled out): the slot's
 * refusal when another booking took it; a version mismatch when the referral (or its appointment)
 * changed since it was read; anything else as it is.
 */
export function refusalOf(err: unknown): unknown {
  if (!(err instanceof VersionConflictError)) return err;
  if (err.type === SLOT) return slotNotAvailable(err.id);
  return ersError(
    409,
    'conflict',
    'VERSION_MISMATCH',
    err.type === REFERRAL_REQUEST
      ? `The referral request ${err.id} has changed since it was read; read it again`
      : `${err.type} ${err.id} has changed since it was read; read it again`,
  );
}
