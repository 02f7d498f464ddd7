import { readFileSync } from 'node:fs';
import { keysOf, verifyAuditExport } from '../audit/export-verifier.js';

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`the ${what} ${file} is not JSON`);
  }
}

/**
 * `openspine audit verify-export FILE --jwks FILE`: checks an AuditEvent/$export document offline,
 * with only the public key(s) given. Exit 0 when valid, 1 when not (naming the first broken entry
 * or the bad signature), 2 when the files cannot be used.
 */
export async function verifyExportCommand(
  file: string | undefined,
  jwksFile: string | undefined,
): Promise<number> {
  if (!file || !jwksFile) {
    console.error(
      "audit verify-export needs the export file and --jwks FILE (the server's public key set, e.g. from /.well-known/jwks.json)",
    );
    return 2;
  }
  let doc: unknown;
  let keys;
  try {
    doc = readJson(file, 'export');
    keys = keysOf(readJson(jwksFile, 'key set'));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const result = await verifyAuditExport(doc, keys);
  if (result.ok) {
    const s = result.signed!;
    console.log(
      `audit export valid: entries ${s.from}..${s.to} (${result.entriesVerified} verified), head ${s.hash} signed ${s.time}, ${result.checkpointsVerified} checkpoint(s) verified`,
    );
    return 0;
  }
  const where = result.brokenAt !== undefined ? `BROKEN at entry ${result.brokenAt}` : 'INVALID';
  console.error(`audit export ${where}: ${result.reason}`);
  return 1;
}
