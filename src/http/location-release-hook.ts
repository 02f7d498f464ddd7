import type { FastifyInstance, FastifyRequest } from 'fastify';
import { targetPatient } from '../security/access-control.js';
import type { LocationRelease } from '../security/location-release.js';

/** The patient the route says the request is about, if it says and the request names one validly. */
function namedPatient(request: FastifyRequest): string | undefined {
  try {
    return targetPatient(request);
  } catch {
    return undefined; // a malformed name was refused (or will be) on its own; the body is still checked
  }
}

/**
 * Every JSON response of every route passes the location-release rule on its way out
 * (src/security/location-release.ts), after it is serialised, whatever produced it: a service's
 * view, a stored document sent as it is, or an error. A route whose body is a stream cannot be
 * checked here and must say that its content was released where it was made ('at-source'); one
 * that does not say so fails rather than send unchecked patient data.
 */
export function registerLocationRelease(app: FastifyInstance, release: LocationRelease): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    if (payload === null || payload === undefined) return done(null, payload);
    const type = String(reply.getHeader('content-type') ?? '');
    if (!type.includes('json')) return done(null, payload);
    const declared = request.routeOptions.config?.locationRelease;
    if (declared === 'signed-audit-export') return done(null, payload);
    if (typeof (payload as { pipe?: unknown }).pipe === 'function') {
      if (declared === 'at-source') return done(null, payload);
      return done(
        new Error(
          `${request.method} ${request.routeOptions.url} streams JSON without declaring locationRelease 'at-source'`,
        ),
      );
    }
    const text = Buffer.isBuffer(payload)
      ? payload.toString('utf8')
      : typeof payload === 'string'
        ? payload
        : null;
    if (text === null) return done(null, payload);
    const source = declared === 'pds-current' || declared === 'echo' ? declared : 'any';
    // the patient the request names, and any whose records it read without naming them
    const named = namedPatient(request);
    const about = [...(named === undefined ? [] : [named]), ...(request.ctx?.readPatients ?? [])];
    // callback style, and no promise at all for a body that cannot need releasing (the hot read path)
    if (!release.mayNeedRelease(text, source, about)) return done(null, payload);
    const echoed = source === 'echo' ? () => JSON.stringify(request.body ?? '') : undefined;
    release.releaseText(text, source, { request: echoed, about }).then(
      (out) => done(null, out),
      (err: Error) => done(err),
    );
  });
}
