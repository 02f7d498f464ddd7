import type { Config } from '../config.js';
import { startServer } from '../server.js';

/** Serves until SIGINT or SIGTERM, then closes the HTTP server and the store cleanly. */
export async function serveCommand(config: Config, demo: boolean): Promise<number> {
  const server = await startServer(config, { demo });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
