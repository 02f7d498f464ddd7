import type {
  Bundle,
  BundleEntry,
  Coding,
  Composition,
  DocumentReference,
  FhirResource,
} from 'fhir/r4.js';
import type { ScrConsentChoice } from './consent-store.js';
import type { ViewBasis } from './document-access.js';
import {
  ACS_PERMISSION_SYSTEM,
  CORE_SECTIONS,
  CORE_TYPES,
  EntryIndex,
  GP_SUMMARY,
  referencesIn,
  SCR_UUID_SYSTEM,
  VIEW_BASIS_SYSTEM,
  type ScrDocument,
} from './document-model.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/**
 * The document as this patient's consent allows it to be shown. With express consent ('additional')
 * it is whole. Otherwise only core content survives: the Composition keeps only core sections (the
 * narrative of any other section could repeat what is withheld), and the entries kept are the core
 * clinical ones and whatever they and the Composition still refer to, so nothing unreferenced
 * (an Encounter of a withheld Observation, say) is left behind.
 */
export function bundleForConsent(bundle: Bundle, consent: ScrConsentChoice): Bundle {
  if (consent === 'additional') return structuredClone(bundle);
  const entries = bundle.entry ?? [];
  const index = new EntryIndex(entries);
  const composition = structuredClone(entries[0].resource as Composition);
  composition.section = (composition.section ?? []).filter((s) => {
    const code = s.code?.coding?.[0]?.code;
    const refsCore = (s.entry ?? []).every(
      (r) =>
        typeof r.reference === 'string' &&
        CORE_TYPES.has(index.resolve(r.reference)?.resourceType ?? ''),
    );
    return code !== undefined && CORE_SECTIONS.has(code) && refsCore;
  });
  const keep = new Set<FhirResource>([composition]);
  const queue: FhirResource[] = [
    composition,
    ...entries
      .map((e) => e.resource!)
      .filter(
        (r) => r.resourceType !== 'Composition' && CORE_TYPES.has(r.resourceType) && isClinical(r),
      ),
  ];
  queue.forEach((r) => keep.add(r));
  while (queue.length > 0) {
    for (const ref of referencesIn(queue.pop())) {
      const target = index.resolve(ref);
      if (target && CORE_TYPES.has(target.resourceType) && !keep.has(target)) {
        keep.add(target);
        queue.push(target);
      }
    }
  }
  const kept: BundleEntry[] = [{ ...entries[0], resource: composition }];
  for (const e of entries.slice(1)) if (keep.has(e.resource!)) kept.push(structuredClone(e));
  return { ...structuredClone(bundle), entry: kept };
}

const isClinical = (r: FhirResource) =>
  ['AllergyIntolerance', 'MedicationStatement', 'MedicationRequest'].includes(r.resourceType);

/** The tag that tells the reader (and the record) on what basis the clinical content was shown. */
export function viewBasisTag(basis: ViewBasis): Coding {
  const display = {
    'own-record': "The patient's own record",
    permission: 'Patient permission to view recorded',
    'emergency-access': 'Emergency access',
  }[basis];
  return { system: VIEW_BASIS_SYSTEM, code: basis, display };
}

/** A stored version as returned: the Bundle under its id, tagged with the basis it was shown on. */
export function bundleForView(
  doc: ScrDocument,
  consent: ScrConsentChoice,
  basis: ViewBasis,
): Bundle {
  const bundle = bundleForConsent(doc.bundle, consent);
  const security: Coding[] =
    basis === 'permission' ? [{ system: ACS_PERMISSION_SYSTEM, code: 'Yes' }] : [];
  bundle.meta = {
    ...bundle.meta,
    tag: [...(bundle.meta?.tag ?? []), viewBasisTag(basis)],
    ...(security.length ? { security } : {}),
  };
  return bundle;
}

/** The published read's URL of a version: the search form, by its identifier and the patient's NHS Number. */
export function documentSearchUrl(
  baseUrl: string,
  compositionIdentifier: string,
  patient: string,
): string {
  return `${baseUrl}/Bundle?composition.identifier=${encodeURIComponent(compositionIdentifier)}&composition.subject:Patient.identifier=${NHS_NUMBER_SYSTEM}|${patient}`;
}

/**
 * DocumentReference metadata for one version, in the shape of the NHS SCR API's search
 * (DocumentReferenceBundle.json): the SCR UUID as master identifier, the GP summary type, current
 * or superseded, the subject as the searchset's Patient entry, the caller's permission to view
 * (SCR-ACSPermission: Yes, No, or Ask when none stands) and the published read's URL.
 */
export function documentReference(
  doc: ScrDocument,
  opts: { current: boolean; baseUrl: string; permission?: 'Yes' | 'No' | 'Ask'; patient?: string },
): DocumentReference {
  const gpSummary = { coding: [{ ...GP_SUMMARY }] };
  // the patient as they are now: a document filed under a number since merged belongs to the survivor
  const patient = opts.patient ?? doc.patient;
  return {
    resourceType: 'DocumentReference',
    id: doc.id,
    masterIdentifier: { system: SCR_UUID_SYSTEM, value: doc.compositionIdentifier },
    status: opts.current ? 'current' : 'superseded',
    type: gpSummary,
    subject: {
      reference: `Patient/${patient}`,
      identifier: { system: NHS_NUMBER_SYSTEM, value: patient },
    },
    date: doc.uploaded,
    author: [{ identifier: { system: ODS_SYSTEM, value: doc.authorOrg } }],
    securityLabel: [
      { coding: [{ system: ACS_PERMISSION_SYSTEM, code: opts.permission ?? 'Ask' }] },
    ],
    content: [
      {
        attachment: {
          contentType: 'application/fhir+json',
          url: documentSearchUrl(opts.baseUrl, doc.compositionIdentifier, patient),
        },
      },
    ],
    context: { event: [gpSummary] },
  };
}

/**
 * A version as the published read returns it (GetScrBundle.json): one searchset of the document's
 * resources, the Composition first, each under its RESTful URL; not a Bundle inside a Bundle.
 */
export function documentSearchset(view: Bundle | undefined, baseUrl: string): Bundle {
  const entry: BundleEntry[] = (view?.entry ?? []).map((e) => ({
    fullUrl: `${baseUrl}/${e.resource!.resourceType}/${e.resource!.id}`,
    resource: e.resource,
  }));
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(view?.meta ? { meta: view.meta } : {}),
    timestamp: new Date().toISOString(),
    total: entry.length,
    ...(entry.length ? { entry } : {}),
  };
}
