import type { MessageBus } from '../../messaging/types.js';
import type { CheckResult, Readiness } from '../../observability/readiness.js';
import type { Repository } from '../../store/repository.js';

/** A store error in a few words: its code, never a host, port or statement (the route is public). */
function storeFailure(kind: Repository['kind'], err: unknown): CheckResult {
  const code = (err as { code?: unknown } | null)?.code;
  const named = typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? ` (${code})` : '';
  return { status: 'fail', reason: `the ${kind} store does not answer${named}` };
}

/**
 * The health service's readiness checks: the store answers a query, its recorded schema version is
 * the one this code migrates to, and the message bus reaches its transport. (The audit checkpoint
 * signer's check is registered by the security service; draining is Readiness's own.)
 */
export function registerReadyChecks(
  readiness: Readiness,
  { store, bus }: { store: Repository; bus: MessageBus },
): void {
  readiness.add('store', async () => {
    try {
      await store.schemaVersion();
      return { status: 'pass', reason: `the ${store.kind} store answers` };
    } catch (err) {
      return storeFailure(store.kind, err);
    }
  });
  readiness.add('migrations', async () => {
    let version: { applied: number; latest: number };
    try {
      version = await store.schemaVersion();
    } catch (err) {
      return storeFailure(store.kind, err);
    }
    const { applied, latest } = version;
    if (applied === latest)
      return { status: 'pass', reason: `schema at version ${latest}`, applied, latest };
    return {
      status: 'fail',
      reason:
        applied < latest
          ? `schema at version ${applied}, this code needs ${latest}: migrations not applied`
          : `schema at version ${applied} is newer than this code's ${latest}`,
      applied,
      latest,
    };
  });
  readiness.add('bus', () => {
    const status = bus.status?.();
    if (!status) return { status: 'pass', reason: `the ${bus.kind} bus reports no status` };
    if (status.connected) return { status: 'pass', reason: `${status.kind} bus connected` };
    return {
      status: 'fail',
      reason: !status.running
        ? `${status.kind} bus not running`
        : status.kind === 'nats'
          ? 'not connected to NATS (or the stream is not declared)'
          : `${status.kind} bus not connected`,
    };
  });
}
