import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';

/**
 * The public halves of every signing key kept under <dataDir>/keys (the current key, and any kept
 * after a rotation), read without creating one: a checkpoint signed before a rotation still
 * verifies (keys/retired/*.json, src/security/signing-keys.ts), as does one signed by the prepared
 * next key. A file may hold one JWK, a key set ({ keys: [...] }) or a retired key's record.
 */
export function publicKeysIn(dataDir: string): JWK[] {
  const dir = join(dataDir, 'keys');
  if (!existsSync(dir)) return [];
  const keys: JWK[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const file = join(path, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (name.endsWith('.json')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(file, 'utf8'));
        } catch {
          continue; // not a key file
        }
        // a JWK, a key set, or a retired key's file ({ kid, retiredAt, acceptUntil, privateJwk })
        const { keys: found, privateJwk } = parsed as { keys?: unknown; privateJwk?: unknown };
        for (const k of Array.isArray(found) ? found : [privateJwk ?? parsed]) {
          const jwk = k as JWK;
          if (jwk && typeof jwk === 'object' && typeof jwk.kty === 'string') {
            const { d: _d, ...pub } = jwk;
            keys.push(pub);
          }
        }
      }
    }
  };
  walk(dir);
  return keys;
}
