import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4.js';

export interface ServiceCapabilities {
  /** The base URL of the service's FHIR API. */
  base: string;
  software: string;
  description: string;
  /** When this statement last changed (YYYY-MM-DD). */
  date: string;
  security: string;
  resources: CapabilityStatementRestResource[];
  patchFormat?: string[];
}

/** The CapabilityStatement envelope every OpenSpine FHIR API serves at `GET /metadata`. */
export function capabilityStatement(c: ServiceCapabilities): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: c.date,
    kind: 'instance',
    software: { name: c.software, version: '0.1.0' },
    implementation: { description: c.description, url: c.base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    ...(c.patchFormat ? { patchFormat: c.patchFormat } : {}),
    rest: [{ mode: 'server', security: { cors: false, description: c.security }, resource: c.resources }],
  };
}
