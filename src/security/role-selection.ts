import { FhirError } from '../fhir/errors.js';
import type { Principal, RoleProfileClaim } from './principal.js';

/**
 * Which of a staff user's role profiles a request acts in. A user may hold several role profiles
 * (a GP partner at two practices, a nurse who is also a records manager); the token lists them and
 * each request names one by its id in NHSD-Session-URID, as NHS England's APIs publish. With no
 * header, the token's own selected profile applies, or the user's only one; a user with several
 * and no selection, or a header naming a profile the token does not list, is refused (400
 * INVALID_VALUE): a request never acts in a role its token does not vouch for.
 */
export const SESSION_URID_HEADER = 'nhsd-session-urid';

/** A refused NHSD-Session-URID; the PDS routes word it as PDS publishes (src/services/pds/published-errors.ts). */
export class RoleSelectionError extends FhirError {
  constructor(readonly value: string) {
    super(400, 'INVALID_VALUE', `Invalid value - '${value}' in header 'NHSD-Session-URID'`);
  }
}

export function actingPrincipal(
  principal: Principal,
  header: string | string[] | undefined,
): Principal {
  if (principal.kind !== 'user') return principal;
  const value = (Array.isArray(header) ? header.join(',') : (header ?? '')).trim();
  if (value === '') {
    if (principal.role !== '' || !principal.profiles) return principal;
    if (principal.profiles.length === 1) return inProfile(principal, principal.profiles[0]);
    throw new RoleSelectionError('');
  }
  if (value === principal.profileId) return principal;
  const profile = principal.profiles?.find((p) => p.id === value);
  if (!profile) throw new RoleSelectionError(value.slice(0, 64));
  return inProfile(principal, profile);
}

function inProfile(principal: Principal, profile: RoleProfileClaim): Principal {
  return { ...principal, role: profile.role, org: profile.org, profileId: profile.id };
}
