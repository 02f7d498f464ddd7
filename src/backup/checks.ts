import { decodeProtectedHeader, type JWK } from 'jose';
import { GENESIS_HASH } from '../audit/chain.js';
import { checkpointProblem, statementVerifier } from '../audit/signed-head.js';
import { verifyStoredChain } from '../audit/store-verifier.js';
import type { AuditStore } from '../store/audit-store.js';

/** One line of a verification report: what was checked, whether it held, and the particulars. */
export interface Check {
  ok: boolean;
  what: string;
  detail: string;
}

export const passed = (what: string, detail: string): Check => ({ ok: true, what, detail });
export const failed = (what: string, detail: string): Check => ({ ok: false, what, detail });

export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.what}: ${c.detail}`).join('\n');
}

/** The failed checks, as one sentence naming each. */
export function failures(checks: Check[]): string {
  return checks
    .filter((c) => !c.ok)
    .map((c) => `${c.what}: ${c.detail}`)
    .join('; ');
}

const kidOf = (jws: string): string => {
  try {
    return String(decodeProtectedHeader(jws).kid ?? 'no kid');
  } catch {
    return 'unreadable header';
  }
};

/**
 * The audit checks of a store (a backup's copy or a live store), with the existing verifier: the
 * whole chain recomputes with every stored checkpoint on the way; the newest signed checkpoint
 * verifies with these public keys against the chain at its seq; and, when a head is expected,
 * the chain ends at it ('ends-at', a copy) or contains it ('contains', a store that went on).
 */
export async function auditChecks(
  audit: AuditStore,
  keys: JWK[],
  expected?: { head: { seq: number; hash: string }; mode: 'ends-at' | 'contains' },
): Promise<Check[]> {
  const verify = keys.length
    ? statementVerifier(keys)
    : async () => ({ error: 'no signing key was found to verify it with' });
  const checks: Check[] = [];
  const chain = await verifyStoredChain({ audit }, verify);
  checks.push(
    chain.ok
      ? passed(
          'audit chain',
          `${chain.checked} entries recomputed to head ${chain.lastSeq} (${chain.headHash.slice(0, 16)}…), ${chain.checkpointsVerified} signed checkpoints verified`,
        )
      : failed(
          'audit chain',
          `broken at entry ${chain.brokenAt!.seq}: ${chain.brokenAt!.reason} (${chain.checked} entries verified before it)`,
        ),
  );

  const latest = await audit.latestAuditCheckpoint();
  if (!latest) {
    checks.push(
      passed('newest signed checkpoint', 'none signed yet (the chain is not anchored by a key)'),
    );
  } else {
    const [entry] = await audit.readAuditEntries([latest.seq]);
    const problem = entry
      ? await checkpointProblem(verify, latest, entry.hash)
      : `the checkpoint at entry ${latest.seq} names an entry that is not in the log`;
    checks.push(
      problem
        ? failed('newest signed checkpoint', problem)
        : passed(
            'newest signed checkpoint',
            `entry ${latest.seq}, signed ${latest.time} by key ${kidOf(latest.jws)}`,
          ),
    );
  }

  if (expected) {
    const { head, mode } = expected;
    const what =
      mode === 'ends-at' ? 'audit head of the manifest' : "manifest's audit head in the chain";
    let hashThere: string | undefined;
    if (mode === 'ends-at') {
      // a broken chain is reported above; its head row is still held against the manifest's
      const recorded = await audit.auditHead();
      if (recorded.seq !== head.seq || (chain.ok && chain.lastSeq !== head.seq)) {
        checks.push(
          failed(
            what,
            `the copy's chain ends at entry ${chain.lastSeq} (recorded head ${recorded.seq}), the manifest says ${head.seq}`,
          ),
        );
        return checks;
      }
      hashThere = chain.ok ? chain.headHash : recorded.hash;
    } else {
      hashThere =
        head.seq === 0 ? GENESIS_HASH : (await audit.readAuditEntries([head.seq]))[0]?.hash;
      if (hashThere === undefined) {
        checks.push(failed(what, `entry ${head.seq} is not in the store's audit log`));
        return checks;
      }
    }
    checks.push(
      hashThere === head.hash
        ? passed(what, `entry ${head.seq} has the manifest's hash`)
        : failed(
            what,
            `entry ${head.seq} has hash ${hashThere.slice(0, 16)}…, the manifest says ${head.hash.slice(0, 16)}…`,
          ),
    );
  }
  return checks;
}

/** Row counts against a manifest's: 'equal' for a copy, 'at-least' (grow-only tables) for a store that went on. */
export function rowCountChecks(
  actual: Record<string, number>,
  recorded: Record<string, number>,
  mode: 'equal' | 'at-least',
  growOnly: ReadonlySet<string>,
): Check[] {
  const wrong: string[] = [];
  const skipped: string[] = [];
  for (const [table, count] of Object.entries(recorded)) {
    const now = actual[table];
    if (now === undefined) wrong.push(`table ${table} is missing`);
    else if (mode === 'equal' && now !== count)
      wrong.push(`${table} has ${now} rows, the manifest says ${count}`);
    else if (mode === 'at-least' && !growOnly.has(table)) skipped.push(table);
    else if (mode === 'at-least' && now < count)
      wrong.push(`${table} has ${now} rows, fewer than the manifest's ${count}`);
  }
  if (mode === 'equal')
    for (const table of Object.keys(actual))
      if (!(table in recorded)) wrong.push(`table ${table} is not in the manifest`);
  const checked = Object.keys(recorded).length - skipped.length;
  const what = mode === 'equal' ? 'row counts' : 'rows since the backup';
  if (wrong.length) return [failed(what, wrong.join('; '))];
  return [
    passed(
      what,
      mode === 'equal'
        ? `${checked} tables match the manifest`
        : `${checked} append-only tables hold at least the manifest's rows` +
            (skipped.length ? ` (not compared, pruned by design: ${skipped.join(', ')})` : ''),
    ),
  ];
}
