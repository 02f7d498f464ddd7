import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4.js';
import { resourceType } from '../../store/resource-store.js';

/** Facts about SCR documents shared by validation, storage and the views. */

export const SCR_DOCUMENT_TYPE = resourceType<ScrDocument>('ScrDocument');
/** One per patient: which document is current. Its version check serialises uploads for that patient. */
export const SCR_POINTER_TYPE = resourceType<ScrPointer>('ScrPointer');

export const SNOMED = 'http://snomed.info/sct';
export const DMD = 'https://dmd.nhs.uk';
export const SCR_UUID_SYSTEM = 'https://fhir.nhs.uk/Id/nhsSCRUUID';
export const ACS_PERMISSION_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission';
/** OpenSpine's own tag saying on what basis clinical content was shown (permission, emergency access, own record). */
export const VIEW_BASIS_SYSTEM = 'https://openspine.dev/CodeSystem/scr-view-basis';
export const GP_SUMMARY = {
  system: SNOMED,
  code: '196981000000101',
  display: 'General Practice Summary',
} as const;

/** Always part of an SCR: allergies, adverse reactions, medications and what they need to make sense. */
export const CORE_TYPES: ReadonlySet<string> = new Set([
  'Composition',
  'Patient',
  'Organization',
  'Practitioner',
  'PractitionerRole',
  'Encounter',
  'Device',
  'AllergyIntolerance',
  'MedicationStatement',
  'MedicationRequest',
  'Medication',
]);
/** Sections of the GP summary that hold only core information (by the section codes SCR uses). */
export const CORE_SECTIONS: ReadonlySet<string> = new Set([
  'Title',
  'AllergiesHeader',
  'AcuteMedsHeader',
  'RepeatMedsHeader',
  'DiscRepeatMedsHeader',
]);

/** A stored SCR version: the document exactly as accepted, plus what the service needs to find and show it. */
export interface ScrDocument {
  resourceType: typeof SCR_DOCUMENT_TYPE;
  id: string;
  patient: string;
  /** 1 for the patient's first SCR, then one more per upload. */
  sequence: number;
  compositionIdentifier: string;
  authorOrg: string;
  uploadedBy: string;
  uploaded: string;
  bundle: Bundle;
}

/**
 * The per-patient pointer. Uploads write it (version-checked) to become current; a recorded dissent
 * writes it too, in the same commit as the consent state, so an upload that read the consent state
 * before the dissent committed fails its version check instead of storing a document.
 */
export interface ScrPointer {
  resourceType: typeof SCR_POINTER_TYPE;
  id: string;
  /** The current document; null when the patient dissented before ever having an SCR. */
  current: string | null;
  sequence: number;
  /** The Consent that last recorded dissent, when the pointer was last written by one. */
  dissentConsentId?: string;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const isAsciiLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Entries of a document by every name a reference inside it may use: fullUrl and Type/id. */
export class EntryIndex {
  private readonly byKey = new Map<string, FhirResource>();

  constructor(entries: BundleEntry[]) {
    for (const e of entries) {
      const r = e.resource;
      if (!r) continue;
      if (e.fullUrl) this.byKey.set(e.fullUrl, r);
      if (r.id) this.byKey.set(`${r.resourceType}/${r.id}`, r);
    }
  }

  /** The entry a reference names: exact fullUrl, 'Type/id', or an absolute URL ending in Type/id. */
  resolve(reference: string): FhirResource | undefined {
    const exact = this.byKey.get(reference);
    if (exact) return exact;
    // the letters before the last '/' and a FHIR id after it, found by scanning back: the regex this
    // replaces, /([A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/, backtracked quadratically on a long reference
    const slash = reference.lastIndexOf('/');
    if (slash <= 0 || !FHIR_ID.test(reference.slice(slash + 1))) return undefined;
    let start = slash;
    while (start > 0 && isAsciiLetter(reference.charCodeAt(start - 1))) start--;
    return start < slash ? this.byKey.get(reference.slice(start)) : undefined;
  }
}

/** Every literal reference string inside a resource (references to contained resources excluded). */
export function referencesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) referencesIn(v, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') {
        if (!v.startsWith('#')) out.push(v);
      } else if (k !== 'contained') referencesIn(v, out);
    }
  }
  return out;
}
