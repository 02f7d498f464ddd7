import type { Address, Extension, Patient } from 'fhir/r4.js';
import { PHARMACY_EXTENSIONS, withholdLocation } from '../../fhir/location-data.js';
import {
  confidentiality,
  isCurrentAddress,
  isCurrentName,
  isRestricted,
  today,
} from './patient-model.js';

/**
 * The URLs PDS publishes today (NHSDigital/personal-demographics-service-api, sandbox/mocks/Patient.json and
 * specification/components/schemas/codeable/NHSNumberVerificationStatus.yaml), and the older ones
 * records written before may still carry; a view always answers with the published ones.
 */
export const NHS_NUMBER_VERIFICATION_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus';
export const NHS_NUMBER_VERIFICATION_SYSTEM =
  'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus';
const LEGACY_VERIFICATION_URL =
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus';
const LEGACY_VERIFICATION_SYSTEM =
  'https://fhir.nhs.uk/R4/CodeSystem/UKCore-NHSNumberVerificationStatus';
/** meta.security as PDS labels it (patient-get.yaml / Meta.yaml, karate getPatientByNHSNumber.feature). */
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const LEGACY_SECURITY_SYSTEM = 'https://www.hl7.org/fhir/valueset-security-labels.html';

export const REMOVAL_FROM_REGISTRATION_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration';
/**
 * Removal reason exit codes a default (healthcare worker) application may see; any other reason is
 * confidential and reported as ORR "Other Reason" (RemovalReasonExitCode.yaml; karate
 * confidentialRemovalReasons/getPatientByNHSNumber.feature: AFN and LDN are answered ORR).
 */
const PUBLISHED_REMOVAL_REASONS = new Set(['DEA', 'EMB', 'SCT', 'NIT', 'TRA', 'ORR']);
const OTHER_REASON = { code: 'ORR', display: 'Other Reason' };
/**
 * The NHS record sharing consent extension, which PDS returns only to applications granted it
 * (karate recordSharingConsent/getPatientByNHSNumber.feature: the default application never sees it).
 */
export const RECORD_SHARING_CONSENT_URL = 'https://hl7.org/fhir/R4/consent.html';

/**
 * The only extension a search entry carries (PatientSearch.yaml: "Wrapper array for the patient's
 * death notification status").
 */
const isDeathNotification = (e: Extension) =>
  e.url.endsWith('Extension-UKCore-DeathNotificationStatus');

/**
 * What a reader may see of a record. A restricted (sensitive) record withholds everything that
 * could reveal where the patient is (the platform's definition, src/fhir/location-data.ts; the
 * platform also enforces it on the way out, whatever a view returns). The record is shown as PDS
 * shows it to an ordinary application: published URLs, no meta.lastUpdated, confidential removal
 * reasons as ORR, no record sharing consent, blank address lines dropped and the home address first.
 */
export function patientForRead(patient: Patient): Patient {
  if (confidentiality(patient) === 'V') return veryRestricted(patient);
  return published(isRestricted(patient) ? withholdLocation(patient) : patient);
}

/**
 * A very restricted (V) record says only that it exists: its NHS Number and its label. Name, date of
 * birth, address, contact details, practice and every extension stay within the platform, for every
 * kind of caller (privilegedAccessMode/getPatientByNHSNumber.feature: not even a privileged application
 * sees them).
 */
function veryRestricted(patient: Patient): Patient {
  return published({
    resourceType: 'Patient',
    id: patient.id,
    ...(patient.identifier ? { identifier: patient.identifier } : {}),
    ...(patient.meta ? { meta: patient.meta } : {}),
  });
}

/**
 * The reduced Patient of a search entry, as PDS returns: current usual names, the current home
 * address, current contact details, no extension but the death notification status. A match on
 * historic data answers with the current data (patient-search.yaml, "History").
 */
export function patientForSearch(patient: Patient): Patient {
  const visible = patientForRead(patient);
  const on = today();
  const name = visible.name?.filter(
    (n) => ['usual', 'nickname', 'temp'].includes(n.use ?? 'usual') && isCurrentName(n, on),
  );
  const address = visible.address?.filter((a) => a.use === 'home' && isCurrentAddress(a, on));
  const telecom = visible.telecom?.filter((t) => !t.period?.end || t.period.end.slice(0, 10) >= on);
  const extension = visible.extension?.filter(
    (e) => isDeathNotification(e) && !PHARMACY_EXTENSIONS.has(e.url),
  );
  return stripEmpty({ ...visible, name, address, telecom, extension });
}

function published(p: Patient): Patient {
  const out: Patient = { ...p };
  if (p.meta) {
    const { lastUpdated: _dropped, ...meta } = p.meta;
    out.meta = {
      ...meta,
      security: meta.security?.map((s) =>
        s.system === LEGACY_SECURITY_SYSTEM ? { ...s, system: CONFIDENTIALITY_SYSTEM } : s,
      ),
    };
    if (!out.meta.security) delete out.meta.security;
  }
  if (p.identifier) {
    out.identifier = p.identifier.map((i) =>
      i.extension ? { ...i, extension: i.extension.map(verificationExtension) } : i,
    );
  }
  if (p.extension)
    out.extension = p.extension
      .filter((e) => e.url !== RECORD_SHARING_CONSENT_URL)
      .map(removalReason);
  if (p.address) out.address = homeFirst(p.address.map(withoutBlankLines));
  return stripEmpty(out);
}

