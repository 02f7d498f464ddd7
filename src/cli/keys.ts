import { existsSync } from 'node:fs';
import { loadConfig } from '../config.js';
import {
  currentKeyFile,
  historicPublicJwks,
  loadOrCreateSigningKey,
  prepareNextSigningKey,
  rotateSigningKey,
  type RetiredKey,
} from '../security/signing-keys.js';
import { parseCommandLine, wholeNumber } from './args.js';

/** A staff token from `openspine token` lives 12 hours by default: the longest a token lives unless --ttl says more. */
const DEFAULT_OVERLAP_HOURS = 12;

const USAGE = `openspine keys prepare [--data DIR]   (writes the next key: published and accepted, not yet signing)
openspine keys rotate [--data DIR] [--overlap-hours N]   (the next key signs; the old one is retired: default ${DEFAULT_OVERLAP_HOURS} h overlap, 0 after a compromise)
openspine keys list [--data DIR] [--json | --jwks]   (--jwks: every public key, for audit verify-export)

Each step takes effect on a node when it restarts. Several nodes: prepare, copy DIR/keys to every
node, restart them one by one; then rotate, copy DIR/keys again, restart them one by one.`;

const OPTIONS = {
  data: { type: 'string' },
  'overlap-hours': { type: 'string' },
  json: { type: 'boolean' },
  jwks: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function retiredLine(r: RetiredKey, now: Date): string {
  const open = Date.parse(r.acceptUntil) > now.getTime();
  return `retired  ${r.kid}  retired ${r.retiredAt}  ${open ? 'published and accepted until' : 'overlap ended'} ${r.acceptUntil}`;
}

/**
 * `openspine keys rotate|list`: the platform's signing keys in <data>/keys (src/security/signing-keys.ts).
 * Returns the exit code.
 */
export async function keysCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  const [sub, extra] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!['prepare', 'rotate', 'list'].includes(sub) || extra !== undefined) {
    console.error(`unknown command 'keys ${positionals.join(' ')}'\n\n${USAGE}`);
    return 2;
  }
  const { dataDir } = loadConfig({ data: values.data });
  if (!existsSync(currentKeyFile(dataDir))) {
    console.error(
      `no signing key in ${dataDir}/keys (a server creates one on its first start; is --data right?)`,
    );
    return 1;
  }
  const now = new Date();
  if (sub === 'prepare') {
    const next = await prepareNextSigningKey(dataDir);
    console.log(`next     ${next.kid}${next.created ? '  (new)' : '  (prepared before)'}`);
    console.log(
      `Copy ${dataDir}/keys to every node and restart each; then run 'openspine keys rotate'.`,
    );
    return 0;
  }
  if (sub === 'rotate') {
    let overlapHours: number;
    try {
      overlapHours = wholeNumber(values['overlap-hours'], '--overlap-hours', DEFAULT_OVERLAP_HOURS);
    } catch (err) {
      console.error((err as Error).message);
      return 2;
    }
    const rotation = await rotateSigningKey(dataDir, {
      overlapSeconds: overlapHours * 3600,
      now,
    });
    const { current, retired } = rotation;
    console.log(`current  ${current.kid}  (${rotation.wasPrepared ? 'the prepared key' : 'new'})`);
    console.log(retiredLine(retired, now));
    console.log(
      `Copy ${dataDir}/keys to every node and restart each (one at a time) to sign with the new key.`,
    );
    return 0;
  }
  const key = await loadOrCreateSigningKey(dataDir);
  if (values.jwks) {
    console.log(JSON.stringify({ keys: historicPublicJwks(key) }, null, 2));
    return 0;
  }
  if (values.json) {
    console.log(JSON.stringify({ current: key.publicJwk, retired: key.retired ?? [] }, null, 2));
    return 0;
  }
  console.log(`current  ${key.kid}`);
  if (key.next)
    console.log(`next     ${key.next.kid}  (prepared: published and accepted, not signing)`);
  for (const r of key.retired ?? []) console.log(retiredLine(r, now));
  return 0;
}
