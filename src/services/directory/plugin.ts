import type { ServicePlugin } from '../service-deps.js';
import { DIRECTORY_BASE, directoryRoutes } from './routes.js';

/**
 * Spine Directory (docs/directory.md): its route table under DIRECTORY_BASE. Organizations come
 * from the ODS import (CLI), not from here. No bus consumers or jobs.
 */
export const directoryPlugin: ServicePlugin = async (app, deps) => {
  await app.register(directoryRoutes(deps), { prefix: DIRECTORY_BASE });
};
