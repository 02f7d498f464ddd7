import Database from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildSearchResourcesSql, buildSearchSql, planSearch, type SearchPlan } from '../sql.js';
import { fromRequestRow, type RequestRecord, type RequestRow } from '../request-log.js';
import { DuplicateRequestError, VersionConflictError } from '../errors.js';
import type { Repository } from '../repository.js';
import type {
  ResourceType,
  SearchQuery,
  StoredJson,
  StoredResource,
  WriteBatch,
} from '../resource-store.js';
import { appendAuditRecords } from './audit-append.js';
import { SqliteAuditStore } from './audit-store.js';
import { AUTOCHECKPOINT_PAGES, BackgroundCheckpoints } from './background-checkpoints.js';
import { SqliteMessageStore } from './message-store.js';
import { SQLITE_MIGRATIONS } from './schema.js';
import { indexPendingRows, MARK_SUPERSEDED_SQL } from './staged-index.js';
import { traceCommit } from '../../observability/tracing-spans.js';
import { CommitObservers, type CommitObserver, type StoreStats } from '../store-metrics.js';

interface VersionRow {
  rtype: string;
  rid: string;
  version: number;
  updated: string;
  body: string;
}

function toStored(row: VersionRow): StoredResource {
  return {
    type: row.rtype,
    id: row.rid,
    version: row.version,
    lastUpdated: row.updated,
    resource: JSON.parse(row.body),
  };
}

/**
 * The embedded store: one better-sqlite3 connection in WAL mode. better-sqlite3 is synchronous, so
 * each commit runs to completion inside one SQLite transaction before any other request runs; a
 * committed transaction survives the process being killed (WAL, synchronous=NORMAL).
 */
export class SqliteRepository implements Repository {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  readonly audit: SqliteAuditStore;
  readonly messaging: SqliteMessageStore;

  private checkpoints: BackgroundCheckpoints | undefined;
  private readonly commitObservers = new CommitObservers();

  constructor(private readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    // a larger page cache keeps index B-trees in memory during bulk loads and trace searches
    this.db.pragma('cache_size = -131072');
    this.db.pragma('temp_store = MEMORY');
    // checkpoint the WAL every ~40 MB rather than every 4 MB: hot pages (the audit chain head, the last
    // audit page) are rewritten by every commit and a checkpoint copies each only once
    this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    this.audit = new SqliteAuditStore(this.db, (sql) => this.stmt(sql));
    this.messaging = new SqliteMessageStore(
      this.db,
      (sql) => this.stmt(sql),
      (records) => appendAuditRecords((sql) => this.stmt(sql), records),
    );
  }

