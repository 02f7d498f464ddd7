import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { Principal } from '../../security/principal.js';
import type { ResourceStore } from '../../store/resource-store.js';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Who an audit entry is about when the caller has no token yet (signing in, getting one). */
export type Actor = Pick<Principal, 'kind' | 'userId' | 'name' | 'role' | 'org'> & {
  sessionId?: string;
};

/**
 * Writes one security audit entry (sign-in, token issue, refused client) for a request on the
 * sign-in endpoints. These callers have no verified token, so the request id is their
 * X-Request-ID when it is a UUID and a fresh one otherwise.
 */
export async function auditSecurityEvent(
  repo: ResourceStore,
  request: FastifyRequest,
  action: string,
  outcome: string,
  actor: Actor | null,
  detail: Record<string, unknown>,
): Promise<void> {
  const header = request.headers['x-request-id'];
  const ctx: RequestContext = {
    requestId: typeof header === 'string' && UUID.test(header) ? header : randomUUID(),
    correlationId: request.ctx?.correlationId,
    traceId: request.ctx?.traceId,
    principal: actor
      ? { ...actor, sessionId: actor.sessionId ?? '', issuer: '', expiresAt: 0 }
      : undefined,
  };
  const record = auditRecord(ctx, action, null, outcome, detail, { type: 'security' });
  if (!actor) record.userId = 'unauthenticated';
  await repo.commit({ audit: [record] });
}