function verificationExtension(e: Extension): Extension {
  if (e.url !== LEGACY_VERIFICATION_URL && e.url !== NHS_NUMBER_VERIFICATION_URL) return e;
  const coding = e.valueCodeableConcept?.coding?.map((c) =>
    c.system === LEGACY_VERIFICATION_SYSTEM ? { ...c, system: NHS_NUMBER_VERIFICATION_SYSTEM } : c,
  );
  return {
    ...e,
    url: NHS_NUMBER_VERIFICATION_URL,
    ...(e.valueCodeableConcept
      ? { valueCodeableConcept: { ...e.valueCodeableConcept, coding } }
      : {}),
  };
}

function removalReason(e: Extension): Extension {
  if (e.url !== REMOVAL_FROM_REGISTRATION_URL || !e.extension) return e;
  return {
    ...e,
    extension: e.extension.map((inner) => {
      const codings = inner.valueCodeableConcept?.coding;
      if (inner.url !== 'removalFromRegistrationCode' || !codings) return inner;
      const coding = codings.map((c) =>
        c.code && PUBLISHED_REMOVAL_REASONS.has(c.code) ? c : { ...c, ...OTHER_REASON },
      );
      return { ...inner, valueCodeableConcept: { ...inner.valueCodeableConcept, coding } };
    }),
  };
}

/** Blank (empty, whitespace or null) address lines are dropped, as PDS answers an ordinary application. */
function withoutBlankLines(a: Address): Address {
  if (!a.line) return a;
  const line = a.line.filter((l) => typeof l === 'string' && l.trim() !== '');
  if (line.length === a.line.length) return a;
  // the primitive extensions (_line) line up with the lines dropped, so they go too
  const { line: _old, _line: _oldExtensions, ...rest } = a as Address & { _line?: unknown };
  return line.length ? { ...rest, line } : rest;
}

/**
 * The record in the order a reader is shown it (home address first), which is the order a PATCH's
 * list indices refer to: a client patches /address/0 of what it read, not of what is stored.
 */
export function inShownOrder(patient: Patient): Patient {
  return patient.address ? { ...patient, address: homeFirst(patient.address) } : patient;
}

/** The home address comes first; the others keep their order. */
function homeFirst(addresses: Address[]): Address[] {
  const firstHome = addresses.findIndex((a) => a.use === 'home');
  if (firstHome <= 0) return addresses;
  return [
    ...addresses.filter((a) => a.use === 'home'),
    ...addresses.filter((a) => a.use !== 'home'),
  ];
}

/**
 * The stored JSON answered as is, or null when it needs the full view: the common changes (URLs,
 * meta.lastUpdated) are string edits; removal reasons, blank lines and address order need a parse.
 */
export function publishedJson(json: string): string | null {
  if (
    json.includes('RemovalFromRegistration') ||
    json.includes(RECORD_SHARING_CONSENT_URL) ||
    BLANK_LINE.test(json) ||
    (json.includes('"line"') && json.indexOf('"line"') !== json.lastIndexOf('"line"'))
  )
    return null;
  let out = json;
  if (out.includes(LEGACY_VERIFICATION_URL))
    out = out
      .replace(LEGACY_VERIFICATION_URL, NHS_NUMBER_VERIFICATION_URL)
      .replace(LEGACY_VERIFICATION_SYSTEM, NHS_NUMBER_VERIFICATION_SYSTEM);
  if (out.includes(LEGACY_SECURITY_SYSTEM))
    out = out.replace(LEGACY_SECURITY_SYSTEM, CONFIDENTIALITY_SYSTEM);
  return out.replace(LAST_UPDATED, '');
}
const BLANK_LINE = /"line":\[[^\]]*("\s*"|null)/;
/** meta.lastUpdated with the comma on one side of it (the store writes it after versionId). */
const LAST_UPDATED = /,"lastUpdated":"[^"]*"|"lastUpdated":"[^"]*",?/;

function stripEmpty(p: Patient): Patient {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out as unknown as Patient;
}

/** A RelatedPerson as PDS shows it to an ordinary application: blank address lines dropped. */
export function relatedPersonForRead<R extends { address?: Address[] }>(person: R): R {
  return person.address ? { ...person, address: person.address.map(withoutBlankLines) } : person;
}

/** Removes undefined and empty arrays at the top level (after views dropped elements). */
export function compactPatient(p: Patient): Patient {
  return stripEmpty(p);
}

/**
 * A PDS searchset with no match has no `entry` at all, only `total: 0` (karate
 * getPatientRelatedPerson.feature "Patient doesn't have a related person"; searchParams.feature
 * "no results"). Other APIs keep their own searchset shape.
 */
export function withoutEmptyEntry<B extends { entry?: unknown[] }>(bundle: B): B {
  if (bundle.entry && bundle.entry.length === 0) delete bundle.entry;
  return bundle;
}