  /**
   * For a long-running server: WAL checkpoints from now on run on a thread of their own (see
   * BackgroundCheckpoints). Command-line tools keep the connection's automatic checkpoints.
   */
  startBackgroundWork(): void {
    if (this.file === ':memory:' || this.checkpoints) return;
    this.checkpoints = new BackgroundCheckpoints(this.file, this.db);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async migrate(): Promise<void> {
    // one write transaction for the whole check-and-apply, so two processes opening a fresh data
    // directory together cannot both create the tables
    this.db
      .transaction(() => {
        this.db.exec(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)',
        );
        const done = new Set(
          (
            this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]
          ).map((r) => r.version),
        );
        SQLITE_MIGRATIONS.forEach((sql, i) => {
          const version = i + 1;
          if (done.has(version)) return;
          this.db.exec(sql);
          this.db
            .prepare('INSERT INTO schema_migrations (version, applied) VALUES (?, ?)')
            .run(version, new Date().toISOString());
        });
      })
      .immediate();
    // the index of a seed stopped before its end: rebuilt, so whoever opens the store next finds them
    indexPendingRows(this.db);
  }

  async schemaVersion(): Promise<{ applied: number; latest: number }> {
    const row = this.stmt('SELECT max(version) AS v FROM schema_migrations').get() as {
      v: number | null;
    };
    return { applied: row.v ?? 0, latest: SQLITE_MIGRATIONS.length };
  }

  async read<T = any>(type: ResourceType<T>, id: string): Promise<StoredResource<T> | null> {
    const row = this.readRow(type, id);
    return row ? toStored(row) : null;
  }

  async readJson(type: string, id: string): Promise<StoredJson | null> {
    // the hot read path: only the columns the answer needs
    const row = this.stmt(
      `SELECT version, updated, body FROM resource_versions WHERE rtype = ? AND rid = ? ORDER BY version DESC LIMIT 1`,
    ).get(type, id) as Pick<VersionRow, 'version' | 'updated' | 'body'> | undefined;
    return row ? { version: row.version, lastUpdated: row.updated, json: row.body } : null;
  }

  private readRow(type: string, id: string): VersionRow | undefined {
    // Versions only ever grow and commit atomically with the current pointer, so the newest version
    // row is the current one: one descent of the version key, without reading the pointer row (which
    // carries the resource's index entries).
    return this.stmt(
      `SELECT rtype, rid, version, updated, body FROM resource_versions
       WHERE rtype = ? AND rid = ? ORDER BY version DESC LIMIT 1`,
    ).get(type, id) as VersionRow | undefined;
  }

  async readMany<T = any>(type: ResourceType<T>, ids: string[]): Promise<StoredResource<T>[]> {
    const out: StoredResource<T>[] = [];
    for (const id of ids) {
      const r = await this.read(type, id);
      if (r) out.push(r);
    }
    return out;
  }

  async readVersion<T = any>(
    type: ResourceType<T>,
    id: string,
    version: number,
  ): Promise<StoredResource<T> | null> {
    const row = this.stmt(
      'SELECT rtype, rid, version, updated, body FROM resource_versions WHERE rtype = ? AND rid = ? AND version = ?',
    ).get(type, id, version) as VersionRow | undefined;
    return row ? toStored(row) : null;
  }

  async history<T = any>(type: ResourceType<T>, id: string): Promise<StoredResource<T>[]> {
    const rows = this.stmt(
      'SELECT rtype, rid, version, updated, body FROM resource_versions WHERE rtype = ? AND rid = ? ORDER BY version DESC',
    ).all(type, id) as VersionRow[];
    return rows.map(toStored);
  }

  async search(query: SearchQuery): Promise<string[]> {
    const { sql, params } = buildSearchSql(query, () => '?', await this.plan(query));
    return (this.stmt(sql).all(...params) as { rid: string }[]).map((r) => r.rid);
  }

  async searchResources<T = any>(query: SearchQuery<T>): Promise<StoredResource<T>[]> {
    const { sql, params } = buildSearchResourcesSql(query, () => '?', await this.plan(query));
    return (this.stmt(sql).all(...params) as VersionRow[]).map(toStored);
  }

  /** Which criterion drives a search (sql.ts planSearch); a candidate's ranges are probed in index_rows. */
  private plan(query: SearchQuery): Promise<SearchPlan | undefined> {
    return planSearch(
      query,
      () => '?',
      'index-rows',
      async (sql, params) => Object.values(this.stmt(sql).get(...params) as Record<string, number>),
    );
  }

  async readRequest(requestId: string): Promise<RequestRecord | null> {
    const row = this.stmt(
      'SELECT request_id, user_id, method, path, digest, status, rtype, rid, version FROM request_log WHERE request_id = ?',
    ).get(requestId) as RequestRow | undefined;
    return row ? fromRequestRow(row) : null;
  }

  async count(type: string): Promise<number> {
    return (
      this.stmt('SELECT count(*) AS n FROM resources WHERE rtype = ?').get(type) as { n: number }
    ).n;
  }

  commit(batch: WriteBatch): Promise<StoredResource[]> {
    // in a span while tracing is on, which also gives the outbox messages their trace context
    return traceCommit('sqlite', batch, (traced) => this.commitBatch(traced));
  }

  private async commitBatch(batch: WriteBatch): Promise<StoredResource[]> {
    const startedAt = this.commitObservers.active ? performance.now() : undefined;
    const stored = this.commitSync(batch);
    if (startedAt !== undefined) this.commitObservers.committed(startedAt, batch);
    if (batch.messages?.length) this.messaging.committed();
    return stored;
  }

  observeCommits(observer: CommitObserver): () => void {
    return this.commitObservers.add(observer);
  }

  /** The database file and its WAL (the -shm index is a few pages and rebuilt at will). */
  async storeStats(): Promise<StoreStats> {
    const size = (path: string) => statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    const sizeBytes = this.file === ':memory:' ? 0 : size(this.file) + size(`${this.file}-wal`);
    return { sizeBytes, commitQueue: 0, pool: null };
  }

  private commitSync = (batch: WriteBatch): StoredResource[] => {
    return this.db
      .transaction(() => {
        const stored = (batch.resources ?? []).map((w) => {
          const now = new Date().toISOString();
          const indexRows = JSON.stringify(w.index.map((e) => [e.param, e.value]));
          let version: number;
          if (w.expectedVersion === 0) {
            const res = this.stmt(
              'INSERT INTO resources (rtype, rid, version, updated, index_rows) VALUES (?, ?, 1, ?, ?) ON CONFLICT DO NOTHING',
            ).run(w.type, w.id, now, indexRows);
            if (res.changes !== 1)
              throw new VersionConflictError(w.type, w.id, 0, this.currentVersion(w.type, w.id));
            version = 1;
          } else {
            const previous = this.stmt(
              'SELECT index_rows FROM resources WHERE rtype = ? AND rid = ? AND version = ?',
            ).get(w.type, w.id, w.expectedVersion) as { index_rows: string } | undefined;
            if (!previous)
              throw new VersionConflictError(
                w.type,
                w.id,
                w.expectedVersion,
                this.currentVersion(w.type, w.id),
              );
            this.stmt(
              'UPDATE resources SET version = version + 1, updated = ?, index_rows = ? WHERE rtype = ? AND rid = ?',
            ).run(now, indexRows, w.type, w.id);
            version = w.expectedVersion + 1;
            const remove = this.stmt(
              'DELETE FROM search_index WHERE rtype = ? AND param = ? AND value = ? AND rid = ?',
            );
            for (const [param, value] of JSON.parse(previous.index_rows) as [string, string][])
              remove.run(w.type, param, value, w.id);
            // rows a seed has staged for this resource describe version 1: not to be indexed later
            this.stmt(MARK_SUPERSEDED_SQL).run(w.type, w.id);
          }
          const resource = {
            ...w.resource,
            meta: { ...(w.resource.meta ?? {}), versionId: String(version), lastUpdated: now },
          };
          this.stmt(
            'INSERT INTO resource_versions (rtype, rid, version, updated, body) VALUES (?, ?, ?, ?, ?)',
          ).run(w.type, w.id, version, now, JSON.stringify(resource));
          const insertIndex = this.stmt(
            'INSERT OR IGNORE INTO search_index (rtype, param, value, rid) VALUES (?, ?, ?, ?)',
          );
          for (const e of w.index) insertIndex.run(w.type, e.param, e.value, w.id);
          return { type: w.type, id: w.id, version, lastUpdated: now, resource };
        });
        if (batch.request) {
          const r = batch.request;
          const res = this.stmt(
            `INSERT INTO request_log (request_id, user_id, method, path, digest, status, rtype, rid, version, recorded)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          ).run(
            r.requestId,
            r.userId,
            r.method,
            r.path,
            r.digest,
            r.status,
            r.resourceType,
            r.resourceId,
            r.version,
            new Date().toISOString(),
          );
          if (res.changes !== 1) throw new DuplicateRequestError(r.requestId);
        }
        // The head is read inside the write lock, so appends from other connections are never missed.
        if (batch.audit?.length) appendAuditRecords((sql) => this.stmt(sql), batch.audit);
        if (batch.messages?.length)
          this.messaging.insertOutbox(batch.messages, new Date().toISOString());
        return stored;
      })
      .immediate();
  };

  private currentVersion(type: string, id: string): number | null {
    const row = this.stmt('SELECT version FROM resources WHERE rtype = ? AND rid = ?').get(
      type,
      id,
    ) as { version: number } | undefined;
    return row?.version ?? null;
  }

  async close(): Promise<void> {
    await this.checkpoints?.stop();
    this.db.close();
  }
}
