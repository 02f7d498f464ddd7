import { survivorsOf } from '../pds/index.js';
import { resourceType, type ResourceStore } from '../../store/resource-store.js';

/**
 * The patient-level SCR choices and the permissions to view, as the SCR service reads them. The
 * consent API (consent-routes.ts) writes them; the document routes read them. One current state
 * per patient, version-checked like every other document.
 */
export const SCR_CONSENT_STATE_TYPE = resourceType<ScrConsentState>('ScrConsentState');
export const SCR_PERMISSION_TYPE = resourceType<ScrPermission>('ScrPermission');

/**
 * 'core': allergies, reactions, medications (the default); 'additional': express consent to more;
 * 'dissent': no SCR at all.
 */
export type ScrConsentChoice = 'core' | 'additional' | 'dissent';

export interface ScrConsentState {
  resourceType: typeof SCR_CONSENT_STATE_TYPE;
  id: string;
  scr: ScrConsentChoice;
  /** National data opt-out: excluded from secondary uses (SUS); direct care unaffected. */
  nationalOptOut: boolean;
  /** The Consent resources that set the current values. */
  scrConsentId?: string;
  optOutConsentId?: string;
}

export const DEFAULT_CONSENT = (nhsNumber: string): ScrConsentState => ({
  resourceType: SCR_CONSENT_STATE_TYPE,
  id: nhsNumber,
  scr: 'core',
  nationalOptOut: false,
});

/** The patient's current choices (the defaults when none was ever recorded) and the stored version (0: none). */
export async function readConsentState(
  repo: ResourceStore,
  nhsNumber: string,
): Promise<{ state: ScrConsentState; version: number }> {
  const stored = await repo.read(SCR_CONSENT_STATE_TYPE, nhsNumber);
  return stored
    ? { state: stored.resource, version: stored.version }
    : { state: DEFAULT_CONSENT(nhsNumber), version: 0 };
}

/**
 * The current choices behind each of these NHS Numbers, a superseded number answering with its
 * surviving record's choices (choices follow the patient through a merge). One readMany finds the
 * superseded numbers, one more reads the survivors' states. Keyed by the number as given.
 */
export async function consentStates(
  repo: ResourceStore,
  nhsNumbers: string[],
): Promise<Map<string, ScrConsentState>> {
  if (nhsNumbers.length === 0) return new Map();
  const survivors = await survivorsOf(repo, nhsNumbers);
  const stored = await repo.readMany(SCR_CONSENT_STATE_TYPE, [...new Set(survivors.values())]);
  const byId = new Map(stored.map((s) => [s.id, s.resource]));
  return new Map(
    nhsNumbers.map((n) => {
      const survivor = survivors.get(n)!;
      return [n, byId.get(survivor) ?? DEFAULT_CONSENT(survivor)];
    }),
  );
}

/**
 * A clinician's record that the patient allowed this view of their SCR ('Yes'), refused it ('No'),
 * or is to be asked each time ('Ask').
 */
export interface ScrPermission {
  resourceType: typeof SCR_PERMISSION_TYPE;
  id: string;
  patient: string;
  userId: string;
  org: string;
  code: 'Yes' | 'No' | 'Ask';
  recorded: string;
  /** Until when it counts: the rest of the user's working session. */
  expires: string;
}

export const permissionId = (nhsNumber: string, userId: string) => `${nhsNumber}|${userId}`;

/** The permission this user recorded for this patient, if it is still current. */
export async function currentPermission(
  repo: ResourceStore,
  nhsNumber: string,
  userId: string,
  now = Date.now(),
): Promise<ScrPermission | null> {
  const stored = await repo.read(SCR_PERMISSION_TYPE, permissionId(nhsNumber, userId));
  const p = stored?.resource;
  return p && Date.parse(p.expires) > now ? p : null;
}
