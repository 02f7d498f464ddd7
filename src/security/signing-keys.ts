import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

/**
 * The platform's signing keys in <dataDir>/keys: the current key (idp-signing-key.json) signs access
 * tokens, ID tokens, audit checkpoints and notification deliveries; `openspine keys rotate` replaces
 * it and keeps the one it replaces in keys/retired/<kid>.json. A retired key is published in the JWKS,
 * and the tokens it signed before it was retired are accepted, until its overlap ends; its public
 * part verifies old audit checkpoints for ever. Its private part is kept only as a record.
 *
 * Several nodes restart one at a time, so for a while some sign with the new key and others still
 * with the old one. `openspine keys prepare` writes the next key (next-signing-key.json) first: a
 * node restarted with it publishes and accepts it but does not sign with it; `keys rotate` then
 * makes that key current, and nodes not yet restarted already accept what the restarted ones sign.
 */
export const SIGNING_ALG = 'ES256';

export interface SigningKey {
  privateJwk: JWK;
  publicJwk: JWK;
  kid: string;
  /** Retired keys (public parts, newest first), as read from the data directory; absent: none. */
  retired?: readonly RetiredKey[];
  /** The prepared next key (public part): accepted and published, not yet signing. */
  next?: { kid: string; publicJwk: JWK };
}

export interface RetiredKey {
  kid: string;
  publicJwk: JWK;
  /** When it stopped signing (ISO 8601). A token it signed after this is refused. */
  retiredAt: string;
  /** Until when it is published and the tokens it signed are accepted (ISO 8601). */
  acceptUntil: string;
}

interface RetiredKeyFile {
  kid: string;
  retiredAt: string;
  acceptUntil: string;
  privateJwk: JWK;
}

export const currentKeyFile = (dataDir: string) => join(dataDir, 'keys', 'idp-signing-key.json');
export const retiredKeyDir = (dataDir: string) => join(dataDir, 'keys', 'retired');
export const nextKeyFile = (dataDir: string) => join(dataDir, 'keys', 'next-signing-key.json');

/** A new ES256 key pair; its kid is the RFC 7638 thumbprint of the public key. */
export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const bare = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(bare);
  const publicJwk = { ...bare, kid, alg: SIGNING_ALG, use: 'sig' };
  return { privateJwk: { ...(await exportJWK(privateKey)), ...publicJwk }, publicJwk, kid };
}

function readKeyFile(file: string): SigningKey {
  const privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  const { d: _d, ...publicJwk } = privateJwk;
  return { privateJwk, publicJwk, kid: privateJwk.kid as string };
}

/** Every retired key of a data directory, newest first. */
export function readRetiredKeys(dataDir: string): RetiredKey[] {
  const dir = retiredKeyDir(dataDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => {
      const file = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RetiredKeyFile;
      const { d: _d, ...publicJwk } = file.privateJwk;
      return {
        kid: file.kid,
        publicJwk,
        retiredAt: file.retiredAt,
        acceptUntil: file.acceptUntil,
      };
    })
    .sort((a, b) => b.retiredAt.localeCompare(a.retiredAt));
}

/**
 * Loads the signing key of <dataDir>/keys, creating it on first use, with the retired keys of
 * earlier rotations. The private key file is readable by its owner only.
 */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const file = currentKeyFile(dataDir);
  // a rotation cut short between its two renames leaves the current key among the retired: skip it
  const withRetired = (key: SigningKey): SigningKey => {
    const next = existsSync(nextKeyFile(dataDir)) ? readKeyFile(nextKeyFile(dataDir)) : undefined;
    return {
      ...key,
      retired: readRetiredKeys(dataDir).filter((r) => r.kid !== key.kid),
      ...(next && next.kid !== key.kid
        ? { next: { kid: next.kid, publicJwk: next.publicJwk } }
        : {}),
    };
  };
  if (existsSync(file)) return withRetired(readKeyFile(file));
  mkdirSync(join(dataDir, 'keys'), { recursive: true });
  const key = await generateSigningKey();
  // write a private temp file, then link it into place: the key file appears whole or not at all,
  // and when two processes race on a new data directory the first link wins and both use its key
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(temp, JSON.stringify(key.privateJwk), { mode: 0o600 });
  try {
    linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return withRetired(readKeyFile(file));
  } finally {
    unlinkSync(temp);
  }
  return withRetired(key);
}

