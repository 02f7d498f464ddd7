import type { Principal } from '../security/principal.js';
import type { Activity } from '../security/policy.js';

/** Travels with every request: into services, log lines and audit entries. */
export interface RequestContext {
  requestId: string;
  correlationId?: string;
  principal?: Principal;
}

/** Per-route options read by the platform hooks. */
export interface RouteAccess {
  /** The activity the caller's role must allow. Every FHIR route needs one unless it is public. */
  activity?: Activity;
  /** No token needed (health, metadata, key set). */
  public?: boolean;
  /** The route is part of a FHIR API: X-Request-ID rules and FHIR content types apply. */
  fhirApi?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
  }
  interface FastifyContextConfig extends RouteAccess {}
}
