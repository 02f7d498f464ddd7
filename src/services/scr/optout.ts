import type { Repository } from '../../store/types.js';
import { SCR_CONSENT_STATE_TYPE, type ScrConsentState } from './consent-store.js';

/**
 * Which of these patients have the national data opt-out in force, for secondary-uses extracts
 * (SUS) to leave out. One readMany over the patients' current consent states; a patient with no
 * state has made no choice and is not opted out. Direct care never consults this.
 */
export async function optedOut(repo: Repository, nhsNumbers: string[]): Promise<Set<string>> {
  if (nhsNumbers.length === 0) return new Set();
  const states = await repo.readMany(SCR_CONSENT_STATE_TYPE, [...new Set(nhsNumbers)]);
  return new Set(states.map((s) => s.resource as ScrConsentState).filter((s) => s.nationalOptOut).map((s) => s.id));
}
