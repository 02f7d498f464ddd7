import type { Patient } from 'fhir/r4.js';
import { PHARMACY_EXTENSIONS, withholdLocation } from '../../fhir/location-data.js';
import { isCurrentAddress, isCurrentName, isRestricted } from './patient-model.js';
const SEARCH_HIDDEN_EXTENSIONS = new Set([
  ...PHARMACY_EXTENSIONS,
  'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NHSCommunication',
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-ContactPreference',
]);

/**
 * What a reader may see of a record. A restricted (sensitive) record withholds everything that
 * could reveal where the patient is (the platform's definition, src/fhir/location-data.ts; the
 * platform also enforces it on the way out, whatever a view returns).
 */
export function patientForRead(patient: Patient): Patient {
  return isRestricted(patient) ? withholdLocation(patient) : patient;
}

/** The reduced Patient of a search entry, as PDS returns: current usual names, home address, no preferences. */
export function patientForSearch(patient: Patient): Patient {
  const visible = patientForRead(patient);
  const name = visible.name?.filter((n) => ['usual', 'nickname', 'temp'].includes(n.use ?? 'usual') && isCurrentName(n));
  const address = visible.address?.filter((a) => a.use === 'home' && isCurrentAddress(a));
  const extension = visible.extension?.filter((e) => !SEARCH_HIDDEN_EXTENSIONS.has(e.url));
  return stripEmpty({ ...visible, name, address, extension });
}

function stripEmpty(p: Patient): Patient {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out as unknown as Patient;
}

/** Removes undefined and empty arrays at the top level (after views dropped elements). */
export function compactPatient(p: Patient): Patient {
  return stripEmpty(p);
}
