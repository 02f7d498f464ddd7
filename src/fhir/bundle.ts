import type { Bundle, BundleEntry, BundleLink, FhirResource } from 'fhir/r4.js';

/** A searchset of these matches; its `self` link is added for every search by src/http/searchset-self-link.ts. */
export function searchsetBundle(
  entries: { resource: FhirResource; fullUrl: string; score?: number }[],
): Bundle {
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

/**
 * The `self` link of a searchset: the search as the server received it, absolute against the
 * public URL. FHIR R4 (search.html#conformance) has the server return the parameters it used,
 * encoded for a RESTful search in the Bundle's self link. `requestUrl` is the request's path and
 * query (Fastify's `request.url`); every search route refuses parameters it does not apply.
 */
export function selfLinkUrl(publicUrl: string, requestUrl: string): string {
  return publicUrl.replace(/\/+$/, '') + requestUrl;
}

/** Adds `link[relation=self]` to a searchset Bundle that has none; other Bundles are returned as they are. */
export function withSelfLink(bundle: Bundle, selfUrl: string): Bundle {
  if (bundle.type !== 'searchset' || bundle.link?.some((l) => l.relation === 'self')) return bundle;
  const link: BundleLink[] = [{ relation: 'self', url: selfUrl }, ...(bundle.link ?? [])];
  // link comes before entry, as in the FHIR JSON property order of Bundle
  const { resourceType, id, meta, type, timestamp, total, link: _others, ...rest } = bundle;
  return {
    resourceType,
    ...(id === undefined ? {} : { id }),
    ...(meta === undefined ? {} : { meta }),
    type,
    ...(timestamp === undefined ? {} : { timestamp }),
    ...(total === undefined ? {} : { total }),
    link,
    ...rest,
  } as Bundle;
}

/** One version of a resource in a history Bundle. */
export interface HistoryVersion {
  resource: FhirResource;
  /**
   * The resource's version-free absolute URL, `[base]/[type]/[id]` (bdl-8: a fullUrl cannot be a
   * version-specific reference; a `/_history/n` suffix, if given, is removed).
   */
  fullUrl: string;
  version: number;
  /** When the version was stored (entry.response.lastModified). */
  lastUpdated?: string;
  /** The interaction that made the version; by default POST for the first, PUT for later ones. */
  method?: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
}

/**
 * A history Bundle (FHIR R4 http.html#history): every entry has a version-free fullUrl (bdl-8), the
 * request that made the version (bdl-3) and the response to it (bdl-4), with the version's ETag.
 */
export function historyBundle(entries: HistoryVersion[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: new Date().toISOString(),
    total: entries.length,
    entry: entries.map((e): BundleEntry => {
      const fullUrl = e.fullUrl.replace(/\/_history\/[^/]*$/, '');
      const method = e.method ?? (e.version === 1 ? 'POST' : 'PUT');
      const typeAndId = `${e.resource.resourceType}/${e.resource.id}`;
      return {
        fullUrl,
        resource: e.resource,
        request: { method, url: method === 'POST' ? e.resource.resourceType : typeAndId },
        response: {
          status:
            method === 'POST' ? '201 Created' : method === 'DELETE' ? '204 No Content' : '200 OK',
          location: `${typeAndId}/_history/${e.version}`,
          etag: `W/"${e.version}"`,
          ...(e.lastUpdated ? { lastModified: e.lastUpdated } : {}),
        },
      };
    }),
  };
}
