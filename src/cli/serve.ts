import type { Config } from '../config.js';
import { startServer } from '../server.js';

/** How long a graceful shutdown may take before the process gives up on it. */
const SHUTDOWN_GRACE_MS = 15_000;

/** Serves until SIGINT or SIGTERM, then closes the HTTP server and the store cleanly. */
export async function serveCommand(config: Config, demo: boolean): Promise<number> {
  const server = await startServer(config, { demo });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // Every acknowledged write is already committed, so a shutdown that hangs (a store that stopped
  // answering) loses nothing by exiting; it must not leave the process up, unseen, holding its port.
  const watchdog = setTimeout(() => {
    process.stderr.write(
      `openspine: shutdown did not finish within ${SHUTDOWN_GRACE_MS / 1000} s; exiting\n`,
    );
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  watchdog.unref();
  await server.close();
  clearTimeout(watchdog);
  return 0;
}
