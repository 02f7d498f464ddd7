// In-process cost of the per-request security work on the hot path (cached token, revocation
// state, RBAC): a deterministic figure beside the noisy end-to-end comparison in run.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSigningKey, mintToken } from '../dist/src/security/embedded-idp.js';
import { TokenVerifier } from '../dist/src/security/token-verifier.js';
import { RevocationList } from '../dist/src/security/accounts/revocations.js';
import { principalMayPerform } from '../dist/src/security/access-control.js';
import { SqliteRepository } from '../dist/src/store/sqlite/sqlite-repository.js';

export async function securityHookCostMicros(iterations = 300_000) {
  const dir = mkdtempSync(join(tmpdir(), 'openspine-hook-'));
  try {
    const key = await loadOrCreateSigningKey(dir);
    const repo = new SqliteRepository(join(dir, 'hook.db'));
    await repo.migrate();
    const verifier = new TokenVerifier({
      embeddedPublicJwk: key.publicJwk,
      audience: 'openspine',
      external: null,
    });
    const revocations = new RevocationList(repo, 60_000);
    const token = await mintToken(key, {
      userId: 'bench',
      role: 'R8000',
      org: 'A81001',
      audience: 'openspine',
    });
    const principal = await verifier.verify(`Bearer ${token}`);
    await revocations.isPrincipalRevoked(principal);
    // a new header string per request, as an HTTP parser produces
    const headers = Array.from({ length: 64 }, () => `Bearer ${token.slice(0)}`.split('').join(''));
    let allowed = 0;
    const pass = (n) => {
      for (let i = 0; i < n; i++) {
        const p = verifier.cached(headers[i & 63]);
        if (p && revocations.recentlyCleared(p) && principalMayPerform(p, 'pds.read')) allowed++;
      }
    };
    pass(20_000);
    const t0 = process.hrtime.bigint();
    pass(iterations);
    const micros = Number(process.hrtime.bigint() - t0) / 1000 / iterations;
    await repo.close();
    if (allowed !== iterations + 20_000) throw new Error('the cached path refused a valid caller');
    return micros;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
