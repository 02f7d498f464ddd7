import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { FhirError } from '../fhir/errors.js';

/**
 * Rate limits per application and per user (or patient), as the NHS APIs apply them: over the limit
 * a caller gets 429 TOO_MANY_REQUESTS with Retry-After. Counted per node, in memory; behind a load
 * balancer the national limit is the per-node limit times the nodes. Runs after authentication
 * (the key is the verified caller), so public routes and refused tokens are not counted.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  limits: Config['rateLimit'],
): Promise<void> {
  if (limits.userPerMinute === 0 && limits.applicationPerMinute === 0) return;
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    allowList: (req) => {
      const p = req.ctx?.principal;
      if (!p) return true;
      return (p.kind === 'application' ? limits.applicationPerMinute : limits.userPerMinute) === 0;
    },
    // the key is computed before the allow list is consulted, so it must cope with no caller
    keyGenerator: (req) =>
      req.ctx?.principal ? `${req.ctx.principal.kind}:${req.ctx.principal.userId}` : 'public',
    max: (req) =>
      req.ctx.principal!.kind === 'application'
        ? limits.applicationPerMinute
        : limits.userPerMinute,
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
    addHeaders: {
      'x-ratelimit-limit': true,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
      'retry-after': true,
    },
    errorResponseBuilder: (_req, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new FhirError(
        429,
        'TOO_MANY_REQUESTS',
        `You have exceeded your rate limit of ${context.max} requests per minute; retry after ${seconds} s`,
        { 'retry-after': String(seconds) },
      );
    },
  });
}
