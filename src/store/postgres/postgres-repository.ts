import pg from 'pg';
import { buildSearchResourcesSql, buildSearchSql, planSearch, type SearchPlan } from '../sql.js';
import { fromRequestRow, type RequestRecord, type RequestRow } from '../request-log.js';
import { DuplicateRequestError, VersionConflictError } from '../errors.js';
import type { AuditRecord } from '../../audit/types.js';
import type { Repository } from '../repository.js';
import type {
  ResourceType,
  SearchQuery,
  StoredJson,
  StoredResource,
  WriteBatch,
} from '../resource-store.js';
import { PostgresAuditStore } from './audit-store.js';
import {
  COMMIT_CALL,
  DUPLICATE_REQUEST_STATE,
  VERSION_CONFLICT_STATE,
  commitParameters,
  type PreparedBatch,
} from './commit-function.js';
import { GroupCommitter, type BatchOutcome } from './group-commit.js';
import { PreparingClient } from './preparing-client.js';
import { PostgresMessageStore } from './message-store.js';
import { POSTGRES_MIGRATIONS } from './schema.js';
import { traceCommit } from '../../observability/tracing-spans.js';
import { CommitObservers, type CommitObserver, type StoreStats } from '../store-metrics.js';

/** Schema names are interpolated into SQL and connection options, so only plain identifiers are accepted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/** Deadlocks and serialisation failures leave nothing behind: the whole batch is simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 3;

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
 * The server store: a pg Pool whose connections all use the configured schema (search_path set at
 * connection start, so every statement below names tables unqualified, as the SQLite store does).
 * Same rules as SqliteRepository; optimistic concurrency relies on row locks taken by
 * UPDATE ... WHERE version = expected under READ COMMITTED, so of two racing writers one updates
 * the row and the other re-checks the committed row, matches nothing and gets VersionConflictError.
 */
export class PostgresRepository implements Repository {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  readonly audit: PostgresAuditStore;
  readonly messaging: PostgresMessageStore;
  private readonly committer = new GroupCommitter((batches) => this.commitGroup(batches));
  private readonly commitObservers = new CommitObservers();
  private closed = false;

