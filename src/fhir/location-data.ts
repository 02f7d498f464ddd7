import type { Patient } from 'fhir/r4.js';

/**
 * What counts as a patient's location data, defined once for the whole platform: the elements of a
 * Patient that could tell someone where the patient lives or is cared for. A restricted (sensitive)
 * patient's location data never leaves the platform (src/security/location-release.ts enforces it
 * on every outgoing representation; PDS views, events and extracts use the same definition).
 */

/** Patient elements that carry location data. */
export const LOCATION_ELEMENTS = ['address', 'telecom', 'contact', 'generalPractitioner'] as const;

/** Patient extensions naming the organisations that dispense to the patient (and so place them). */
export const PHARMACY_EXTENSIONS: ReadonlySet<string> = new Set([
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy',
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-DispensingDoctor',
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier',
]);

/** The security label systems PDS records use for their confidentiality code. */
const CONFIDENTIALITY_CODES: ReadonlySet<string> = new Set(['R', 'V']);

/**
 * Whether a Patient resource says of itself that it is restricted (R) or very restricted (V).
 * Only a PDS record's own label is authoritative; a copy held elsewhere (an SCR upload, a
 * prescription) may carry any label or none.
 */
export function labelledRestricted(patient: object): boolean {
  const code = (patient as { meta?: { security?: { code?: unknown }[] } }).meta?.security?.[0]
    ?.code;
  return typeof code === 'string' && CONFIDENTIALITY_CODES.has(code);
}

/** The Patient without its location data (address, telecom, contacts, GP and pharmacies). */
export function withholdLocation<P extends object = Patient>(patient: P): P {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patient)) {
    if ((LOCATION_ELEMENTS as readonly string[]).includes(key)) continue;
    if (key === 'extension' && Array.isArray(value)) {
      const kept = value.filter((e: { url?: string }) => !PHARMACY_EXTENSIONS.has(e.url ?? ''));
      if (kept.length) out.extension = kept;
      continue;
    }
    out[key] = value;
  }
  return out as P;
}