/**
 * The keys the JWKS publishes and tokens are accepted from at `now`: the current one, the prepared
 * next one, and the retired ones still in their overlap.
 */
export function acceptedPublicJwks(key: SigningKey, now: Date = new Date()): JWK[] {
  return [
    key.publicJwk,
    ...(key.next ? [key.next.publicJwk] : []),
    ...(key.retired ?? [])
      .filter((r) => Date.parse(r.acceptUntil) > now.getTime())
      .map((r) => r.publicJwk),
  ];
}

/**
 * Every public key that ever signed for this data directory, and the next one (which a node already
 * restarted after a rotation signs with): audit checkpoints verify with these.
 */
export function historicPublicJwks(key: SigningKey): JWK[] {
  return [
    key.publicJwk,
    ...(key.next ? [key.next.publicJwk] : []),
    ...(key.retired ?? []).map((r) => r.publicJwk),
  ];
}

/** Writes a private (0600) file whole or not at all: a synced temp file renamed over the target. */
function writePrivateFile(file: string, text: string): void {
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

/** Runs `work` holding keys/rotate.lock: one change to the key files at a time. */
async function withKeyLock<T>(dataDir: string, work: () => Promise<T>): Promise<T> {
  const lock = join(dataDir, 'keys', 'rotate.lock');
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new Error(
      `another key rotation holds ${lock}; if none is running (one was interrupted), remove that file and try again`,
    );
  }
  try {
    return await work();
  } finally {
    closeSync(fd);
    unlinkSync(lock);
  }
}

/** Writes the next signing key (keys/next-signing-key.json) unless one is prepared already; returns it. */
export async function prepareNextSigningKey(
  dataDir: string,
): Promise<{ kid: string; created: boolean }> {
  await loadOrCreateSigningKey(dataDir);
  return withKeyLock(dataDir, async () => {
    const file = nextKeyFile(dataDir);
    if (existsSync(file)) return { kid: readKeyFile(file).kid, created: false };
    const next = await generateSigningKey();
    writePrivateFile(file, JSON.stringify(next.privateJwk));
    return { kid: next.kid, created: true };
  });
}

export interface Rotation {
  current: SigningKey;
  retired: RetiredKey;
  /** Whether the new current key was the prepared next key (false: generated by the rotation). */
  wasPrepared: boolean;
}

/**
 * Replaces the current signing key with the prepared next key, or a new one if none was prepared.
 * The old key is written to keys/retired/<kid>.json first, then the new key renamed over the current
 * key file, so a crash leaves either the old key current (and also listed as retired, which loading
 * ignores) or the rotation complete. Running servers sign with the new key after a restart.
 */
export async function rotateSigningKey(
  dataDir: string,
  options: { overlapSeconds: number; now?: Date },
): Promise<Rotation> {
  const old = await loadOrCreateSigningKey(dataDir);
  return withKeyLock(dataDir, async () => {
    const now = options.now ?? new Date();
    const retired: RetiredKeyFile = {
      kid: old.kid,
      retiredAt: now.toISOString(),
      acceptUntil: new Date(now.getTime() + options.overlapSeconds * 1000).toISOString(),
      privateJwk: old.privateJwk,
    };
    mkdirSync(retiredKeyDir(dataDir), { recursive: true, mode: 0o700 });
    writePrivateFile(join(retiredKeyDir(dataDir), `${old.kid}.json`), JSON.stringify(retired));
    const prepared = nextKeyFile(dataDir);
    const wasPrepared = existsSync(prepared);
    if (wasPrepared) {
      renameSync(prepared, currentKeyFile(dataDir));
    } else {
      const next = await generateSigningKey();
      writePrivateFile(currentKeyFile(dataDir), JSON.stringify(next.privateJwk));
    }
    const current = await loadOrCreateSigningKey(dataDir);
    return { current, retired: current.retired!.find((r) => r.kid === old.kid)!, wasPrepared };
  });
}
