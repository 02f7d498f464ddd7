import type { Bundle, BundleEntry, CodeableConcept, Composition, FhirResource, Identifier, Reference } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { NHS_NUMBER_SYSTEM } from '../pds/patient-model.js';
import { dmdProblem, requireCoded, snomedProblem } from './document-codes.js';
import { EntryIndex, GP_SUMMARY, ODS_SYSTEM, referencesIn, SNOMED } from './document-model.js';

/** What the service needs from a document that passed every structural and coding rule. */
export interface ValidDocument {
  bundle: Bundle;
  composition: Composition;
  subjectNhs: string;
  /** ODS codes of the organisations the Composition's authors act for. */
  authorOrgs: string[];
  compositionIdentifier: string;
}

const MAX_ENTRIES = 2000;
const short = (s: unknown) => String(s).slice(0, 120);

function bad(diagnostics: string, code: 'INVALID_VALUE' | 'MISSING_VALUE' = 'INVALID_VALUE'): never {
  throw new FhirError(400, code, diagnostics);
}

/**
 * The subject's NHS Number as the document states it, checking only enough shape to find it; the
 * access-control hook uses this to check the legitimate relationship before the handler runs.
 */
export function documentSubject(body: unknown): string | undefined {
  const b = body as Bundle | null;
  if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle' || !Array.isArray(b.entry)) return undefined;
  const composition = b.entry[0]?.resource;
  if (composition?.resourceType !== 'Composition' || typeof composition.subject?.reference !== 'string') return undefined;
  const patient = new EntryIndex(b.entry.filter((e) => e && typeof e === 'object')).resolve(composition.subject.reference);
  return patient?.resourceType === 'Patient' ? nhsNumberOf(patient.identifier) : undefined;
}

function nhsNumberOf(identifiers: Identifier[] | undefined): string | undefined {
  const value = identifiers?.find((i) => i.system === NHS_NUMBER_SYSTEM)?.value;
  return typeof value === 'string' ? value : undefined;
}

/** Document shape: a Bundle of type document whose first entry is a final GP summary Composition. */
function checkShape(body: unknown): { bundle: Bundle; entries: BundleEntry[]; composition: Composition } {
  const bundle = body as Bundle;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle') bad('Request body must be a FHIR Bundle');
  if (bundle.type !== 'document') bad(`Bundle.type must be 'document', not '${short(bundle.type)}'`);
  if (!Array.isArray(bundle.entry) || bundle.entry.length === 0) bad('A document Bundle needs entries', 'MISSING_VALUE');
  if (bundle.entry.length > MAX_ENTRIES) bad(`A document may hold at most ${MAX_ENTRIES} entries`);
  const seen = new Set<string>();
  bundle.entry.forEach((e, i) => {
    const r = e?.resource as FhirResource | undefined;
    if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string') bad(`Bundle.entry[${i}] has no resource`, 'MISSING_VALUE');
    if (typeof r.id !== 'string' || !/^[A-Za-z0-9\-.]{1,64}$/.test(r.id)) bad(`Bundle.entry[${i}] (${short(r.resourceType)}) needs a valid id`);
    const key = `${r.resourceType}/${r.id}`;
    if (seen.has(key) || (e.fullUrl && seen.has(e.fullUrl))) bad(`Bundle holds ${key} more than once`);
    seen.add(key);
    if (e.fullUrl) seen.add(e.fullUrl);
  });
  const composition = bundle.entry[0].resource as Composition;
  if (composition.resourceType !== 'Composition') bad('The first entry of a document must be its Composition');
  if (bundle.entry.slice(1).some((e) => e.resource?.resourceType === 'Composition')) bad('A document holds exactly one Composition');
  if (composition.status !== 'final') bad(`Composition.status must be 'final', not '${short(composition.status)}'`);
  const typeOk = composition.type?.coding?.some((c) => c.system === SNOMED && c.code === GP_SUMMARY.code);
  if (!typeOk) throw new FhirError(422, 'INVALID_CODE', `Composition.type must be SNOMED CT ${GP_SUMMARY.code} '${GP_SUMMARY.display}'`);
  return { bundle, entries: bundle.entry, composition };
}

