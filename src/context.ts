import type { Principal } from './security/principal.js';
import type { Activity } from './security/policy.js';

/**
 * The request's context and the routes' access options: neutral types that the HTTP layer, the
 * security model, audit and the services all read, so none of them imports the HTTP layer for them.
 */

/** A write request's identity for X-Request-ID replay (src/http/request-replay.ts computes it). */
export interface RequestFingerprint {
  method: string;
  /** The URL path as received, without the query string. */
  path: string;
  /** sha256 (hex) of the canonical request: see requestDigest in src/http/request-replay.ts. */
  digest: string;
}

/** Travels with every request: into services, log lines and audit entries. */
export interface RequestContext {
  requestId: string;
  correlationId?: string;
  /** The OpenTelemetry trace the request runs in, when tracing is on (src/observability/). */
  traceId?: string;
  principal?: Principal;
  /** Basis of access when it is not plain direct care, e.g. 'emergency-access' (set by the relationship check). */
  purpose?: string;
  /** The legitimate relationship (or emergency access) a clinical request was allowed on. */
  accessBasis?: string;
  /**
   * The write request's method, path and digest for X-Request-ID replay (src/http/request-replay.ts),
   * computed once, on first use. Set on FHIR API requests other than GET/HEAD/OPTIONS; absent when a
   * service runs outside an HTTP request.
   */
  fingerprint?: () => RequestFingerprint;
  /**
   * Patients whose records the request was let read though it does not name them (a referral's or
   * an A&G request's patient, found by its UBRN): the location-release rule checks the answer
   * against them too, since a view about them need not say their NHS Number (an A&G conversation).
   */
  readPatients?: Set<string>;
}

/** Notes that the request read `nhs`'s records (see `readPatients`). */
export function noteReadPatient(ctx: RequestContext, nhs: string): void {
  (ctx.readPatients ??= new Set()).add(nhs);
}

/** Per-route options read by the platform hooks. */
export interface RouteAccess {
  /** The activity the caller's role must allow. Every FHIR route needs one unless it is public. */
  activity?: Activity;
  /** No token needed (health, metadata, key set). */
  public?: boolean;
  /** The route is part of a FHIR API: X-Request-ID rules and FHIR content types apply. */
  fhirApi?: boolean;
  /**
   * Where the patient a request is about is named: a path parameter (':nhsNumber') or a query
   * parameter ('?patient'). Patient tokens may only name themselves, and clinical activities need a
   * legitimate relationship with that patient. `{ body: true }` reads the 'patient' parameter of a
   * Parameters body; a function reads any other body shape (it may throw a FhirError for a malformed one).
   */
  patientFrom?:
    | { param: string }
    | { query: string }
    | {
        body: true | ((body: unknown) => string | undefined);
        /** The patient's record when the route has already read it (saves the relationship check a read). */
        record?: (body: unknown) => Record<string, any> | undefined;
      };
  /**
   * How the location-release rule (src/http/location-release-hook.ts) treats this route's JSON body:
   * 'pds-current' when every Patient in it is a current PDS record (its label decides, no look-up);
   * 'at-source' when the body is a stream released where it was made; 'echo' when the body restates
   * the caller's own message and nothing else (see PatientSource in src/security/location-release.ts);
   * 'signed-audit-export' for the signed audit export, whose entries must stay byte for byte as
   * signed: a named purpose (the privacy officer's accountability export, audit.read), itself audited.
   * By default every patient the body mentions is looked up.
   */
  locationRelease?: 'pds-current' | 'at-source' | 'echo' | 'signed-audit-export';
  /**
   * One published path that takes messages of more than one kind (EPS's POST /$process-message:
   * a prescription-order from a prescriber, a dispense-notification from a pharmacy): the body
   * decides the activity. `activity` is the default; `when(body)` true means `also` instead. The
   * caller must be allowed one of the two on arrival and the chosen one once the body is parsed,
   * before the route reads it.
   */
  bodyActivity?: { also: Activity; when: (body: unknown) => boolean };
  /**
   * A credential this route alone accepts besides a token allowing `activity`: given the
   * Authorization header, true admits the request with no principal (GET /metrics: the scrape
   * token). Checked before the token; every other route is unaffected.
   */
  alsoAdmits?: (authorization: string | undefined) => boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
  }
  interface FastifyContextConfig extends RouteAccess {}
}
