/**
 * Directory HealthcareServices: a service an organisation provides (GP services, EPS dispensing,
 * an emergency department...), where it is delivered and the endpoints that reach it.
 *
 * Representation (FHIR R4 HealthcareService):
 * - providedBy: the organisation, by literal reference and ODS identifier;
 * - type: one or more service types from OpenSpine's service type code system (below; OpenSpine's
 *   own until mapped to a national one), category: the categories those types belong to (derived,
 *   never stored independently, so the two cannot disagree);
 * - location: a contained Location '#location' holding the address and postcode; a service written
 *   without one is located at its provider's address;
 * - endpoint: literal references to directory Endpoints.
 */
import type { HealthcareService, Location, Organization } from 'fhir/r4.js';
import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import { isObject } from '../../fhir/json-shape.js';
import { ersProfileFields, ersProfileOf, type ErsProfile } from './ers-profile.js';
import { parseErsProfile } from './ers-profile-rules.js';
import { nameWords, normalisePostcode, orgReference } from './organization-model.js';
import {
  badCode,
  codesOf,
  flag,
  invalid,
  list,
  literalReferences,
  missing,
  odsReference,
  resourceBody,
  telecom,
  text,
} from './resource-rules.js';

export const HEALTHCARE_SERVICE = resourceType<HealthcareService>('HealthcareService');
export const SERVICE_TYPE_SYSTEM = 'https://openspine.dev/fhir/CodeSystem/service-type';
export const SERVICE_CATEGORY_SYSTEM = 'https://openspine.dev/fhir/CodeSystem/service-category';

export const SERVICE_CATEGORIES = {
  'primary-care': 'Primary care',
  pharmacy: 'Pharmacy',
  'urgent-emergency-care': 'Urgent and emergency care',
  'secondary-care': 'Secondary care',
} as const;
type Category = keyof typeof SERVICE_CATEGORIES;

export const SERVICE_TYPES: Record<string, { display: string; category: Category }> = {
  'gp-services': { display: 'GP services', category: 'primary-care' },
  'gp-extended-access': { display: 'GP extended access', category: 'primary-care' },
  'eps-dispensing': { display: 'EPS dispensing', category: 'pharmacy' },
  'pharmacy-consultation': { display: 'Community pharmacy consultation', category: 'pharmacy' },
  'emergency-department': { display: 'Emergency department', category: 'urgent-emergency-care' },
  'urgent-treatment-centre': {
    display: 'Urgent treatment centre',
    category: 'urgent-emergency-care',
  },
  outpatients: { display: 'Outpatient clinics', category: 'secondary-care' },
};

const UK_POSTCODE = /^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$/;
const LOCATION_ID = 'location';

export interface ServiceFacts {
  id: string;
  org: string;
  name: string;
  types: string[];
  active: boolean;
  /** The contained Location's address; absent means "at the provider's address". */
  address?: { lines: string[]; town?: string; postcode: string };
  endpoints: string[];
  telecom?: HealthcareService['telecom'];
  comment?: string;
  /** Offered on the e-Referral Service (specialty, booking or triage...); see ers-profile.ts. */
  ers?: ErsProfile;
}

/** The HealthcareService document for a set of facts (pure: same facts, same JSON). */
export function buildHealthcareService(f: ServiceFacts): HealthcareService {
  const categories = [...new Set(f.types.map((t) => SERVICE_TYPES[t].category))];
  const service: HealthcareService = {
    resourceType: 'HealthcareService',
    id: f.id,
    active: f.active,
    providedBy: orgReference(f.org),
    category: categories.map((c) => ({
      coding: [{ system: SERVICE_CATEGORY_SYSTEM, code: c, display: SERVICE_CATEGORIES[c] }],
    })),
    type: f.types.map((t) => ({
      coding: [{ system: SERVICE_TYPE_SYSTEM, code: t, display: SERVICE_TYPES[t].display }],
    })),
    name: f.name,
  };
  if (f.address) {
    const location: Location = {
      resourceType: 'Location',
      id: LOCATION_ID,
      status: 'active',
      address: {
        use: 'work',
        ...(f.address.lines.length ? { line: f.address.lines } : {}),
        ...(f.address.town ? { city: f.address.town } : {}),
        postalCode: f.address.postcode,
      },
    };
    service.contained = [location];
    service.location = [{ reference: `#${LOCATION_ID}` }];
  }
  if (f.ers) Object.assign(service, ersProfileFields(f.ers));
  if (f.comment) service.comment = f.comment;
  if (f.telecom?.length) service.telecom = f.telecom;
  if (f.endpoints.length)
    service.endpoint = f.endpoints.map((id) => ({ reference: `Endpoint/${id}` }));
  return service;
}

/** The provider's address as a service address (for a service written without a location). */
export function addressOf(org: Organization): ServiceFacts['address'] {
  const a = org.address?.[0];
  return a?.postalCode ? { lines: a.line ?? [], town: a.city, postcode: a.postalCode } : undefined;
}

