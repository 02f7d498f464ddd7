import { indexAuditBacklog, PeriodicJob } from '../../audit/audit-indexer.js';
import { AuditCheckpointSigner } from '../../audit/checkpoint-signer.js';
import type { ServicePlugin } from '../service-deps.js';
import { auditRoutes } from './audit-routes.js';
import { SECURITY_BASE, securityRoutes } from './routes.js';

/** How often the catch-up indexer brings the AuditEvent search index up to the chain's head. */
const INDEX_INTERVAL_MS = 1000;

/**
 * Security operations (docs/security.md): the relationship route table (break-glass, claims, care
 * episodes) and the AuditEvent route table under SECURITY_BASE; and, on every node, the audit
 * index catch-up job (every second) and the checkpoint signer (every auditCheckpointSeconds, when
 * above 0), started when the app is ready and stopped when it closes.
 */
export const securityPlugin: ServicePlugin = async (app, deps) => {
  const { store, signingKey, config } = deps;
  const fail = (job: string) => (err: unknown) => app.log.error({ err }, `${job} failed`);
  const indexer = new PeriodicJob(
    () => indexAuditBacklog(store),
    INDEX_INTERVAL_MS,
    fail('audit indexer'),
  );
  const signer = new AuditCheckpointSigner(store, signingKey);
  const checkpoints =
    config.auditCheckpointSeconds > 0
      ? new PeriodicJob(
          () => signer.tick(),
          config.auditCheckpointSeconds * 1000,
          fail('audit checkpoint signer'),
        )
      : undefined;
  // readiness (GET /_status/ready) reports whether the signer runs; configured off is not a failure
  deps.readiness.watchJob('signer', checkpoints ?? null, 'auditCheckpointSeconds is 0');
  app.addHook('onReady', async () => {
    indexer.start();
    checkpoints?.start();
  });
  app.addHook('onClose', async () => {
    await Promise.all([indexer.stop(), checkpoints?.stop()]);
  });

  await app.register(securityRoutes(deps), { prefix: SECURITY_BASE });
  await app.register(auditRoutes(deps), { prefix: SECURITY_BASE });
};