  constructor(
    databaseUrl: string,
    readonly schema: string = 'public',
  ) {
    if (!SCHEMA_NAME.test(schema))
      throw new Error(
        `invalid PostgreSQL schema name '${schema}': use lower-case letters, digits and _`,
      );
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      options: `-c search_path=${schema}`,
      Client: PreparingClient,
    });
    // An idle connection dropped by the server must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
    this.audit = new PostgresAuditStore(this.pool, (fn) => this.tx(fn));
    this.messaging = new PostgresMessageStore(
      this.pool,
      (fn) => this.tx(fn),
      (c, records) => this.appendAudit(c, records),
    );
  }

  /** Runs fn in one transaction on one connection; rolls back and rethrows on any error. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
      throw err;
    } finally {
      client.release(broken); // a connection that cannot even roll back is discarded, not reused
    }
  }

  async migrate(): Promise<void> {
    // Every step takes the same transaction-scoped advisory lock, so concurrent migrators (several
    // processes starting together) queue up and each re-checks what is already applied.
    const lock = (c: pg.PoolClient) =>
      c.query(`SELECT pg_advisory_xact_lock(hashtext('openspine.migrate'), hashtext($1))`, [
        this.schema,
      ]);
    await this.tx(async (c) => {
      await lock(c);
      // Checked first so a user without CREATE on the database can use a schema made for it.
      const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schema]);
      if (exists.rowCount === 0) await c.query(`CREATE SCHEMA "${this.schema}"`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)',
      );
    });
    for (const [i, sql] of POSTGRES_MIGRATIONS.entries()) {
      const version = i + 1;
      await this.tx(async (c) => {
        await lock(c);
        const done = await c.query('SELECT 1 FROM schema_migrations WHERE version = $1', [version]);
        if (done.rowCount !== 0) return;
        await c.query(sql);
        await c.query('INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)', [
          version,
          new Date().toISOString(),
        ]);
      });
    }
  }

  async schemaVersion(): Promise<{ applied: number; latest: number }> {
    const { rows } = await this.pool.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM schema_migrations',
    );
    return { applied: rows[0].v ?? 0, latest: POSTGRES_MIGRATIONS.length };
  }

  async read<T = any>(type: ResourceType<T>, id: string): Promise<StoredResource<T> | null> {
    const row = await this.readRow(type, id);
    return row ? toStored(row) : null;
  }

  async readJson(type: string, id: string): Promise<StoredJson | null> {
    const row = await this.readRow(type, id);
    return row ? { version: row.version, lastUpdated: row.updated, json: row.body } : null;
  }

  private async readRow(type: string, id: string): Promise<VersionRow | undefined> {
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT v.rtype, v.rid, v.version, v.updated, v.body FROM resources r
       JOIN resource_versions v ON v.rtype = r.rtype AND v.rid = r.rid AND v.version = r.version
       WHERE r.rtype = $1 AND r.rid = $2`,
      [type, id],
    );
    return rows[0];
  }

  /** Current versions of the ids that exist, in no particular order, in one round trip. */
  async readMany<T = any>(type: ResourceType<T>, ids: string[]): Promise<StoredResource<T>[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT v.rtype, v.rid, v.version, v.updated, v.body FROM resources r
       JOIN resource_versions v ON v.rtype = r.rtype AND v.rid = r.rid AND v.version = r.version
       WHERE r.rtype = $1 AND r.rid = ANY($2::text[])`,
      [type, ids],
    );
    return rows.map(toStored);
  }

  async readVersion<T = any>(
    type: ResourceType<T>,
    id: string,
    version: number,
  ): Promise<StoredResource<T> | null> {
    const { rows } = await this.pool.query<VersionRow>(
      'SELECT rtype, rid, version, updated, body FROM resource_versions WHERE rtype = $1 AND rid = $2 AND version = $3',
      [type, id, version],
    );
    return rows.length ? toStored(rows[0]) : null;
  }

  async history<T = any>(type: ResourceType<T>, id: string): Promise<StoredResource<T>[]> {
    const { rows } = await this.pool.query<VersionRow>(
      'SELECT rtype, rid, version, updated, body FROM resource_versions WHERE rtype = $1 AND rid = $2 ORDER BY version DESC',
      [type, id],
    );
    return rows.map(toStored);
  }

  async search(query: SearchQuery): Promise<string[]> {
    const { sql, params } = buildSearchSql(query, (n) => '$' + n, await this.plan(query));
    const { rows } = await this.pool.query<{ rid: string }>(sql, params);
    return rows.map((r) => r.rid);
  }

  async searchResources<T = any>(query: SearchQuery<T>): Promise<StoredResource<T>[]> {
    const { sql, params } = buildSearchResourcesSql(query, (n) => '$' + n, await this.plan(query));
    const { rows } = await this.pool.query<VersionRow>(sql, params);
    return rows.map(toStored);
  }

  /** Which criterion drives a search (sql.ts planSearch); a candidate's ranges are probed by rid. */
  private plan(query: SearchQuery): Promise<SearchPlan | undefined> {
    return planSearch(
      query,
      (n) => '$' + n,
      'by-resource',
      async (sql, params) => {
        const { rows } = await this.pool.query<Record<string, string>>(sql, params);
        return Object.values(rows[0]).map(Number);
      },
    );
  }

  async readRequest(requestId: string): Promise<RequestRecord | null> {
    const { rows } = await this.pool.query<RequestRow>(
      'SELECT request_id, user_id, method, path, digest, status, rtype, rid, version FROM request_log WHERE request_id = $1',
      [requestId],
    );
    return rows.length ? fromRequestRow(rows[0]) : null;
  }

  async count(type: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM resources WHERE rtype = $1',
      [type],
    );
    return Number(rows[0].n);
  }

  /**
   * Each batch goes to openspine_commit (commit-function.ts) with whatever other batches of this
   * process are waiting (GroupCommitter), in one implicit transaction per group: one round trip, and
   * the audit and outbox head locks are held only inside the server.
   */
  commit(batch: WriteBatch): Promise<StoredResource[]> {
    // in a span while tracing is on, which also gives the outbox messages their trace context
    return traceCommit('postgres', batch, (traced) => this.commitBatch(traced));
  }

  private async commitBatch(batch: WriteBatch): Promise<StoredResource[]> {
    const startedAt = this.commitObservers.active ? performance.now() : undefined;
    const time = new Date().toISOString();
    const resources = (batch.resources ?? []).map((write) => {
      const version = write.expectedVersion + 1;
      const resource = {
        ...write.resource,
        meta: { ...(write.resource.meta ?? {}), versionId: String(version), lastUpdated: time },
      };
      return { write, resource, body: JSON.stringify(resource), updated: time, version };
    });
    const outcome = await this.committer.submit({
      resources,
      request: batch.request,
      audit: batch.audit ?? [],
      messages: batch.messages ?? [],
      time,
    });
    if (outcome !== null) throw await this.refusal(outcome, batch);
    if (startedAt !== undefined) this.commitObservers.committed(startedAt, batch);
    if (batch.messages?.length) this.messaging.committed();
    return resources.map((r) => ({
      type: r.write.type,
      id: r.write.id,
      version: r.version,
      lastUpdated: time,
      resource: r.resource,
    }));
  }

  observeCommits(observer: CommitObserver): () => void {
    return this.commitObservers.add(observer);
  }

  /** pg_database_size, the group-commit queue, and the pool's connections (read-only). */
  async storeStats(): Promise<StoreStats> {
    // taken before the size query, which itself borrows a connection
    const pool = {
      total: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
    const commitQueue = this.committer.waiting;
    const { rows } = await this.pool.query<{ bytes: string }>(
      'SELECT pg_database_size(current_database()) AS bytes',
    );
    return { sizeBytes: Number(rows[0].bytes), commitQueue, pool };
  }

  /**
   * Runs one group as its own statement; deadlocks and serialisation failures leave nothing behind,
   * so the group is simply run again. Inside a caller's transaction (`client`) it runs once: a
   * failure there aborts the caller's whole transaction, which is the caller's to retry.
   */
  private async commitGroup(
    batches: PreparedBatch[],
    client?: pg.PoolClient,
  ): Promise<BatchOutcome[]> {
    const values = commitParameters(batches);
    const attempts = client ? 1 : MAX_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      try {
        const { rows } = await (client ?? this.pool).query<{ outcome: BatchOutcome[] }>({
          name: 'openspine_commit',
          text: COMMIT_CALL,
          values,
        });
        return rows[0].outcome;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < attempts) continue;
        throw err;
      }
    }
  }

  /** The typed error for a refused batch. */
  private async refusal(outcome: string, batch: WriteBatch): Promise<Error> {
    const state = outcome.slice(0, 5);
    const detail = outcome.slice(6);
    if (state === VERSION_CONFLICT_STATE) {
      const d = JSON.parse(detail) as {
        type: string;
        id: string;
        expected: number;
        found: number | null;
      };
      return new VersionConflictError(d.type, d.id, d.expected, d.found);
    }
    if (state === DUPLICATE_REQUEST_STATE)
      return new DuplicateRequestError(batch.request!.requestId);
    // unique_violation: another writer got there first, the same refusal as a stale version
    const writes = batch.resources ?? [];
    const w = writes.find((x) => detail.includes(`${x.type}, ${x.id}`)) ?? writes[0];
    if (!w) return new Error(`write refused by the database: ${outcome}`);
    return new VersionConflictError(
      w.type,
      w.id,
      w.expectedVersion,
      await this.currentVersion(w.type, w.id),
    );
  }

  private async currentVersion(type: string, id: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ version: number }>(
      'SELECT version FROM resources WHERE rtype = $1 AND rid = $2',
      [type, id],
    );
    return rows.length ? rows[0].version : null;
  }

  /** Appends to the hash chain inside a caller's transaction, through the same server-side function as commit(). */
  private async appendAudit(c: pg.PoolClient, records: AuditRecord[]): Promise<void> {
    const [outcome] = await this.commitGroup(
      [{ resources: [], audit: records, messages: [], time: new Date().toISOString() }],
      c,
    );
    if (outcome !== null) throw new Error(`audit append refused: ${outcome}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
