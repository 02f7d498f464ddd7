import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RouteAccess } from '../context.js';
import { FhirError } from '../fhir/errors.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { nhsNumberFromReference, parameterValue, parametersOf } from '../fhir/parameters.js';
import { ACTIVITIES, isActivity, roleAllows, type Activity } from './policy.js';
import type { Principal } from './principal.js';
import { actingPrincipal, SESSION_URID_HEADER } from './role-selection.js';
import type { LegitimateRelationships } from './relationships.js';
import type { RevocationList } from './accounts/revocations.js';
import type { TokenVerifier } from './token-verifier.js';

/** One row of the platform's route table: what each route needs (docs and the route x role test read it). */
export interface RouteAccessEntry {
  method: string;
  url: string;
  activity: Activity | null;
  public: boolean;
  /** The route names the patient it is about, so a patient's own token can be checked against it. */
  patientScoped: boolean;
  /** The query parameter naming the patient, when that is how the route names it. */
  patientQuery: string | null;
  /** How the location-release rule treats the route's body, when it declares anything (src/context.ts). */
  locationRelease: RouteAccess['locationRelease'] | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: RouteAccessEntry[];
  }
}

export interface AccessControlDeps {
  verifier: TokenVerifier;
  revocations?: RevocationList;
  relationships?: LegitimateRelationships;
  /**
   * Benchmarks only (bench/noauth-server.mjs): every request runs as this caller with no token,
   * revocation, role or relationship check, so `npm run bench` can measure what those checks cost.
   * Not reachable from the configuration or the command line.
   */
  benchmarkPrincipal?: Principal;
}

/** Whether this caller's token lets them perform the activity at all (before any patient-level rule). */
export function principalMayPerform(principal: Principal, activity: Activity): boolean {
  // a token claiming a scope no application may hold is not trusted with it
  if (principal.kind === 'application')
    return (
      ACTIVITIES[activity].applicationGrantable && (principal.scopes?.includes(activity) ?? false)
    );
  return roleAllows(principal.role, activity);
}

/** The patient a request is about, as the route declares it, or undefined when it names none. */
export function targetPatient(request: FastifyRequest): string | undefined {
  const from = request.routeOptions.config.patientFrom;
  if (!from) return undefined;
  let raw: unknown;
  if ('param' in from) raw = (request.params as Record<string, unknown> | undefined)?.[from.param];
  else if ('query' in from)
    raw = (request.query as Record<string, unknown> | undefined)?.[from.query];
  // a route whose body is not a Parameters with a 'patient' parameter names its own extractor
  else if (typeof from.body === 'function') raw = from.body(request.body);
  else raw = parameterValue(parametersOf(request.body), 'patient');
  if (Array.isArray(raw))
    throw new FhirError(400, 'INVALID_SEARCH_DATA', 'Only one patient may be named');
  return typeof raw === 'string' && raw !== '' ? nhsNumberFromReference(raw) : undefined;
}

/**
 * Deny by default. Every route must say either which activity it needs or that it is public; a
 * route that says neither stops the server from starting, and so does a clinical route that does
 * not say where its patient is named. A call to a protected route needs a verified, unrevoked
 * token whose role (or, for applications, registered scopes) allows the activity; patients may
 * only name themselves; clinical activities need a legitimate relationship or emergency access.
 */
export function registerAccessControl(app: FastifyInstance, deps: AccessControlDeps): void {
  const table: RouteAccessEntry[] = [];
  app.decorate('routeTable', table);
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as {
      activity?: string;
      public?: boolean;
      patientFrom?: RouteAccess['patientFrom'];
      locationRelease?: RouteAccess['locationRelease'];
    };
    const from = config.patientFrom;
    if (route.url === '*' || route.url === '/*') return; // fastify's own not-found route
    for (const method of [route.method].flat())
      table.push({
        method,
        url: route.url,
        activity: (config.activity as Activity | undefined) ?? null,
        public: Boolean(config.public),
        patientScoped: Boolean(config.patientFrom),
        patientQuery: from && 'query' in from ? from.query : null,
        locationRelease: config.locationRelease ?? null,
      });
    if (config.public) return;
    if (!config.activity)
      throw new Error(
        `route ${route.method} ${route.url} declares no activity and is not public: refusing to start`,
      );
    if (!isActivity(config.activity))
      throw new Error(
        `route ${route.method} ${route.url} names unknown activity ${config.activity}`,
      );
    const also = (route.config as { bodyActivity?: RouteAccess['bodyActivity'] } | undefined)
      ?.bodyActivity?.also;
    if (also !== undefined && !isActivity(also))
      throw new Error(`route ${route.method} ${route.url} names unknown activity ${also}`);
    if (
      (ACTIVITIES[config.activity].clinical || (also && ACTIVITIES[also].clinical)) &&
      !config.patientFrom
    ) {
      throw new Error(
        `route ${route.method} ${route.url} performs clinical activity ${config.activity} but does not say which patient it is about`,
      );
    }
  });

  // Callback-style hooks: a caller whose token and revocation state are already cached is checked
  // without a promise or a store call, which keeps security cheap on the hot read path.
  app.addHook('onRequest', (request, _reply, done) => {
    const {
      activity: routeActivity,
      public: isPublic,
      patientFrom,
      bodyActivity,
      alsoAdmits,
    } = request.routeOptions.config;
    if (isPublic || !routeActivity) return done();
    if (alsoAdmits?.(request.headers.authorization)) return done();
    if (deps.benchmarkPrincipal) {
      request.ctx.principal = deps.benchmarkPrincipal;
      return done();
    }
    const cached = deps.verifier.cached(request.headers.authorization);
    if (cached && (!deps.revocations || deps.revocations.recentlyCleared(cached))) {
      let activity = routeActivity;
      try {
        // a route whose body chooses the activity admits, on arrival, a caller allowed either one
        if (bodyActivity) activity = arrivalActivity(request, cached);
        authorise(request, cached, activity);
      } catch (err) {
        return done(err as Error);
      }
      if (
        patientFrom &&
        !('body' in patientFrom) &&
        !bodyActivity &&
        needsPatientCheck(cached, activity)
      ) {
        checkPatient(request, deps, activity).then(() => done(), done);
        return;
      }
      return done();
    }
    authenticate(request, deps).then(() => done(), done);
  });

  // the activity a body chooses is checked once the body is parsed, before the route's own hooks read it
  app.addHook('preValidation', (request, _reply, done) => {
    const { bodyActivity } = request.routeOptions.config;
    if (!bodyActivity || deps.benchmarkPrincipal || !request.ctx.principal) return done();
    try {
      authorise(request, request.ctx.principal, chosenActivity(request));
    } catch (err) {
      return done(err as Error);
    }
    done();
  });

  // patients named in a body are known only once it is parsed
  app.addHook('preHandler', (request, _reply, done) => {
    const { activity, patientFrom, bodyActivity } = request.routeOptions.config;
    if (!activity || !patientFrom || deps.benchmarkPrincipal) return done();
    if (!('body' in patientFrom) && !bodyActivity) return done();
    checkPatient(request, deps, bodyActivity ? chosenActivity(request) : activity).then(
      () => done(),
      done,
    );
  });
}

