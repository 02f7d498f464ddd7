/**
 * The patient's slot search (OpenSpine's patient route): the free future slots of a directly
 * bookable service on their referral's shortlist, at the referral's priority, found as a015 finds
 * them (BookingService.searchSlots). Reading slots changes nothing, so no password is asked for:
 * the referral need only be the patient's (visibleReferral). The look is audited.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { BookingService } from './booking-service.js';
import type { PatientSlotQuery } from './patient-booking-rules.js';
import { visibleReferral } from './referral-access.js';
import { priorityOf, requireShortlisted } from './referral-shortlist.js';
import type { Slot } from './slot-model.js';
import type { ErsPriority } from '../directory/index.js';

export async function patientSlots(
  booking: BookingService,
  ctx: RequestContext,
  nhsNumber: string,
  ubrn: string,
  q: PatientSlotQuery,
): Promise<{ slots: Slot[]; total: number }> {
  const referral = await visibleReferral(
    booking,
    ctx,
    { patient: nhsNumber },
    ubrn,
    'ers.slot.read',
    ['patient'],
  );
  requireShortlisted(referral.resource, q.service, 400);
  const priority = (priorityOf(referral.resource) ?? 'ROUTINE') as ErsPriority;
  const found = await booking.searchSlots({ ...q, priority, commRuleOrg: '' });
  await booking.audit.append(
    auditRecord(ctx, 'ers.slot.read', nhsNumber, 'success', {
      ubrn,
      service: q.service,
      page: q.page,
      total: found.total,
    }),
  );
  return found;
}
