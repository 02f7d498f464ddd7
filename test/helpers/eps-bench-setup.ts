/**
 * Prepares a store for bench/eps.mjs (run with `node --import tsx`): N patients registered with
 * practice A83008 and nominating pharmacy FLE79, a prescriber with a registered ES256 key, and
 * tokens for the prescriber and the pharmacist. Prints one JSON line for the benchmark to read.
 */
import { parseArgs } from 'node:util';
import { exportJWK } from 'jose';
import { loadConfig, type Flags } from '../../src/config.js';
import { loadOrCreateSigningKey, mintToken } from '../../src/security/embedded-idp.js';
import { addPrescriberKey } from '../../src/services/eps/prescriber-keys.js';
import { openRepository } from '../../src/store/open.js';
import { addPatient, GP_ORG, newKeyPair, PHARMACY } from './eps-prescribing.js';
import { PRESCRIBER_USER } from './eps-client.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    store: { type: 'string' },
    'database-url': { type: 'string' },
    'database-schema': { type: 'string' },
    patients: { type: 'string' },
  },
});
const config = loadConfig(values as Flags);
const repo = await openRepository(config);
try {
  const patients: string[] = [];
  for (let i = 0; i < Number(values.patients ?? 200); i++) patients.push(await addPatient(repo));
  const key = await newKeyPair('ES256');
  await addPrescriberKey(repo, PRESCRIBER_USER, key.publicJwk);
  const signing = await loadOrCreateSigningKey(config.dataDir);
  const token = (role: string, userId: string, org: string) =>
    mintToken(signing, { userId, role, org, audience: config.audience, ttlSeconds: 3600 });
  console.log(
    JSON.stringify({
      patients,
      kid: key.kid,
      privateJwk: await exportJWK(key.privateKey),
      prescriber: await token('R8000', PRESCRIBER_USER, GP_ORG),
      pharmacy: await token('R8003', 'bench-pharmacist', PHARMACY),
    }),
  );
} finally {
  await repo.close();
}