/** The full check, for a token or revocation state not cached yet. */
async function authenticate(request: FastifyRequest, deps: AccessControlDeps): Promise<void> {
  const principal = await deps.verifier.verify(request.headers.authorization);
  if (deps.revocations && (await deps.revocations.isPrincipalRevoked(principal))) {
    throw new FhirError(
      401,
      'ACCESS_DENIED',
      'Access token belongs to a revoked user, session or application; sign in again',
    );
  }
  const { activity, patientFrom, bodyActivity } = request.routeOptions.config;
  const needed = bodyActivity ? arrivalActivity(request, principal) : activity!;
  authorise(request, principal, needed);
  if (
    patientFrom &&
    !('body' in patientFrom) &&
    !bodyActivity &&
    needsPatientCheck(principal, needed)
  )
    await checkPatient(request, deps, needed);
}

/**
 * On arrival at a route whose body chooses the activity: the route's default activity, or the
 * alternative when the caller may perform that one and not the default (the body is checked later).
 */
function arrivalActivity(request: FastifyRequest, token: Principal): Activity {
  const { activity, bodyActivity } = request.routeOptions.config;
  const acting = actingPrincipal(token, request.headers[SESSION_URID_HEADER]);
  return !principalMayPerform(acting, activity!) && principalMayPerform(acting, bodyActivity!.also)
    ? bodyActivity!.also
    : activity!;
}

/** The activity the parsed body of a bodyActivity route calls for. */
function chosenActivity(request: FastifyRequest): Activity {
  const { activity, bodyActivity } = request.routeOptions.config;
  return bodyActivity!.when(request.body) ? bodyActivity!.also : activity!;
}

/**
 * The application may use the activity, the request acts in one of the user's role profiles, that
 * role (or the application's scope) allows the activity, and a patient reaches only routes about one patient.
 */
function authorise(request: FastifyRequest, token: Principal, activity: Activity): void {
  // the application a user's or patient's token was issued to must be registered for the activity
  if (token.appActivities && !token.appActivities.includes(activity)) {
    throw new FhirError(
      401,
      'ACCESS_DENIED',
      `The application this access token was issued to is not registered for '${activity}'`,
    );
  }
  const principal = actingPrincipal(token, request.headers[SESSION_URID_HEADER]);
  request.ctx.principal = principal;
  if (!principalMayPerform(principal, activity)) {
    const who =
      principal.kind === 'application'
        ? `Application ${principal.userId}`
        : `Role ${principal.role}`;
    throw new FhirError(403, 'ACCESS_DENIED', `${who} is not permitted to perform '${activity}'`);
  }
  if (principal.kind === 'patient' && !request.routeOptions.config.patientFrom)
    throw new FhirError(403, 'ACCESS_DENIED', 'Patients may only access their own record');
}

function needsPatientCheck(principal: Principal, activity: Activity): boolean {
  return principal.kind === 'patient' || ACTIVITIES[activity].clinical;
}

async function checkPatient(
  request: FastifyRequest,
  deps: AccessControlDeps,
  activity: Activity,
): Promise<void> {
  const principal = request.ctx.principal!;
  const patient = targetPatient(request);
  if (principal.kind === 'patient') {
    if (patient !== principal.nhsNumber)
      throw new FhirError(403, 'ACCESS_DENIED', 'Patients may only access their own record');
    return;
  }
  if (!ACTIVITIES[activity].clinical) return;
  if (!patient || !isValidNhsNumber(patient))
    throw new FhirError(
      400,
      'INVALID_RESOURCE_ID',
      'A valid NHS Number for the patient is required',
    );
  const from = request.routeOptions.config.patientFrom;
  const known = from && 'record' in from ? from.record?.(request.body) : undefined;
  const basis = deps.relationships
    ? await deps.relationships.basis(principal, patient, Date.now(), known)
    : null;
  if (!basis) {
    throw new FhirError(
      403,
      'NO_LEGITIMATE_RELATIONSHIP',
      `Organisation ${principal.org || '(none)'} has no legitimate relationship with this patient; record one, or use emergency access with a reason`,
    );
  }
  request.ctx.accessBasis = basis;
  if (basis === 'emergency-access') request.ctx.purpose = 'emergency-access';
  else if (basis === 'self-claimed') request.ctx.purpose = 'self-claimed-relationship';
}
