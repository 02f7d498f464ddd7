import type { Config } from '../config.js';
import type { Repository } from '../store/repository.js';
import { EmbeddedBus } from './embedded/embedded-bus.js';
import { LeaseScheduler } from './lease-scheduler.js';
import type { JobScheduler, MessageBus } from './types.js';

export type MessagingConfig = Pick<
  Config,
  'messaging' | 'natsUrl' | 'natsStream' | 'nodeId' | 'messagePollMs'
>;
export type MessagingLog = (message: string, err?: unknown) => void;

/** The bus the configuration names, over the repository's outbox. */
export async function createBus(
  config: MessagingConfig,
  repo: Repository,
  log?: MessagingLog,
): Promise<MessageBus> {
  if (config.messaging === 'nats') {
    const { NatsBus } = await import('./nats/nats-bus.js');
    return new NatsBus(repo.messaging, {
      url: config.natsUrl,
      stream: config.natsStream,
      nodeId: config.nodeId,
      pollMs: config.messagePollMs,
      log,
    });
  }
  return new EmbeddedBus(repo.messaging, {
    nodeId: config.nodeId,
    pollMs: config.messagePollMs,
    log,
  });
}

export function createScheduler(
  config: Pick<Config, 'nodeId'>,
  repo: Repository,
  log?: MessagingLog,
): JobScheduler {
  return new LeaseScheduler(repo.messaging, { nodeId: config.nodeId, log });
}
