import type { ScrConsentChoice } from './consent-store.js';

/**
 * The choices a Consent resource records, as codes of an OpenSpine code system. The SCR and
 * national data opt-out specifications publish no FHIR codes for these (clinical systems record
 * them with SNOMED CT "express consent / dissent for Summary Care Record dataset upload" concepts,
 * which we do not ship), so OpenSpine defines its own until they are mapped:
 *
 *   scr-core                         the default: core SCR (allergies, reactions, medications)
 *   scr-additional                   express consent to SCR with additional information
 *   scr-dissent                      dissent from having an SCR at all
 *   national-data-opt-out            opt out of secondary uses of confidential patient information
 *   national-data-opt-out-withdrawn  withdraw that opt-out (secondary uses allowed again)
 *
 * A code is given in Consent.policyRule.coding or Consent.provision.code[].coding.
 */
export const CONSENT_CHOICE_SYSTEM = 'https://openspine.dev/CodeSystem/scr-consent-choice';
export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
export const CONSENT_SCOPE = 'patient-privacy';

export type ChoiceCode =
  | 'scr-core'
  | 'scr-additional'
  | 'scr-dissent'
  | 'national-data-opt-out'
  | 'national-data-opt-out-withdrawn';

/** What a code changes: the SCR choice, or the national data opt-out flag. */
export type ChoiceEffect =
  { kind: 'scr'; scr: ScrConsentChoice } | { kind: 'optout'; optedOut: boolean };

export const CHOICES: Readonly<Record<ChoiceCode, { display: string; effect: ChoiceEffect }>> = {
  'scr-core': {
    display: 'Summary Care Record with core information only',
    effect: { kind: 'scr', scr: 'core' },
  },
  'scr-additional': {
    display: 'Express consent to a Summary Care Record with additional information',
    effect: { kind: 'scr', scr: 'additional' },
  },
  'scr-dissent': {
    display: 'Dissent from having a Summary Care Record',
    effect: { kind: 'scr', scr: 'dissent' },
  },
  'national-data-opt-out': {
    display: 'National data opt-out: no secondary uses',
    effect: { kind: 'optout', optedOut: true },
  },
  'national-data-opt-out-withdrawn': {
    display: 'National data opt-out withdrawn',
    effect: { kind: 'optout', optedOut: false },
  },
};

export function isChoiceCode(code: unknown): code is ChoiceCode {
  return typeof code === 'string' && Object.hasOwn(CHOICES, code);
}

/** The code that records a state value, for audit details and listings. */
export function codeForScr(scr: ScrConsentChoice): ChoiceCode {
  return scr === 'core' ? 'scr-core' : scr === 'additional' ? 'scr-additional' : 'scr-dissent';
}

export function codeForOptOut(optedOut: boolean): ChoiceCode {
  return optedOut ? 'national-data-opt-out' : 'national-data-opt-out-withdrawn';
}
