import type { Consent } from 'fhir/r4.js';
import type { Principal } from '../../security/principal.js';
import {
  CHOICES,
  CONSENT_CHOICE_SYSTEM,
  CONSENT_SCOPE,
  CONSENT_SCOPE_SYSTEM,
  type ChoiceCode,
} from './consent-codes.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import { resourceType } from '../../store/resource-store.js';

export const CONSENT = resourceType<Consent>('Consent');
const SDS_USER_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';

/** Choices that refuse something (an SCR, secondary uses) are 'deny' provisions; the rest permit. */
export const DENIES: ReadonlySet<ChoiceCode> = new Set(['scr-dissent', 'national-data-opt-out']);

/**
 * The Consent as stored: built from the validated request, not copied from the body, so nothing the
 * caller sent beyond the choice and the patient is kept, and who recorded it comes from the token.
 */
export function buildConsent(
  id: string,
  nhsNumber: string,
  code: ChoiceCode,
  principal: Principal,
  now: string,
): Consent {
  const choice = { system: CONSENT_CHOICE_SYSTEM, code, display: CHOICES[code].display };
  const performer =
    principal.kind === 'patient'
      ? {
          type: 'Patient',
          identifier: { system: NHS_NUMBER_SYSTEM, value: principal.nhsNumber ?? principal.userId },
        }
      : {
          type: 'Practitioner',
          identifier: { system: SDS_USER_SYSTEM, value: principal.userId },
          ...(principal.name ? { display: principal.name } : {}),
        };
  return {
    resourceType: 'Consent',
    id,
    status: 'active',
    scope: {
      coding: [{ system: CONSENT_SCOPE_SYSTEM, code: CONSENT_SCOPE, display: 'Privacy Consent' }],
    },
    category: [
      { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] },
    ],
    patient: { type: 'Patient', identifier: { system: NHS_NUMBER_SYSTEM, value: nhsNumber } },
    dateTime: now,
    performer: [performer],
    ...(principal.org
      ? {
          organization: [
            { type: 'Organization', identifier: { system: ODS_SYSTEM, value: principal.org } },
          ],
        }
      : {}),
    policyRule: { coding: [choice] },
    provision: { type: DENIES.has(code) ? 'deny' : 'permit', code: [{ coding: [choice] }] },
  };
}

/** The choice code a stored Consent records. */
export function choiceCodeOf(consent: Consent): ChoiceCode {
  return consent.policyRule!.coding![0].code as ChoiceCode;
}

export const consentIndex = (nhsNumber: string) => [{ param: 'patient', value: nhsNumber }];
