/**
 * The directory service a booking or slot search names, with its e-RS profile and its provider:
 * it must be a directory HealthcareService (REFERENCE_NOT_FOUND), active (SERVICE_UNAVAILABLE) and
 * offered on e-RS (an e-RS profile: INAPPROPRIATE_VALUE otherwise).
 */
import type { HealthcareService } from 'fhir/r4.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { ersProfileOf, HEALTHCARE_SERVICE, type ErsProfile } from '../directory/index.js';
import { ersError } from './ers-errors.js';

export interface OfferedService {
  service: HealthcareService;
  profile: ErsProfile;
  /** ODS code of the organisation providing it. */
  provider: string;
}

/** The e-RS service `id`; refusals with `status` (a015 answers 400, a016 422, as each publishes). */
export async function offeredService(
  store: ResourceStore,
  id: string,
  status: 400 | 422,
): Promise<OfferedService> {
  const stored = await store.read(HEALTHCARE_SERVICE, id);
  if (!stored)
    throw ersError(status, 'not-found', 'REFERENCE_NOT_FOUND', `Service ${id} does not exist`);
  if (stored.resource.active === false)
    throw ersError(
      status,
      'business-rule',
      'SERVICE_UNAVAILABLE',
      `Service ${id} is no longer available`,
    );
  const profile = ersProfileOf(stored.resource);
  const provider = stored.resource.providedBy?.identifier?.value;
  if (!profile || !provider)
    throw ersError(
      status,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      `Service ${id} is not offered on e-RS`,
    );
  return { service: stored.resource, profile, provider };
}
