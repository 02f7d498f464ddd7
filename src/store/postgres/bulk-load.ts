import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { AuditRecord } from '../../audit/types.js';
import type { BulkLoader } from '../bulk.js';
import { bulkRowsOf, type BulkRows } from '../bulk-rows.js';
import { VersionConflictError } from '../errors.js';
import type { ResourceWrite } from '../resource-store.js';
import { COMMIT_CALL, commitParameters } from './commit-function.js';
import { indexLines, resourceLines, versionLines } from './copy-lines.js';

/** As PostgresRepository accepts: the name goes into the connection's search_path. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;
const UNIQUE_VIOLATION = '23505';

/** Milliseconds spent in each step of load(), summed over the loader's batches. */
export interface BulkLoadTimings {
  resources: number;
  versions: number;
  index: number;
  audit: number;
  commit: number;
  batches: number;
}

/**
 * A connection of its own to the PostgreSQL store for loading many new resources fast (openspine
 * seed): per batch one transaction of COPY resources, COPY resource_versions, COPY search_index and
 * the audit entries appended to the chain by openspine_commit, the server-side function commit()
 * uses (commit-function.ts), so the chain has one implementation. It writes the rows commit() would
 * for expectedVersion 0; like commit(), a resource that already exists refuses the whole batch with
 * VersionConflictError and leaves nothing behind. Calls may overlap: they take turns on the connection.
 */
export class PostgresBulkLoader implements BulkLoader {
  private readonly client: pg.Client;
  private readonly connected: Promise<unknown>;
  private turn: Promise<unknown> = Promise.resolve();
  readonly timings: BulkLoadTimings = {
    resources: 0,
    versions: 0,
    index: 0,
    audit: 0,
    commit: 0,
    batches: 0,
  };

  /**
   * `databaseUrl` and `schema` as the repository was opened with; the store must already be migrated.
   * Commits stay synchronous: a batch's commit measured about 10 ms of its 7 s (the COPYs), so
   * synchronous_commit = off gained nothing worth a window of acknowledged-but-lost batches.
   */
  constructor(databaseUrl: string, schema = 'public') {
    if (!SCHEMA_NAME.test(schema))
      throw new Error(
        `invalid PostgreSQL schema name '${schema}': use lower-case letters, digits and _`,
      );
    this.client = new pg.Client({
      connectionString: databaseUrl,
      options: `-c search_path=${schema}`,
    });
    // a connection lost between batches is reported by the next call, not as an uncaught error
    this.client.on('error', () => {});
    this.connected = this.client.connect();
    this.connected.catch(() => {}); // awaited by every call
  }

  /** Runs fn when the calls before it have finished: one transaction at a time on the connection. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(async () => {
      await this.connected;
      return fn();
    });
    this.turn = run.catch(() => {});
    return run;
  }

  existing(type: string, ids: string[]): Promise<Set<string>> {
    return this.inTurn(async () => {
      const { rows } = await this.client.query<{ rid: string }>(
        'SELECT rid FROM resources WHERE rtype = $1 AND rid = ANY($2::text[])',
        [type, ids],
      );
      return new Set(rows.map((r) => r.rid));
    });
  }

  load(rows: BulkRows, audit: AuditRecord[]): Promise<void> {
    return this.inTurn(() => this.loadNow(rows, audit));
  }

  /** Writes what commit() would write for these new resources; see load(). */
  commitNew(writes: ResourceWrite[], audit: AuditRecord[]): Promise<void> {
    return this.load(bulkRowsOf(writes), audit);
  }

  /** Nothing is buffered on this side: each load() has committed when it returns. */
  async checkpoint(): Promise<void> {}

  /**
   * Vacuums and analyses what this loader wrote, if anything: a bulk load can multiply a table's
   * size between autovacuum's looks (and autovacuum may be off). A plan made for an empty
   * search_index reads the whole index for a trace, and until VACUUM sets the visibility map every
   * index-only scan (a trace's bounded counts and probes) also reads the heap row of each entry
   * (docs/scale-out.md: algorithmic p50 53 ms after ANALYZE alone at 10 million, 17 ms after VACUUM).
   */
  async close(): Promise<void> {
    await this.turn; // never rejects: inTurn keeps it caught
    await this.connected.then(
      async () => {
        if (this.timings.batches > 0)
          await this.client.query('VACUUM (ANALYZE) resources, resource_versions, search_index');
        await this.client.end();
      },
      () => {},
    );
  }

  private async loadNow(rows: BulkRows, audit: AuditRecord[]): Promise<void> {
    const t = this.timings;
    let at = performance.now();
    const lap = (): number => {
      const now = performance.now();
      const ms = now - at;
      at = now;
      return ms;
    };
    const now = new Date().toISOString();
    await this.client.query('BEGIN');
    try {
      await this.copy('resources (rtype, rid, version, updated)', resourceLines(rows, now));
      t.resources += lap();
      await this.copy(
        'resource_versions (rtype, rid, version, updated, body)',
        versionLines(rows, now),
      );
      t.versions += lap();
      await this.copy('search_index (rtype, param, value, rid)', indexLines(rows));
      t.index += lap();
      if (audit.length) await this.appendAudit(audit, now);
      t.audit += lap();
      await this.client.query('COMMIT');
      t.commit += lap();
      t.batches++;
    } catch (err) {
      await this.client.query('ROLLBACK').catch(() => {});
      if ((err as { code?: string }).code === UNIQUE_VIOLATION)
        throw await this.conflict(rows, err);
      throw err;
    }
  }

  private async copy(table: string, lines: Iterable<string>): Promise<void> {
    await pipeline(Readable.from(lines), this.client.query(copyFrom(`COPY ${table} FROM STDIN`)));
  }

  /** The chain append of commit(): openspine_commit with the audit entries and no resources. */
  private async appendAudit(audit: AuditRecord[], time: string): Promise<void> {
    const { rows } = await this.client.query<{ outcome: (string | null)[] }>(
      COMMIT_CALL,
      commitParameters([{ resources: [], audit, messages: [], time }]),
    );
    if (rows[0].outcome[0] !== null) throw new Error(`audit append refused: ${rows[0].outcome[0]}`);
  }

  /**
   * After a unique violation (the batch is rolled back): the resource of the batch that already
   * exists, refused as commit() refuses it. None found means the batch repeats a resource of its
   * own, and the database's error stands.
   */
  private async conflict(rows: BulkRows, err: unknown): Promise<unknown> {
    const { rows: found } = await this.client.query<{
      rtype: string;
      rid: string;
      version: number;
    }>(
      `SELECT r.rtype, r.rid, r.version FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS b(rtype, rid, n)
       JOIN resources r ON r.rtype = b.rtype AND r.rid = b.rid ORDER BY b.n LIMIT 1`,
      [rows.types, rows.ids],
    );
    if (!found.length) return err;
    return new VersionConflictError(found[0].rtype, found[0].rid, 0, found[0].version);
  }
}
