import { FhirError } from '../../fhir/errors.js';
import { requireNhsNumber } from '../../fhir/nhs-number.js';
import { nhsNumberFromReference } from '../../fhir/parameters.js';
import {
  CONSENT_CHOICE_SYSTEM,
  CONSENT_SCOPE,
  CONSENT_SCOPE_SYSTEM,
  isChoiceCode,
  type ChoiceCode,
} from './consent-codes.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

/** What a valid Consent body asks for: whose choice, and which. */
export interface ConsentRequest {
  nhsNumber: string;
  code: ChoiceCode;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const codings = (concept: unknown): Json[] =>
  isObject(concept) && Array.isArray(concept.coding) ? concept.coding.filter(isObject) : [];

/** The NHS Number a Consent names: patient.identifier (NHS Number system) or patient.reference. */
function patientOf(consent: Json): string {
  const patient = consent.patient;
  if (patient === undefined || patient === null)
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - 'patient' is required (the patient's NHS Number)",
    );
  if (!isObject(patient))
    throw new FhirError(400, 'INVALID_VALUE', "Invalid value - 'patient' must be a Reference");
  let value: unknown;
  if (isObject(patient.identifier)) {
    if (patient.identifier.system !== NHS_NUMBER_SYSTEM) {
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - 'patient.identifier.system' must be ${NHS_NUMBER_SYSTEM}`,
      );
    }
    value = patient.identifier.value;
  } else if (typeof patient.reference === 'string') {
    value = nhsNumberFromReference(patient.reference);
  } else {
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - 'patient' must carry an NHS Number identifier or a Patient reference",
    );
  }
  return requireNhsNumber(value);
}

/** The one choice code the Consent gives, from policyRule or provision.code, in the OpenSpine system. */
function choiceOf(consent: Json): ChoiceCode {
  const provision = isObject(consent.provision) ? consent.provision : {};
  const given = [
    ...codings(consent.policyRule),
    ...(Array.isArray(provision.code) ? provision.code.flatMap(codings) : []),
  ].filter((c) => c.system === CONSENT_CHOICE_SYSTEM);
  if (given.length === 0) {
    throw new FhirError(
      400,
      'MISSING_VALUE',
      `Missing value - a choice code from ${CONSENT_CHOICE_SYSTEM} is required in 'policyRule' or 'provision.code'`,
    );
  }
  const codes = [...new Set(given.map((c) => c.code))];
  if (codes.length > 1)
    throw new FhirError(
      400,
      'TOO_MANY_VALUES_SUBMITTED',
      'Too many values submitted - a Consent records exactly one choice',
    );
  if (!isChoiceCode(codes[0])) {
    throw new FhirError(
      400,
      'UNSUPPORTED_VALUE',
      `Unsupported value - '${String(codes[0]).slice(0, 60)}' is not a code of ${CONSENT_CHOICE_SYSTEM}`,
    );
  }
  return codes[0];
}

/** Validates a Consent body in full; every defect is a 400 with its own Spine code. */
export function parseConsent(body: unknown): ConsentRequest {
  if (!isObject(body) || body.resourceType !== 'Consent') {
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'Invalid value - request body must be a FHIR Consent resource',
    );
  }
  if (body.status === undefined)
    throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'status' is required");
  if (body.status !== 'active') {
    throw new FhirError(
      400,
      'INVALID_VALUE',
      "Invalid value - 'status' must be 'active'; a choice is withdrawn by recording another",
    );
  }
  if (body.scope === undefined)
    throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'scope' is required");
  if (
    !codings(body.scope).some((c) => c.system === CONSENT_SCOPE_SYSTEM && c.code === CONSENT_SCOPE)
  ) {
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `Invalid value - 'scope' must be ${CONSENT_SCOPE_SYSTEM}|${CONSENT_SCOPE}`,
    );
  }
  return { nhsNumber: patientOf(body), code: choiceOf(body) };
}

/** The route's patient extractor: the platform checks a patient token against it before the handler runs. */
export const consentPatient = (body: unknown): string => parseConsent(body).nhsNumber;
