import type { ResourceStore } from '../../store/resource-store.js';
import { consentStates } from './consent-store.js';

/**
 * Which of these patients have the national data opt-out in force, for secondary-uses extracts
 * (SUS) to leave out. A number superseded in a merge follows its surviving record's choice; one
 * readMany finds the superseded numbers and one more reads the survivors' consent states. A patient
 * with no state has made no choice and is not opted out. Direct care never consults this.
 */
export async function optedOut(repo: ResourceStore, nhsNumbers: string[]): Promise<Set<string>> {
  const states = await consentStates(repo, [...new Set(nhsNumbers)]);
  return new Set([...states].filter(([, state]) => state.nationalOptOut).map(([nhs]) => nhs));
}
