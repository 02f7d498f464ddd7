import { connect, type NatsConnection } from 'nats';
import { Wakeup } from '../wakeup.js';

/**
 * Opens the NATS connection, trying again with backoff while the server is unreachable (a node must
 * start, and keep its outbox, while NATS is down). Once connected the client reconnects by itself.
 */
export async function connectWithRetry(
  options: { url: string; name: string },
  stopped: () => boolean,
  wakeup: Wakeup,
  log?: (message: string, err?: unknown) => void,
): Promise<NatsConnection | null> {
  for (let failures = 0; !stopped(); failures++) {
    try {
      return await connect({
        servers: options.url,
        name: options.name,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 2000,
      });
    } catch (err) {
      if (failures === 0) log?.(`messaging: NATS at ${options.url} is unreachable; retrying`, err);
      await wakeup.sleep(Math.min(250 * 2 ** failures, 5000));
    }
  }
  return null;
}
