/**
 * What a referral offers to book: the services on its shortlist (the contained List its shortlist
 * extension names) and its priority. A booking, by a professional (a016) or by the patient, and a
 * patient's slot search must name a shortlisted service.
 */
import type { ResourceStore } from '../../store/resource-store.js';
import { ersError } from './ers-errors.js';
import { offeredService, type OfferedService } from './offered-service.js';
import { PRIORITY_URL, SHORTLIST_URL, type ReferralRequest } from './referral-model.js';

/** The service ids on the referral's shortlist. */
export function shortlisted(referral: ReferralRequest): string[] {
  const ref =
    (
      referral.extension.find((e) => e.url === SHORTLIST_URL)?.valueReference as {
        reference?: string;
      }
    )?.reference?.replace(/^#/, '') ?? 'shortlist';
  const list = referral.contained?.find((c) => c.id === ref) as
    { entry?: { item?: { identifier?: { value?: string } } }[] } | undefined;
  return (list?.entry ?? []).map((e) => e.item?.identifier?.value ?? '').filter(Boolean);
}

/** The referral's priority code, when it has one. */
export function priorityOf(referral: ReferralRequest): string | undefined {
  const ext = referral.extension.find((e) => e.url === PRIORITY_URL);
  return (ext?.valueCodeableConcept as { coding?: { code?: string }[] } | undefined)?.coding?.[0]
    ?.code;
}

/** INAPPROPRIATE_VALUE (422, or 400 for a search) unless `service` is on the referral's shortlist. */
export function requireShortlisted(
  referral: ReferralRequest,
  service: string,
  status: 400 | 422 = 422,
): void {
  if (!shortlisted(referral).includes(service))
    throw ersError(
      status,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      `Service ${service} is not on the referral's shortlist`,
    );
}

/** The shortlisted service `id` as the directory offers it on e-RS (refusals 422, as a016's). */
export async function shortlistedService(
  store: ResourceStore,
  referral: ReferralRequest,
  id: string,
): Promise<OfferedService> {
  requireShortlisted(referral, id);
  return offeredService(store, id, 422);
}
