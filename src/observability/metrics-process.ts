import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics, Registry } from 'prom-client';

let shared: Registry | undefined;

/**
 * prom-client's default metrics (nodejs_* event loop delay, heap, GC; process_* CPU, memory, file
 * descriptors) describe the process, not an app, so every app's scrape shares one registry of them
 * (still not prom-client's global one). Made on first use: with metrics off nothing is collected.
 * One registry per app would start an event-loop-delay monitor and a GC observer per app.
 */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

let version: string | undefined;

/** The package's version (package.json, found above this file from src/ or dist/). */
export function buildVersion(): string {
  if (version === undefined) {
    version = 'unknown';
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 5; i++, dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        version = String((JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version);
        break;
      }
    }
  }
  return version;
}
