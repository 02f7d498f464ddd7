import type { Config } from '../config.js';
import { statementVerifier } from '../audit/signed-head.js';
import { verifyStoredChain } from '../audit/store-verifier.js';
import { historicPublicJwks, loadOrCreateSigningKey } from '../security/signing-keys.js';
import { openRepository } from '../store/open.js';

/**
 * Recomputes the whole audit hash chain and checks every signed checkpoint against it (with the
 * data directory's public key); exits non-zero at the first broken link or bad checkpoint, and
 * when the log ends short of its recorded head or of a signed checkpoint.
 */
export async function verifyAuditCommand(config: Config): Promise<number> {
  const key = await loadOrCreateSigningKey(config.dataDir);
  const repo = await openRepository(config);
  try {
    // checkpoints signed before a key rotation verify with the retired key of their kid
    const result = await verifyStoredChain(repo, statementVerifier(historicPublicJwks(key)));
    if (result.ok) {
      console.log(
        `audit chain intact: ${result.checked} entries, head ${result.headHash}, ${result.checkpointsVerified} signed checkpoints verified`,
      );
      return 0;
    }
    console.error(
      `audit chain BROKEN at entry ${result.brokenAt!.seq}: ${result.brokenAt!.reason} (${result.checked} entries verified before it)`,
    );
    return 1;
  } finally {
    await repo.close();
  }
}
