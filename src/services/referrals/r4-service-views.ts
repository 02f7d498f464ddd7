/**
 * A directory HealthcareService with an e-RS profile, as e-RS answers it on its R4 API
 * (eRS-HealthcareService: NHSDigital/e-referrals-service-api
 * specification/components/r4/schemas/eRS-HealthcareService.yaml and
 * sandbox/src/mocks/r4/getService/responses/*.json): id, meta.versionId, language, name, active,
 * location by ODS site code, the request flow and bookable type as characteristics, and the
 * published extensions the directory holds data for (ServiceInstructions from the service's
 * comment, HealthcareService-Contact from its telecom). Only the published fields are answered:
 * specialty, clinic types and priorities stay in the directory (a010 searches by them).
 */
import type { ContactPoint, HealthcareService } from 'fhir/r4.js';
import type { StoredResource } from '../../store/resource-store.js';
import type { ErsProfile } from '../directory/index.js';

const STRUCTURE = 'https://fhir.nhs.uk/StructureDefinition/';
export const SERVICE_INSTRUCTIONS_URL = `${STRUCTURE}Extension-eRS-ServiceInstructions`;
export const SERVICE_CONTACT_URL = `${STRUCTURE}Extension-eRS-HealthcareService-Contact`;
export const ODS_SITE_SYSTEM = 'https://fhir.nhs.uk/Id/ods-site-code';
const REQUEST_FLOW_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/eRS-RequestFlowType';
const BOOKABLE_TYPE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/eRS-BookableType';
const PURPOSE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/eRS-Purpose';

/** The published eRS-RequestFlowType codes and displays (the directory's TRIAGE is e-RS's REVIEW). */
const REQUEST_FLOWS = {
  BOOKABLE: 'A service which supports a patient appointment',
  REVIEW:
    'A service that reviews referrals, without the support or need for any appointment with the patient to be made',
  ADVICE_AND_GUIDANCE:
    'A service which can discuss the patient and receive guidance rather than a patient attending an appointment',
} as const;
const BOOKABLE_TYPES = {
  DIRECTLY_BOOKABLE: 'Directly Bookable',
  INDIRECTLY_BOOKABLE: 'Indirectly Bookable',
} as const;

export interface ErsHealthcareService {
  id: string;
  meta: { versionId: string };
  language: 'en';
  resourceType: 'HealthcareService';
  active?: boolean;
  extension?: Record<string, unknown>[];
  location: { identifier: { system: string; value: string } }[];
  name: string;
  characteristic?: { coding: { system: string; code: string; display: string }[] }[];
}

const flow = (code: keyof typeof REQUEST_FLOWS) => ({
  coding: [{ system: REQUEST_FLOW_SYSTEM, code, display: REQUEST_FLOWS[code] }],
});

/**
 * The published contact extension for the directory's phone and email contacts. The directory is a
 * professional directory (SDS), so its contacts are the service's contacts for healthcare
 * professionals (eRS-Purpose HEALTHCARE_PROFESSIONALS, as in the published full example).
 */
function contactExtension(telecom: ContactPoint[] | undefined) {
  const points = (telecom ?? []).filter(
    (t): t is ContactPoint & { system: 'phone' | 'email'; value: string } =>
      (t.system === 'phone' || t.system === 'email') && typeof t.value === 'string',
  );
  if (!points.length) return [];
  return [
    {
      url: SERVICE_CONTACT_URL,
      extension: [
        {
          url: 'purpose',
          valueCodeableConcept: {
            coding: [
              {
                system: PURPOSE_SYSTEM,
                code: 'HEALTHCARE_PROFESSIONALS',
                display: 'Healthcare Professionals',
              },
            ],
          },
        },
        ...points.map((t) => ({
          url: 'telecom',
          valueContactPoint: { system: t.system, value: t.value },
        })),
      ],
    },
  ];
}

/**
 * The e-RS answer for a stored service and its profile. The directory holds no ODS site codes, so
 * the location is the provider's ODS code (a service is at its provider unless the directory says
 * otherwise).
 */
export function ersServiceView(
  stored: StoredResource<HealthcareService>,
  profile: ErsProfile,
): ErsHealthcareService {
  const s = stored.resource;
  const provider = s.providedBy?.identifier?.value;
  const extension = [
    ...(s.comment ? [{ url: SERVICE_INSTRUCTIONS_URL, valueString: s.comment }] : []),
    ...contactExtension(s.telecom),
  ];
  const characteristic = [
    flow(profile.flow === 'TRIAGE' ? 'REVIEW' : 'BOOKABLE'),
    ...(profile.bookable
      ? [
          {
            coding: [
              {
                system: BOOKABLE_TYPE_SYSTEM,
                code: profile.bookable,
                display: BOOKABLE_TYPES[profile.bookable],
              },
            ],
          },
        ]
      : []),
    ...(profile.adviceAndGuidance ? [flow('ADVICE_AND_GUIDANCE')] : []),
  ];
  return {
    id: stored.id,
    meta: { versionId: String(stored.version) },
    language: 'en',
    resourceType: 'HealthcareService',
    active: s.active !== false,
    ...(extension.length ? { extension } : {}),
    location: provider ? [{ identifier: { system: ODS_SITE_SYSTEM, value: provider } }] : [],
    name: s.name ?? stored.id,
    characteristic,
  };
}

/** a035's answer: a searchset Bundle of the services found (published searchForService/200Response). */
export function serviceSearchset(
  services: ErsHealthcareService[],
  selfUrl: string,
  serviceUrl: (id: string) => string,
  id: string,
) {
  const now = new Date().toISOString();
  return {
    id,
    meta: { lastUpdated: now },
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: now,
    total: services.length,
    link: [{ relation: 'self', url: selfUrl }],
    ...(services.length
      ? {
          entry: services.map((resource) => ({
            fullUrl: serviceUrl(resource.id),
            resource,
            search: { mode: 'match' },
          })),
        }
      : {}),
  };
}
