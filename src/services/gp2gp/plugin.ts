import type { ServicePlugin } from '../service-deps.js';
import { consumeGpChanges } from './gp-change-consumer.js';
import { gp2gpOptions } from './options.js';
import { GP2GP_BASE, GP2GP_SWEEP_JOB, gp2gpRoutes } from './routes.js';
import { sweepTransfers } from './sweep.js';
import { TransferService } from './transfer-service.js';

/**
 * GP2GP record transfer (docs/gp2gp.md): the Task route table under GP2GP_BASE; the consumer of
 * PDS registration changes (a change of practice starts a transfer); and the cluster-wide timeout
 * sweep (one node at a time).
 */
export const gp2gpPlugin: ServicePlugin = async (app, deps) => {
  const options = gp2gpOptions();
  const service = new TransferService(deps.store, deps.audit, deps.publicUrl + GP2GP_BASE, options);
  consumeGpChanges(deps.bus, service);
  deps.scheduler.every(GP2GP_SWEEP_JOB, options.sweepIntervalMs, async () => {
    await sweepTransfers(deps.store, options);
  });
  await app.register(gp2gpRoutes(deps, service, options), { prefix: GP2GP_BASE });
};
