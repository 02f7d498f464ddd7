import type {
  AllergyIntolerance,
  Bundle,
  BundleEntry,
  FhirResource,
  MedicationRequest,
  MedicationStatement,
} from 'fhir/r4.js';
import { EntryIndex, type ScrDocument } from './document-model.js';
import type { ViewBasis } from './document-access.js';
import { viewBasisTag } from './document-views.js';

/** An allergy still counts unless it is resolved, inactive, refuted or entered in error. */
function currentAllergy(a: AllergyIntolerance): boolean {
  const clinical = a.clinicalStatus?.coding?.[0]?.code;
  const verification = a.verificationStatus?.coding?.[0]?.code;
  return (
    (!clinical || clinical === 'active') &&
    verification !== 'refuted' &&
    verification !== 'entered-in-error'
  );
}

function currentMedication(m: MedicationStatement | MedicationRequest): boolean {
  return m.resourceType === 'MedicationStatement'
    ? m.status === 'active' || m.status === 'intended'
    : m.status === 'active';
}

/**
 * The flattened view for clinical apps: the current allergies (with their reactions) and current
 * medications of the current SCR as a searchset, each medicine's Medication included when the
 * statement refers to one. Only core content, so consent to additional information does not matter.
 */
export function summarySearchset(doc: ScrDocument, baseUrl: string, basis: ViewBasis): Bundle {
  const entries = doc.bundle.entry ?? [];
  const index = new EntryIndex(entries);
  const matches: FhirResource[] = [];
  const included = new Map<string, FhirResource>();
  for (const r of entries.map((e) => e.resource!)) {
    if (r.resourceType === 'AllergyIntolerance' && currentAllergy(r)) matches.push(r);
    if (
      (r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationRequest') &&
      currentMedication(r)
    ) {
      matches.push(r);
      const med = r.medicationReference?.reference
        ? index.resolve(r.medicationReference.reference)
        : undefined;
      if (med?.resourceType === 'Medication') included.set(med.id!, med);
    }
  }
  const entry = (r: FhirResource, mode: 'match' | 'include'): BundleEntry => ({
    fullUrl: `${baseUrl}/${r.resourceType}/${r.id}`,
    resource: structuredClone(r),
    search: { mode },
  });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    meta: { tag: [viewBasisTag(basis)] },
    timestamp: new Date().toISOString(),
    total: matches.length,
    entry: [
      ...matches.map((r) => entry(r, 'match')),
      ...[...included.values()].map((r) => entry(r, 'include')),
    ],
  };
}
