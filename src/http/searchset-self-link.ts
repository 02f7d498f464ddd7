import type { FastifyInstance } from 'fastify';
import type { Bundle } from 'fhir/r4.js';
import { selfLinkUrl, withSelfLink } from '../fhir/bundle.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The query parameters a search route applies, for a route that ignores others rather than
     * refusing them: its searchset's self link names only these. Routes that refuse unknown
     * parameters (a 400) need not say.
     */
    searchParams?: readonly string[];
  }
}

/** The request's path and query, keeping only the parameters the route applies (when it says which). */
export function appliedSearch(requestUrl: string, applied: readonly string[] | undefined): string {
  if (!applied) return requestUrl;
  const q = requestUrl.indexOf('?');
  if (q < 0) return requestUrl;
  const kept = requestUrl
    .slice(q + 1)
    .split('&')
    .filter((pair) => {
      const name = pair.split('=')[0];
      try {
        return applied.includes(decodeURIComponent(name.replace(/\+/g, ' ')));
      } catch {
        return false;
      }
    });
  return kept.length ? `${requestUrl.slice(0, q)}?${kept.join('&')}` : requestUrl.slice(0, q);
}

/**
 * Every searchset the platform answers carries a `self` link: the search performed, with the
 * parameters it used (FHIR R4 search.html#conformance, bundle.html#searchset). Applied once here,
 * to every route of every API, rather than remembered by each search handler; a handler that
 * builds its own self link (the audit search, with its paging cursor) keeps it.
 */
export function registerSearchsetSelfLinks(app: FastifyInstance, publicUrl: string): void {
  // callback style: it runs for every object a route answers, and an async hook costs a promise each time
  app.addHook('preSerialization', (request, _reply, payload, done) => {
    const bundle = payload as Partial<Bundle> | null;
    if (
      !bundle ||
      typeof bundle !== 'object' ||
      bundle.resourceType !== 'Bundle' ||
      bundle.type !== 'searchset'
    )
      return done(null, payload);
    done(
      null,
      withSelfLink(
        bundle as Bundle,
        selfLinkUrl(
          publicUrl,
          appliedSearch(request.url, request.routeOptions.config.searchParams),
        ),
      ),
    );
  });
}
