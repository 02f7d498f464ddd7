/**
 * Prepares a store for bench/ers-booking.mjs (run with `node --import tsx`): the published
 * patient, N directly bookable e-RS services with a month of slots each, and tokens for a referrer.
 * Prints one JSON line for the benchmark to read.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type Flags } from '../../src/config.js';
import { loadOrCreateSigningKey, mintToken } from '../../src/security/embedded-idp.js';
import { publishSlots } from '../../src/services/referrals/index.js';
import { openRepository } from '../../src/store/open.js';
import {
  addErsServices,
  DBS_PROFILE,
  PROVIDER,
  PUBLISHED_PATIENT,
  REFERRER,
} from './ers-booking.js';
import { commitPatients, currentJane, withNhsNumber } from './pds-fixtures.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    store: { type: 'string' },
    'database-url': { type: 'string' },
    'database-schema': { type: 'string' },
    services: { type: 'string' },
  },
});
const config = loadConfig(values as Flags);
const repo = await openRepository(config);
try {
  await commitPatients(repo, [withNhsNumber(currentJane(), PUBLISHED_PATIENT)]);
  const ids = Array.from({ length: Number(values.services ?? 8) }, (_, i) => `B${1000 + i}`);
  await addErsServices(
    repo,
    Object.fromEntries(ids.map((id) => [id, [PROVIDER, DBS_PROFILE, `Bench Cardiology ${id}`]])),
  );
  const from = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const times = Array.from(
    { length: 20 },
    (_, i) => `${String(8 + Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}`,
  );
  for (const service of ids)
    await publishSlots(repo, {
      service,
      from,
      days: 30,
      times,
      durationMinutes: 30,
      capacity: 1,
      weekdaysOnly: false,
    });
  const signing = await loadOrCreateSigningKey(config.dataDir);
  const referrer = await mintToken(signing, {
    userId: 'bench-gp',
    role: 'R8000',
    org: REFERRER,
    audience: config.audience,
    ttlSeconds: 3600,
  });
  console.log(
    JSON.stringify({ services: ids, referrer, patient: PUBLISHED_PATIENT, org: REFERRER }),
  );
} finally {
  await repo.close();
}
