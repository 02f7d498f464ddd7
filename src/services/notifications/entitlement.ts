import { FhirError } from '../../fhir/errors.js';
import { principalMayPerform } from '../../security/access-control.js';
import type { Principal } from '../../security/principal.js';
import type { LegitimateRelationships } from '../../security/relationships.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { storedPatient } from '../pds/index.js';
import type { ParsedCriteria } from './criteria.js';

/**
 * Whether the caller may hold a subscription: a standing subscription gives what a read would, for
 * as long as it lasts, so it needs what the read needs. PDS events need the right to read
 * demographics (pds.read). Clinical events (SCR, prescriptions) about a named patient need an
 * organisational legitimate relationship with the patient (registered practice, episode, referral,
 * prescription, self-claimed), not one user's emergency access, which expires. A named patient must
 * be a PDS record (as NEMS verifies the NHS Number before subscribing). Returns the basis relied on.
 */
export async function checkEntitlement(
  repo: ResourceStore,
  relationships: LegitimateRelationships,
  principal: Principal,
  criteria: ParsedCriteria,
): Promise<string | undefined> {
  const demographic = criteria.events.some((e) => e.startsWith('pds-'));
  const clinical = criteria.events.some((e) => !e.startsWith('pds-'));
  if (demographic && !principalMayPerform(principal, 'pds.read')) {
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      'Subscribing to PDS events needs the right to read demographics (pds.read), which your role does not have',
    );
  }
  if (criteria.scope.kind !== 'patient') return undefined;
  const nhs = criteria.scope.nhsNumber;
  if (!(await storedPatient(repo, nhs)))
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `Invalid value - NHS Number '${nhs}' is not a PDS record`,
    );
  if (!clinical) return undefined;
  const basis = await relationships.basis(principal, nhs);
  if (!basis || basis === 'emergency-access') {
    throw new FhirError(
      403,
      'NO_LEGITIMATE_RELATIONSHIP',
      `Organisation ${principal.org || '(none)'} has no legitimate relationship with this patient, which subscribing to clinical events needs`,
    );
  }
  return basis;
}