/** Referential integrity: every reference inside the document names one of its entries. */
function checkReferences(entries: BundleEntry[], index: EntryIndex): void {
  for (const e of entries) {
    for (const ref of referencesIn(e.resource)) {
      if (!index.resolve(ref)) throw new FhirError(422, 'INVALID_REFERENCE', `${e.resource!.resourceType}/${e.resource!.id} refers to '${short(ref)}', which is not in the document`);
    }
  }
}

/** The clinical entries are coded: SNOMED CT for findings and allergies, dm+d for medicines. */
function checkCodes(entries: BundleEntry[], index: EntryIndex): void {
  for (const e of entries) {
    const r = e.resource as FhirResource;
    const what = `${r.resourceType}/${r.id}`;
    switch (r.resourceType) {
      case 'AllergyIntolerance':
        requireCoded(snomedProblem(r.code), `${what}.code`);
        r.reaction?.forEach((reaction, i) => reaction.manifestation?.forEach((m, j) => requireCoded(snomedProblem(m), `${what}.reaction[${i}].manifestation[${j}]`)));
        break;
      case 'MedicationStatement':
      case 'MedicationRequest':
        requireCoded(dmdProblem(medicationConcept(r.medicationCodeableConcept, r.medicationReference, index)), `${what}.medication`);
        break;
      case 'Condition':
      case 'Procedure':
      case 'Observation':
        requireCoded(snomedProblem(r.code), `${what}.code`);
        break;
      default:
    }
  }
}

function medicationConcept(concept: CodeableConcept | undefined, ref: Reference | undefined, index: EntryIndex): CodeableConcept | undefined {
  if (concept) return concept;
  const med = ref?.reference ? index.resolve(ref.reference) : undefined;
  return med?.resourceType === 'Medication' ? med.code : undefined;
}

/** Every clinical entry that names its patient names the document's subject. */
function checkSameSubject(entries: BundleEntry[], index: EntryIndex, subject: FhirResource): void {
  for (const e of entries) {
    const r = e.resource as FhirResource & { subject?: Reference; patient?: Reference };
    const named = r.resourceType === 'AllergyIntolerance' ? r.patient : r.subject;
    if (typeof named?.reference !== 'string' || r.resourceType === 'Composition') continue;
    if (index.resolve(named.reference) !== subject) throw new FhirError(422, 'INVALID_REFERENCE', `${r.resourceType}/${r.id} is about a different patient from the Composition`);
  }
}

/** ODS codes of the organisations the Composition's authors are or act for. */
function authorOrganisations(composition: Composition, index: EntryIndex): string[] {
  const orgs: string[] = [];
  for (const author of composition.author ?? []) {
    let r = author.reference ? index.resolve(author.reference) : undefined;
    if (r?.resourceType === 'PractitionerRole') r = r.organization?.reference ? index.resolve(r.organization.reference) : undefined;
    const ods = r?.resourceType === 'Organization' ? r.identifier?.find((i) => i.system === ODS_SYSTEM)?.value : undefined;
    if (ods) orgs.push(ods);
  }
  return orgs;
}

/** Validates a whole SCR document; nothing about it is stored unless every rule holds. */
export function validateScrDocument(body: unknown): ValidDocument {
  const { bundle, entries, composition } = checkShape(body);
  const index = new EntryIndex(entries);
  checkReferences(entries, index);
  if (typeof composition.subject?.reference !== 'string') bad('Composition.subject must reference the Patient entry', 'MISSING_VALUE');
  const subject = index.resolve(composition.subject.reference)!;
  if (subject.resourceType !== 'Patient') throw new FhirError(422, 'INVALID_REFERENCE', 'Composition.subject must reference a Patient');
  const subjectNhs = nhsNumberOf(subject.identifier);
  if (!subjectNhs) bad(`The subject Patient must carry an identifier with system ${NHS_NUMBER_SYSTEM}`, 'MISSING_VALUE');
  if (!isValidNhsNumber(subjectNhs)) throw new FhirError(400, 'INVALID_RESOURCE_ID', `The subject's NHS Number '${short(subjectNhs).slice(0, 20)}' is not valid`);
  checkSameSubject(entries, index, subject);
  checkCodes(entries, index);
  const authorOrgs = authorOrganisations(composition, index);
  if (authorOrgs.length === 0) bad('Composition.author must identify the authoring organisation by ODS code (Organization, or PractitionerRole.organization)', 'MISSING_VALUE');
  const compositionIdentifier = composition.identifier?.value ?? composition.id!;
  return { bundle, composition, subjectNhs, authorOrgs, compositionIdentifier };
}
