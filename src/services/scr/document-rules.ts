import type {
  Bundle,
  BundleEntry,
  CodeableConcept,
  Composition,
  FhirResource,
  Identifier,
  Reference,
} from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { isObject, objectAt, objectsAt, stringAt } from '../../fhir/json-shape.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { dmdProblem, requireCoded, snomedProblem } from './document-codes.js';
import { EntryIndex, GP_SUMMARY, referencesIn, SNOMED } from './document-model.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/** What the service needs from a document that passed every structural and coding rule. */
export interface ValidDocument {
  bundle: Bundle;
  composition: Composition;
  subjectNhs: string;
  /**
   * ODS codes of the organisations the Composition's authors act for; empty when the authors are
   * people whose organisation the document does not name or names without an ODS code (the
   * published examples do both), and then the uploading organisation is the author.
   */
  authorOrgs: string[];
  compositionIdentifier: string;
}

const MAX_ENTRIES = 2000;
const short = (s: unknown) => String(s).slice(0, 120);

function bad(
  diagnostics: string,
  code: 'INVALID_VALUE' | 'MISSING_VALUE' = 'INVALID_VALUE',
): never {
  throw new FhirError(400, code, diagnostics);
}

/**
 * The subject's NHS Number as the document states it, checking only enough shape to find it; the
 * access-control hook uses this to check the legitimate relationship before the handler runs.
 */
export function documentSubject(body: unknown): string | undefined {
  try {
    const b = body as Bundle | null;
    if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle' || !Array.isArray(b.entry))
      return undefined;
    const composition = b.entry[0]?.resource;
    if (
      composition?.resourceType !== 'Composition' ||
      typeof composition.subject?.reference !== 'string'
    )
      return undefined;
    const patient = new EntryIndex(
      b.entry.filter((e) => isObject(e) && isObject(e.resource)),
    ).resolve(composition.subject.reference);
    return patient?.resourceType === 'Patient' ? nhsNumberOf(patient.identifier) : undefined;
  } catch {
    // a body this malformed names no patient; validateScrDocument gives the precise 400
    return undefined;
  }
}

function nhsNumberOf(identifiers: Identifier[] | undefined): string | undefined {
  const value = objectsAt(identifiers, 'Patient.identifier').find(
    (i) => i.system === NHS_NUMBER_SYSTEM,
  )?.value;
  return typeof value === 'string' ? value : undefined;
}

/** Composition.type, Medication.code...: true when one coding is exactly this system and code. */
function hasCoding(concept: unknown, path: string, system: string, code: string): boolean {
  return objectsAt(objectAt(concept, path)?.coding, `${path}.coding`).some(
    (c) => c.system === system && c.code === code,
  );
}

/** Document shape: a Bundle of type document whose first entry is a final GP summary Composition. */
function checkShape(body: unknown): {
  bundle: Bundle;
  entries: BundleEntry[];
  composition: Composition;
} {
  const bundle = body as Bundle;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle')
    bad('Request body must be a FHIR Bundle');
  if (bundle.type !== 'document')
    bad(`Bundle.type must be 'document', not '${short(bundle.type)}'`);
  if (!Array.isArray(bundle.entry) || bundle.entry.length === 0)
    bad('A document Bundle needs entries', 'MISSING_VALUE');
  if (bundle.entry.length > MAX_ENTRIES) bad(`A document may hold at most ${MAX_ENTRIES} entries`);
  const seen = new Set<string>();
  objectsAt(bundle.entry, 'Bundle.entry').forEach((e, i) =>
    stringAt(e.fullUrl, `Bundle.entry[${i}].fullUrl`),
  );
  bundle.entry.forEach((e, i) => {
    const r = e?.resource;
    if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string')
      bad(`Bundle.entry[${i}] has no resource`, 'MISSING_VALUE');
    if (typeof r.id !== 'string' || !/^[A-Za-z0-9\-.]{1,64}$/.test(r.id))
      bad(`Bundle.entry[${i}] (${short(r.resourceType)}) needs a valid id`);
    const key = `${r.resourceType}/${r.id}`;
    if (seen.has(key) || (e.fullUrl && seen.has(e.fullUrl)))
      bad(`Bundle holds ${key} more than once`);
    seen.add(key);
    if (e.fullUrl) seen.add(e.fullUrl);
  });
  const composition = bundle.entry[0].resource as Composition;
  if (composition.resourceType !== 'Composition')
    bad('The first entry of a document must be its Composition');
  if (bundle.entry.slice(1).some((e) => e.resource?.resourceType === 'Composition'))
    bad('A document holds exactly one Composition');
  if (composition.status !== 'final')
    bad(`Composition.status must be 'final', not '${short(composition.status)}'`);
  const typeOk = hasCoding(composition.type, 'Composition.type', SNOMED, GP_SUMMARY.code);
  if (!typeOk)
    throw new FhirError(
      422,
      'INVALID_CODE',
      `Composition.type must be SNOMED CT ${GP_SUMMARY.code} '${GP_SUMMARY.display}'`,
    );
  return { bundle, entries: bundle.entry, composition };
}

