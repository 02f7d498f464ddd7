import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { LegitimateRelationships } from '../../security/relationships.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { currentPatient, isInvalidated, requireCurrentPatient } from '../pds/index.js';
import { currentPermission, readConsentState, type ScrConsentChoice } from './consent-store.js';

/** How clinical content came to be shown: the patient's own record, their recorded permission, or break-glass. */
export type ViewBasis = 'own-record' | 'permission' | 'emergency-access';

export interface ViewDecision {
  basis: ViewBasis;
  consent: ScrConsentChoice;
}

/** The subject of an upload must be a known, current (not superseded, not invalidated) record. */
export async function requireCurrentSubject(repo: ResourceStore, nhs: string): Promise<Patient> {
  const stored = await requireCurrentPatient(repo, nhs);
  return stored.resource;
}

/**
 * The surviving NHS Number for a retrieval: a number superseded in a merge resolves to the record
 * that replaced it, as PDS reads do. When that is a different record, a staff caller's legitimate
 * relationship is checked again against it, because the platform checked the number as named.
 */
export async function resolveForRetrieval(
  repo: ResourceStore,
  relationships: LegitimateRelationships,
  ctx: RequestContext,
  nhs: string,
): Promise<string> {
  const stored = await currentPatient(repo, nhs);
  if (!stored || isInvalidated(stored.resource))
    throw new FhirError(404, 'PATIENT_NOT_FOUND', `Patient '${nhs}' not found`);
  const survivor = stored.id;
  const principal = ctx.principal!;
  if (survivor !== nhs && principal.kind !== 'patient') {
    const basis = await relationships.basis(principal, survivor);
    if (!basis)
      throw new FhirError(
        403,
        'NO_LEGITIMATE_RELATIONSHIP',
        `Organisation ${principal.org || '(none)'} has no legitimate relationship with the patient this NHS Number now belongs to`,
      );
    ctx.accessBasis = basis;
    if (basis === 'emergency-access') ctx.purpose = 'emergency-access';
  }
  return survivor;
}

/**
 * Dissent means no SCR at all: nothing of one is shown; 403, as the published API answers
 * (PSIS-30418), and the code says why.
 */
export async function consentFor(repo: ResourceStore, nhs: string): Promise<ScrConsentChoice> {
  const { state } = await readConsentState(repo, nhs);
  if (state.scr === 'dissent')
    throw new FhirError(
      403,
      'SCR_DISSENT',
      'The patient has dissented from having a Summary Care Record; access control does not permit access to it',
    );
  return state.scr;
}

/**
 * Whether this caller may see clinical content: the patient's own record needs nothing more; staff
 * need the patient's permission recorded for this session ('Yes'), or emergency access (theirs,
 * whatever the organisation's relationship: the permission to view override). A recorded 'No' is
 * otherwise a refusal even with a relationship.
 */
export async function viewDecision(
  repo: ResourceStore,
  ctx: RequestContext,
  nhs: string,
): Promise<ViewDecision> {
  const consent = await consentFor(repo, nhs);
  const principal = ctx.principal!;
  if (principal.kind === 'patient') return { basis: 'own-record', consent };
  if (ctx.accessBasis === 'emergency-access') return { basis: 'emergency-access', consent };
  const permission = await currentPermission(repo, nhs, principal.userId);
  if (permission?.code === 'Yes') return { basis: 'permission', consent };
  // the user's emergency access overrides a refusal, or a patient who cannot be asked, even where
  // the organisation has a relationship (which the platform reports as the basis before it)
  if (
    principal.kind === 'user' &&
    (await new LegitimateRelationships(repo).activeEmergencyAccess(principal.userId, nhs))
  ) {
    ctx.purpose = 'emergency-access';
    return { basis: 'emergency-access', consent };
  }
  // 'Ask' is no standing permission: the patient is asked, as with none recorded
  if (permission?.code === 'No')
    throw new FhirError(
      403,
      'SCR_PERMISSION_REFUSED',
      'The patient has refused permission for you to view their Summary Care Record in this session',
    );
  throw new FhirError(
    403,
    'SCR_PERMISSION_REQUIRED',
    "Ask the patient's permission to view their Summary Care Record and record it, or use emergency access with a reason",
  );
}
