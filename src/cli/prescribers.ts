import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { auditRecord } from '../audit/audit-record.js';
import { loadConfig, type Flags } from '../config.js';
import { openRepository } from '../store/open.js';
import {
  addPrescriberKey,
  listPrescriberKeys,
  PrescriberKeyError,
  revokePrescriberKey,
} from '../services/eps/index.js';
import { operator } from './users.js';
import { parseCommandLine } from './args.js';

const USAGE = `openspine prescriber key add --user ID --jwk FILE   (a prescriber's public signing key: EC P-256 or RSA JWK)
openspine prescriber key list [--user ID]
openspine prescriber key revoke KID
  [--data DIR] [--store sqlite|postgres] [--database-url URL] [--database-schema S]`;

const OPTIONS = {
  data: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  user: { type: 'string' },
  jwk: { type: 'string' },
} as const;

/**
 * `openspine prescriber key ...`: registers, lists and revokes prescribers' signing keys (audited
 * as security events).
 */
export async function prescriberCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  const [group, sub, arg] = positionals;
  if (group !== 'key' || !['add', 'list', 'revoke'].includes(sub ?? '')) {
    console.error(USAGE);
    return 2;
  }
  let jwk: unknown;
  if (sub === 'add') {
    if (!values.user || !values.jwk) {
      console.error(`key add needs --user and --jwk\n\n${USAGE}`);
      return 2;
    }
    try {
      jwk = JSON.parse(await readFile(values.jwk, 'utf8'));
    } catch (err) {
      console.error(
        `cannot read a JWK from ${values.jwk}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
      return 1;
    }
  }
  if (sub === 'revoke' && !arg) {
    console.error(`key revoke needs the key id\n\n${USAGE}`);
    return 2;
  }
  const repo = await openRepository(loadConfig(values as Flags));
  const audit = (action: string, detail: Record<string, unknown>) => {
    const record = auditRecord({ requestId: randomUUID() }, action, null, 'success', detail, {
      type: 'security',
    });
    record.userId = operator();
    return [record];
  };
  try {
    if (sub === 'add') {
      const user = values.user!;
      const { key, added } = await addPrescriberKey(
        repo,
        user,
        jwk as never,
        audit('eps.prescriber-key.add', { user }),
      );
      console.log(
        `${added ? 'registered' : 'already registered'}: ${key.alg} key ${key.id} for prescriber ${key.userId}`,
      );
    } else if (sub === 'list') {
      for (const k of await listPrescriberKeys(repo, values.user))
        console.log(
          `${k.id}  ${k.alg}  ${k.userId}  ${k.status}  added ${k.added}${k.revoked ? `  revoked ${k.revoked}` : ''}`,
        );
    } else {
      const key = await revokePrescriberKey(
        repo,
        arg!,
        audit('eps.prescriber-key.revoke', { key: arg }),
      );
      if (!key) {
        console.error(`no active key ${arg}`);
        return 1;
      }
      console.log(`revoked: key ${key.id} of prescriber ${key.userId}`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof PrescriberKeyError)) throw err;
    console.error(err.message);
    return 1;
  } finally {
    await repo.close();
  }
}
