// The PDS with authentication and policy switched off: the same routes, store and audit writes,
// every request run as one fixed clinician. Used only to measure what token verification and
// policy checks cost (`npm run bench`); the switch exists only as a buildApp argument.
import { loadConfig } from '../dist/src/config.js';
import { buildApp } from '../dist/src/http/app.js';
import { loadOrCreateSigningKey } from '../dist/src/security/embedded-idp.js';
import { openRepository } from '../dist/src/store/open.js';

const [port, dataDir] = process.argv.slice(2);
const config = {
  ...loadConfig({ data: dataDir, port, 'log-level': 'warn' }, {}),
  rateLimit: { userPerMinute: 0, applicationPerMinute: 0 },
};
const repo = await openRepository(config);
// as `openspine serve` does (src/server.ts), so the two servers differ only in the security checks
repo.startBackgroundWork?.();
const signingKey = await loadOrCreateSigningKey(config.dataDir);
const principal = {
  kind: 'user',
  userId: 'bench',
  role: 'R8000',
  org: 'A81001',
  sessionId: '',
  issuer: 'bench',
  expiresAt: Number.MAX_SAFE_INTEGER,
};
const app = await buildApp({
  config,
  repo,
  signingKey,
  logger: false,
  benchmarkPrincipal: principal,
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
