import type { Config } from '../config.js';
import { startServer } from '../server.js';

/**
 * Serves until SIGINT or SIGTERM, then drains (src/http/drain.ts): /_status/ready answers 503 at
 * once, connections close after their next answer, the listener closes after --drain-delay-seconds,
 * in-flight requests and bus deliveries finish and the store flushes; exit 0. If that takes longer
 * than --drain-seconds beyond the delay, the process exits 1.
 */
export async function serveCommand(config: Config, demo: boolean): Promise<number> {
  const server = await startServer(config, { demo });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const boundSeconds = config.drainDelaySeconds + config.drainSeconds;
  // Every acknowledged write is already committed, so a drain that hangs (a store that stopped
  // answering, a handler that never ends) loses nothing by exiting; it must not leave the process
  // up, unseen, holding its port.
  const watchdog = setTimeout(() => {
    process.stderr.write(`openspine: drain did not finish within ${boundSeconds} s; exiting\n`);
    process.exit(1);
  }, boundSeconds * 1000);
  watchdog.unref();
  process.stderr.write(`openspine: ${signal}: draining (up to ${boundSeconds} s)\n`);
  await server.close();
  clearTimeout(watchdog);
  return 0;
}