/** Referential integrity: every reference inside the document names one of its entries. */
function checkReferences(entries: BundleEntry[], index: EntryIndex): void {
  for (const e of entries) {
    for (const ref of referencesIn(e.resource)) {
      if (!index.resolve(ref))
        throw new FhirError(
          422,
          'INVALID_REFERENCE',
          `${e.resource!.resourceType}/${e.resource!.id} refers to '${short(ref)}', which is not in the document`,
        );
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
        requireCoded(snomedProblem(r.code, `${what}.code`), `${what}.code`);
        objectsAt(r.reaction, `${what}.reaction`).forEach((reaction, i) =>
          objectsAt(reaction.manifestation, `${what}.reaction[${i}].manifestation`).forEach(
            (m, j) =>
              requireCoded(
                snomedProblem(m as CodeableConcept, `${what}.reaction[${i}].manifestation[${j}]`),
                `${what}.reaction[${i}].manifestation[${j}]`,
              ),
          ),
        );
        break;
      case 'MedicationStatement':
      case 'MedicationRequest':
        requireCoded(
          dmdProblem(
            medicationConcept(r.medicationCodeableConcept, r.medicationReference, index, what),
            `${what}.medication`,
          ),
          `${what}.medication`,
        );
        break;
      case 'Condition':
      case 'Procedure':
      case 'Observation':
        requireCoded(snomedProblem(r.code, `${what}.code`), `${what}.code`);
        break;
      default:
    }
  }
}

function medicationConcept(
  concept: CodeableConcept | undefined,
  ref: Reference | undefined,
  index: EntryIndex,
  what: string,
): CodeableConcept | undefined {
  if (concept !== undefined && concept !== null)
    return objectAt(concept, `${what}.medicationCodeableConcept`) as CodeableConcept;
  const reference = stringAt(
    objectAt(ref, `${what}.medicationReference`)?.reference,
    `${what}.medicationReference.reference`,
  );
  const med = reference ? index.resolve(reference) : undefined;
  return med?.resourceType === 'Medication' ? med.code : undefined;
}

/** Every clinical entry that names its patient names the document's subject. */
function checkSameSubject(entries: BundleEntry[], index: EntryIndex, subject: FhirResource): void {
  for (const e of entries) {
    const r = e.resource as FhirResource & { subject?: Reference; patient?: Reference };
    const named = objectAt(
      r.resourceType === 'AllergyIntolerance' ? r.patient : r.subject,
      `${r.resourceType}/${r.id}.subject`,
    );
    if (typeof named?.reference !== 'string' || r.resourceType === 'Composition') continue;
    if (index.resolve(named.reference) !== subject)
      throw new FhirError(
        422,
        'INVALID_REFERENCE',
        `${r.resourceType}/${r.id} is about a different patient from the Composition`,
      );
  }
}

/** ODS codes of the organisations the Composition's authors are or act for. */
function authorOrganisations(composition: Composition, index: EntryIndex): string[] {
  const orgs: string[] = [];
  objectsAt(composition.author, 'Composition.author').forEach((author, i) => {
    const reference = stringAt(author.reference, `Composition.author[${i}].reference`);
    let r = reference ? index.resolve(reference) : undefined;
    if (r?.resourceType === 'PractitionerRole') {
      const org = stringAt(
        objectAt(r.organization, 'PractitionerRole.organization')?.reference,
        'PractitionerRole.organization.reference',
      );
      r = org ? index.resolve(org) : undefined;
    }
    if (r?.resourceType !== 'Organization') return; // a person with no organisation named: the uploader's
    const ods = stringAt(
      objectsAt(r.identifier, 'Organization.identifier').find((id) => id.system === ODS_SYSTEM)
        ?.value,
      'Organization.identifier.value',
    );
    // an organisation named without an ODS code (as the published examples do) is the uploader's:
    // the practice the token acts for, which the upload still checks against the registered practice
    if (ods) orgs.push(ods);
  });
  return orgs;
}

/** Validates a whole SCR document; nothing about it is stored unless every rule holds. */
export function validateScrDocument(body: unknown): ValidDocument {
  const { bundle, entries, composition } = checkShape(body);
  const index = new EntryIndex(entries);
  checkReferences(entries, index);
  if (typeof composition.subject?.reference !== 'string')
    bad('Composition.subject must reference the Patient entry', 'MISSING_VALUE');
  const subject = index.resolve(composition.subject.reference)!;
  if (subject.resourceType !== 'Patient')
    throw new FhirError(422, 'INVALID_REFERENCE', 'Composition.subject must reference a Patient');
  const subjectNhs = nhsNumberOf(subject.identifier);
  if (!subjectNhs)
    bad(
      `The subject Patient must carry an identifier with system ${NHS_NUMBER_SYSTEM}`,
      'MISSING_VALUE',
    );
  if (!isValidNhsNumber(subjectNhs))
    throw new FhirError(
      400,
      'INVALID_RESOURCE_ID',
      `The subject's NHS Number '${short(subjectNhs).slice(0, 20)}' is not valid`,
    );
  checkSameSubject(entries, index, subject);
  checkCodes(entries, index);
  const authorOrgs = authorOrganisations(composition, index);
  if (objectsAt(composition.author, 'Composition.author').length === 0)
    bad('Composition.author is required', 'MISSING_VALUE');
  const compositionIdentifier =
    stringAt(
      objectAt(composition.identifier, 'Composition.identifier')?.value,
      'Composition.identifier.value',
    ) ?? composition.id!;
  return { bundle, composition, subjectNhs, authorOrgs, compositionIdentifier };
}
