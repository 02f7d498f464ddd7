/**
 * The services, endpoints and role profiles of the demo directory, derived from its organisations
 * (no randomness: the same organisations give the same documents and the same ids):
 * - every GP practice: a "GP services" HealthcareService and a GP Connect Endpoint;
 * - every pharmacy: an "EPS dispensing" HealthcareService with its EPS (MHS) Endpoint;
 * - every trust: an emergency department and an outpatients HealthcareService, and its e-Referral
 *   clinics (seed-ers-clinics.ts);
 * - the demo clinician (demo-clinician, see src/services/identity/demo-identity.ts): a
 *   PractitionerRole for each role profile it signs in with.
 * Endpoint addresses are under the reserved .invalid domain: they name no real system.
 */
import { createHash } from 'node:crypto';
import type { Endpoint, HealthcareService, PractitionerRole } from 'fhir/r4.js';
import type { ResourceWrite } from '../../store/resource-store.js';
import { buildEndpoint, ENDPOINT, indexEndpoint } from './endpoint-model.js';
import {
  buildHealthcareService,
  HEALTHCARE_SERVICE,
  indexHealthcareService,
} from './healthcare-service-model.js';
import type { OrganisationFacts } from './organization-model.js';
import { demoErsClinics } from './seed-ers-clinics.js';
import {
  buildPractitionerRole,
  indexPractitionerRole,
  PRACTITIONER_ROLE,
} from './practitioner-role-model.js';

export const GP_CONNECT_INTERACTION = 'urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1';
export const EPS_INTERACTION = 'urn:nhs:names:services:mm:PORX_IN020101SM31';

/** The demo clinician's role profiles (as ensureDemoIdentity creates them) and its practice. */
export const DEMO_CLINICIAN = {
  user: 'demo-clinician',
  org: 'A81001',
  roles: ['R8000', 'R8008'],
} as const;

/** A name-based UUID (RFC 4122 version 5 layout over SHA-1), so re-seeding finds what it wrote before. */
export function stableId(name: string): string {
  const h = createHash('sha1').update(`openspine-demo-directory:${name}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

type Doc = Endpoint | HealthcareService | PractitionerRole;
const write = (type: string, doc: Doc, index: ResourceWrite['index']): ResourceWrite => ({
  type,
  id: doc.id!,
  expectedVersion: 0,
  resource: doc,
  index,
});

function endpoint(org: string, interaction: string, address: string, name: string): ResourceWrite {
  const doc = buildEndpoint({
    id: stableId(`endpoint:${org}:${interaction}`),
    org,
    address,
    name,
    interactions: [interaction],
    status: 'active',
  });
  return write(ENDPOINT, doc, indexEndpoint(doc));
}

function service(
  o: OrganisationFacts,
  kind: string,
  name: string,
  endpoints: string[],
): ResourceWrite {
  const doc = buildHealthcareService({
    id: stableId(`service:${o.code}:${kind}`),
    org: o.code,
    name,
    types: [kind],
    active: o.active,
    endpoints,
    address: o.postcode
      ? { lines: o.lines.filter(Boolean), town: o.town, postcode: o.postcode }
      : undefined,
    telecom: o.phone ? [{ system: 'phone', value: o.phone, use: 'work' }] : undefined,
  });
  return write(HEALTHCARE_SERVICE, doc, indexHealthcareService(doc));
}

/** The writes (endpoints first, so services never point at an endpoint not yet written) for these organisations. */
export function demoServiceWrites(orgs: OrganisationFacts[]): ResourceWrite[] {
  const endpoints: ResourceWrite[] = [];
  const services: ResourceWrite[] = [];
  for (const o of orgs) {
    const host = `${o.code.toLowerCase()}.demo.openspine.invalid`;
    if (o.role === 'RO76') {
      const ep = endpoint(
        o.code,
        GP_CONNECT_INTERACTION,
        `https://${host}/gpconnect/fhir`,
        `${o.name} GP Connect`,
      );
      endpoints.push(ep);
      services.push(service(o, 'gp-services', `${o.name} GP services`, [ep.id]));
    } else if (o.role === 'RO182') {
      const ep = endpoint(
        o.code,
        EPS_INTERACTION,
        `https://${host}/mhs`,
        `${o.name} EPS dispensing system`,
      );
      endpoints.push(ep);
      services.push(service(o, 'eps-dispensing', `${o.name} EPS dispensing`, [ep.id]));
    } else if (o.role === 'RO197') {
      services.push(
        service(
          o,
          'emergency-department',
          `${o.name.replace(/ NHS( Foundation)? Trust$/, '')} Emergency Department`,
          [],
        ),
      );
      services.push(
        service(
          o,
          'outpatients',
          `${o.name.replace(/ NHS( Foundation)? Trust$/, '')} Outpatients`,
          [],
        ),
      );
      const clinicId = (kind: string) => stableId(`service:${o.code}:${kind}`);
      for (const facts of demoErsClinics(o, orgs, clinicId)) {
        const doc = buildHealthcareService(facts);
        services.push(write(HEALTHCARE_SERVICE, doc, indexHealthcareService(doc)));
      }
    }
  }
  const roles = orgs.some((o) => o.code === DEMO_CLINICIAN.org)
    ? DEMO_CLINICIAN.roles.map((role) => {
        const doc = buildPractitionerRole({
          id: stableId(`role:${DEMO_CLINICIAN.user}:${DEMO_CLINICIAN.org}:${role}`),
          user: DEMO_CLINICIAN.user,
          org: DEMO_CLINICIAN.org,
          role,
          active: true,
          period: { start: '2020-01-01' },
          endpoints: [],
        });
        return write(PRACTITIONER_ROLE, doc, indexPractitionerRole(doc));
      })
    : [];
  return [...endpoints, ...services, ...roles];
}
