import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SignedAuditCheckpoint } from '../audit/types.js';
import { canonicalJson } from '../fhir/canonical-json.js';

/**
 * DIR/manifest.json of a backup: what the copy holds, written last so a half-made backup has none.
 * `digest` is the SHA-256 of the canonical JSON of everything else, so an edited manifest is
 * detected; it is not a signature (whoever can rewrite the files can recompute it): the audit chain
 * and its signed checkpoints are what an attacker cannot forge without the key.
 */
export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'openspine-backup';
export const MANIFEST_VERSION = 1;

export interface BackupFile {
  /** Path inside the backup (and the data directory), '/'-separated. */
  name: string;
  sha256: string;
  bytes: number;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  createdAt: string;
  store: 'sqlite' | 'postgres';
  openspineVersion: string;
  /** PostgreSQL: the schema counted (never the URL: it may carry a password). */
  databaseSchema?: string;
  /** The copied files (SQLite); empty for PostgreSQL, whose physical copy is pg_basebackup's. */
  files: BackupFile[];
  /** Rows per table, counted in the copy (SQLite) or in one snapshot of the schema (PostgreSQL). */
  tables: Record<string, number>;
  auditHead: { seq: number; hash: string };
  /** The newest signed checkpoint in the copy, if any had been signed. */
  checkpoint: SignedAuditCheckpoint | null;
  digest: string;
}

export function manifestDigest(manifest: Omit<BackupManifest, 'digest'>): string {
  const { digest: _digest, ...content } = manifest as BackupManifest;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

export function sealManifest(content: Omit<BackupManifest, 'digest'>): BackupManifest {
  return { ...content, digest: manifestDigest(content) };
}

export function writeManifest(dir: string, manifest: BackupManifest): void {
  // 'wx': never over an existing manifest
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n', {
    flag: 'wx',
  });
}

/** The manifest of a backup, or why it cannot be trusted (missing, unreadable, edited). */
export function readManifest(file: string): { manifest: BackupManifest } | { problem: string } {
  if (!existsSync(file))
    return { problem: `${file} does not exist (an unfinished or incomplete backup has none)` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { problem: `${file} is not JSON (${(err as Error).message})` };
  }
  const m = parsed as Partial<BackupManifest>;
  if (!m || typeof m !== 'object' || m.format !== MANIFEST_FORMAT)
    return { problem: `${file} is not an OpenSpine backup manifest` };
  if (m.formatVersion !== MANIFEST_VERSION)
    return {
      problem: `${file} has format version ${String(m.formatVersion)}; this OpenSpine reads version ${MANIFEST_VERSION}`,
    };
  if (
    (m.store !== 'sqlite' && m.store !== 'postgres') ||
    !Array.isArray(m.files) ||
    !m.tables ||
    typeof m.tables !== 'object' ||
    !m.auditHead ||
    typeof m.digest !== 'string'
  )
    return { problem: `${file} lacks required fields (store, files, tables, auditHead, digest)` };
  if (manifestDigest(m as BackupManifest) !== m.digest)
    return {
      problem: `the manifest digest does not match its content: ${file} was edited after the backup`,
    };
  return { manifest: m as BackupManifest };
}

/** SHA-256 and size of a file, streamed (a database copy may be large). */
export async function digestFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** The running OpenSpine's version, from the package.json above this module. */
export function openspineVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    const file = new URL(up, import.meta.url);
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'openspine' && pkg.version) return pkg.version;
  }
  return 'unknown';
}
