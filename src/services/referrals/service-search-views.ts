/**
 * A service search's answer as e-RS publishes it: an eRS-FetchServices-List-1 List
 * (specification/components/stu3/schemas/eRS-FetchServices-List.yaml; the shapes of the sandbox's
 * sandbox/src/mocks/stu3/patientServiceSearch/responses/*.json). Each entry carries the search's
 * facts about the service (Extension-eRS-ServiceSearch-ListItem-1: displayProminently, distance,
 * indicative appointment wait) and the service's summary (Extension-eRS-ServiceSummaryView-1).
 *
 * What OpenSpine's directory does not hold is left out where the schema allows (supportedAppointmentType,
 * linkToNHSWebsite, referrer alerts...) and given its neutral value where it is required: every service
 * treats both sexes (genderTreated MALE_AND_FEMALE) and requires no referral letter.
 */
import type { ErsProfile } from '../directory/index.js';
import { ERS_SERVICE_SYSTEM } from './referral-model.js';
import type { FoundService } from './service-search-service.js';
import { DIRECTORY_ORG_SYSTEM, SPECIALTY_PATH } from './service-search-rules.js';

const SD = 'https://fhir.nhs.uk/STU3/StructureDefinition/';
const CS = 'https://fhir.nhs.uk/STU3/CodeSystem/';
export const FETCH_SERVICES_PROFILE = `${SD}eRS-FetchServices-List-1`;
const LIST_ITEM_URL = `${SD}Extension-eRS-ServiceSearch-ListItem-1`;
const SUMMARY_URL = `${SD}Extension-eRS-ServiceSummaryView-1`;

const concept = (system: string, code: string) => ({ coding: [{ system, code }] });

/** The request flows a service supports, in e-RS's words (at most two, as published). */
function requestFlows(p: ErsProfile): string[] {
  const flows = [p.flow === 'BOOKABLE' ? 'APPOINTMENT_REQUEST' : 'TRIAGE_REQUEST'];
  if (p.adviceAndGuidance) flows.push('ADVICE_AND_GUIDANCE_REQUEST');
  return flows;
}

/**
 * The indicative appointment wait: days when the provider publishes one; otherwise NOT_APPLICABLE
 * for a triage service (it is not booked) and LIMITED_AVAILABILITY for a bookable one.
 */
function indicativeWait(p: ErsProfile) {
  if (p.waitDays !== undefined)
    return { url: 'indicativeAppointmentWaitTime', valueUnsignedInt: p.waitDays };
  const code = p.flow === 'TRIAGE' ? 'NOT_APPLICABLE' : 'LIMITED_AVAILABILITY';
  return {
    url: 'indicativeAppointmentWaitTime',
    valueCodeableConcept: concept(`${CS}eRS-IWT-1`, code),
  };
}

function entry(f: FoundService, specialtySystem: string) {
  const p = f.profile;
  return {
    extension: [
      {
        extension: [
          { url: 'displayProminently', valueBoolean: false },
          ...(f.miles === undefined
            ? []
            : [{ url: 'distance', valueUnsignedInt: Math.round(f.miles) }]),
          indicativeWait(p),
        ],
        url: LIST_ITEM_URL,
      },
    ],
    item: {
      extension: [
        {
          extension: [
            { url: 'serviceName', valueString: f.service.name ?? f.id },
            { url: 'specialty', valueCodeableConcept: concept(specialtySystem, p.specialty) },
            {
              url: 'genderTreated',
              valueCodeableConcept: concept(`${CS}eRS-GenderTreated-1`, 'MALE_AND_FEMALE'),
            },
            {
              url: 'bookableType',
              valueCodeableConcept: concept(`${CS}eRS-BookableType-1`, p.bookable ?? 'UNSPECIFIED'),
            },
            { url: 'referralLetterRequired', valueBoolean: false },
            {
              url: 'location',
              valueReference: {
                identifier: { system: DIRECTORY_ORG_SYSTEM, value: f.provider.ods },
                display: f.provider.name,
              },
            },
            ...requestFlows(p).map((code) => ({
              url: 'supportedRequestFlowType',
              valueCodeableConcept: concept(`${CS}eRS-RequestFlowType-1`, code),
            })),
          ],
          url: SUMMARY_URL,
        },
      ],
      identifier: { system: ERS_SERVICE_SYSTEM, value: f.id },
    },
  };
}

/**
 * The eRS-FetchServices-List-1 for the services found, in order. `baseUrl` is the API's base
 * (…/referrals/FHIR/STU3): specialties are coded in `_baseUrl_/STU3/CodeSystem/SPECIALTY`.
 */
export function fetchServicesList(services: FoundService[], baseUrl: string) {
  const specialtySystem = baseUrl.replace(/\/STU3$/, '') + SPECIALTY_PATH;
  return {
    meta: { profile: [FETCH_SERVICES_PROFILE] },
    resourceType: 'List',
    status: 'current',
    mode: 'snapshot',
    entry: services.map((f) => entry(f, specialtySystem)),
    ...(services.length
      ? {}
      : {
          emptyReason: {
            coding: [
              {
                system: 'http://hl7.org/fhir/ValueSet/list-empty-reason',
                code: 'nilknown',
                display: 'no results',
              },
            ],
          },
        }),
  };
}
