import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the web application is served; `/` redirects here. */
export const WEB_BASE = '/app';
/** The application's own OAuth client (a sign-in portal using PKCE) at the embedded identity provider. */
export const WEB_CLIENT_ID = 'openspine-web';
export const CALLBACK_PATH = `${WEB_BASE}/callback`;
/** nhsuk-frontend's CSS, JavaScript and images, and the application's own script and styles. */
export const NHSUK_ASSETS = `${WEB_BASE}/assets/nhsuk`;
export const APP_ASSETS = `${WEB_BASE}/assets/app`;

/**
 * The package root (the folder holding package.json): the templates and assets are read from the
 * source tree, whether this module runs under tsx from src/ or compiled from dist/src/.
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('web application: package root not found');
    dir = up;
  }
  return dir;
}

const ROOT = packageRoot();
export const VIEWS_DIR = join(ROOT, 'src/services/web/views');
export const APP_ASSETS_DIR = join(ROOT, 'src/services/web/assets');
export const NHSUK_DIST_DIR = join(ROOT, 'node_modules/nhsuk-frontend/dist');