function postcodeOf(value: string, field: string): string {
  const pc = value.trim().toUpperCase().replace(/\s+/g, ' ');
  if (!UK_POSTCODE.test(pc)) throw invalid(field, `'${value.slice(0, 20)}' is not a UK postcode`);
  const compact = normalisePostcode(pc);
  return `${compact.slice(0, -3)} ${compact.slice(-3)}`;
}

/** The address of the one contained Location the body's `location` points at. */
function serviceAddress(body: Record<string, unknown>): ServiceFacts['address'] {
  const contained = list(body, 'contained', { max: 1 });
  const locations = list(body, 'location', { max: 1 });
  if (!contained.length && !locations.length) return undefined;
  const loc = contained[0];
  if (!isObject(loc) || loc.resourceType !== 'Location' || typeof loc.id !== 'string')
    throw invalid('contained[0]', 'expected one Location with an id');
  const ref = isObject(locations[0]) ? locations[0].reference : undefined;
  if (ref !== `#${loc.id}`)
    throw invalid('location[0].reference', `expected '#${loc.id}' (the contained Location)`);
  const address = loc.address;
  if (!isObject(address)) throw missing('contained[0].address');
  if (typeof address.postalCode !== 'string') throw missing('contained[0].address.postalCode');
  const lines = address.line === undefined ? [] : address.line;
  if (
    !Array.isArray(lines) ||
    lines.length > 5 ||
    !lines.every((l) => typeof l === 'string' && l.length <= 100)
  )
    throw invalid('contained[0].address.line', 'expected up to 5 strings');
  if (address.city !== undefined && (typeof address.city !== 'string' || address.city.length > 100))
    throw invalid('contained[0].address.city', 'expected a string');
  return {
    lines: lines as string[],
    town: address.city as string | undefined,
    postcode: postcodeOf(address.postalCode, 'contained[0].address.postalCode'),
  };
}

const ALLOWED = [
  'resourceType',
  'id',
  'meta',
  'active',
  'providedBy',
  'category',
  'type',
  'name',
  'comment',
  'telecom',
  'location',
  'contained',
  'endpoint',
  // the e-RS profile (ers-profile.ts), parsed by ers-profile-rules.ts
  'specialty',
  'characteristic',
  'extension',
];

/** The facts of a HealthcareService body (400 for anything malformed); `id` is the one to store under. */
export function validateHealthcareService(body: unknown, id: string): ServiceFacts {
  const b = resourceBody(body, HEALTHCARE_SERVICE, ALLOWED);
  const org = odsReference(b.providedBy, 'providedBy');
  const name = text(b, 'name', { required: true })!;
  const types = [
    ...new Set(codesOf(list(b, 'type', { required: true, max: 10 }), 'type', SERVICE_TYPE_SYSTEM)),
  ];
  for (const t of types)
    if (!Object.hasOwn(SERVICE_TYPES, t))
      throw badCode(
        'type',
        `unknown service type '${t.slice(0, 40)}' (known: ${Object.keys(SERVICE_TYPES).join(', ')})`,
      );
  const derived = new Set(types.map((t) => SERVICE_TYPES[t].category));
  for (const c of codesOf(list(b, 'category', { max: 10 }), 'category', SERVICE_CATEGORY_SYSTEM)) {
    if (!derived.has(c as Category))
      throw badCode(
        'category',
        `'${c.slice(0, 40)}' is not the category of the service's types (${[...derived].join(', ')})`,
      );
  }
  return {
    id,
    org,
    name,
    types,
    active: flag(b, 'active', true),
    address: serviceAddress(b),
    endpoints: [...new Set(literalReferences(list(b, 'endpoint'), 'endpoint', 'Endpoint'))],
    telecom: telecom(list(b, 'telecom', { max: 10 }), 'telecom'),
    comment: text(b, 'comment', { max: 1000 }),
    ers: parseErsProfile(b),
  };
}

/**
 * Index rows: organization, name words, postcode, service-type, service-category, active, endpoint,
 * and for an e-RS service ers-specialty, ers-clinic-type and ers-flow.
 */
export function indexHealthcareService(s: HealthcareService): IndexEntry[] {
  const rows = new Map<string, IndexEntry>();
  const add = (param: string, value: string | undefined) => {
    if (value) rows.set(param + '\u0000' + value, { param, value });
  };
  add('organization', s.providedBy?.identifier?.value);
  for (const word of nameWords(s.name ?? '')) add('name', word);
  for (const c of s.contained ?? [])
    if (c.resourceType === 'Location' && c.address?.postalCode)
      add('postcode', normalisePostcode(c.address.postalCode));
  for (const t of s.type ?? []) for (const c of t.coding ?? []) add('service-type', c.code);
  for (const t of s.category ?? []) for (const c of t.coding ?? []) add('service-category', c.code);
  add('active', s.active === false ? 'false' : 'true');
  for (const e of s.endpoint ?? []) add('endpoint', e.reference?.replace(/^Endpoint\//, ''));
  const ers = ersProfileOf(s);
  if (ers) {
    add('ers-specialty', ers.specialty);
    for (const c of ers.clinicTypes) add('ers-clinic-type', c);
    add('ers-flow', ers.flow);
  }
  return [...rows.values()];
}
