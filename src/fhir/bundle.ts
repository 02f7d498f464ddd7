import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4.js';

export function searchsetBundle(entries: { resource: FhirResource; fullUrl: string; score?: number }[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString(),
    total: entries.length,
    entry: entries.map((e): BundleEntry => ({
      fullUrl: e.fullUrl,
      ...(e.score === undefined ? {} : { search: { score: e.score } }),
      resource: e.resource,
    })),
  };
}

export function historyBundle(entries: { resource: FhirResource; fullUrl: string }[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: new Date().toISOString(),
    total: entries.length,
    entry: entries.map((e) => ({ fullUrl: e.fullUrl, resource: e.resource })),
  };
}
