import { postgresCensus } from './census.js';
import { requireEmptyBackupDir } from './sqlite-backup.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  openspineVersion,
  sealManifest,
  writeManifest,
  type BackupManifest,
} from './manifest.js';

/**
 * PostgreSQL's physical copy is its own tool's (pg_basebackup with WAL archiving, docs/operations.md);
 * this writes the manifest to keep beside it: rows per table, the audit head and the newest signed
 * checkpoint, read in one snapshot. `backup verify --manifest` checks a restored cluster against it.
 */
export async function postgresManifest(opts: {
  databaseUrl: string;
  schema: string;
  to: string;
}): Promise<BackupManifest> {
  const census = await postgresCensus(opts.databaseUrl, opts.schema);
  requireEmptyBackupDir(opts.to);
  const manifest = sealManifest({
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    createdAt: new Date().toISOString(),
    store: 'postgres',
    openspineVersion: openspineVersion(),
    databaseSchema: opts.schema,
    files: [],
    ...census,
  });
  writeManifest(opts.to, manifest);
  return manifest;
}
