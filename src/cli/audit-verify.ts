import type { Config } from '../config.js';
import { ChainVerifier } from '../audit/chain.js';
import { openRepository } from '../store/open.js';

/** Recomputes the whole audit hash chain; exits non-zero at the first broken link. */
export async function verifyAuditCommand(config: Config): Promise<number> {
  const repo = await openRepository(config);
  try {
    const verifier = new ChainVerifier();
    let after = 0;
    for (;;) {
      const page = await repo.readAudit(after, 10_000);
      if (page.length === 0) break;
      for (const entry of page) if (!verifier.push(entry)) break;
      after = page[page.length - 1].seq;
      if (!verifier.finish().ok) break;
    }
    let result = verifier.finish();
    const head = await repo.auditHead();
    if (result.ok && (head.seq !== result.checked || head.hash !== result.headHash)) {
      // entries were removed from the end: the log stops short of the recorded head
      result = { ...result, ok: false, brokenAt: { seq: result.checked + 1, reason: `the log ends at entry ${result.checked} but the recorded chain head is entry ${head.seq} (entries removed from the end)` } };
    }
    if (result.ok) {
      console.log(`audit chain intact: ${result.checked} entries, head ${result.headHash}`);
      return 0;
    }
    console.error(`audit chain BROKEN at entry ${result.brokenAt!.seq}: ${result.brokenAt!.reason} (${result.checked} entries verified before it)`);
    return 1;
  } finally {
    await repo.close();
  }
}
