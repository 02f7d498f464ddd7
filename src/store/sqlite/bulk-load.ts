import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import type { AuditRecord } from '../../audit/types.js';
import type { BulkLoader } from '../bulk.js';
import { bulkRowsOf, INDEX_SEPARATOR, type BulkRows, type IndexGroup } from '../bulk-rows.js';
import { VersionConflictError } from '../errors.js';
import type { ResourceWrite } from '../resource-store.js';
import { appendAuditRecords } from './audit-append.js';
import { BackgroundCheckpoints } from './background-checkpoints.js';
import {
  CREATE_STAGED_TABLE,
  indexPendingRows,
  markPending,
  STAGED_TABLE,
} from './staged-index.js';

/**
 * The write-ahead log size after which a batch ends with a blocking checkpoint, whatever else is
 * checkpointing. The log restarts only once a checkpoint has caught up with it, and a checkpointer
 * thread racing a loader that never pauses rarely does: the log grew to 42 GB by 4 million patients
 * of a 10-million seed before this bound.
 */
const WAL_BOUND_BYTES = 4 * 2 ** 30;
const CHUNK = 128; // rows per multi-row INSERT: one bind call carries many rows
const INDEX_CHUNK = 256; // search_index rows per multi-row INSERT (4 parameters each)
const values = (n: number, row: string): string => Array.from({ length: n }, () => row).join(', ');

interface IndexStatements {
  json: Database.Statement;
  many: Database.Statement;
  one: Database.Statement;
}

/**
 * A second connection to the embedded store for loading many new resources fast (openspine seed):
 * multi-row INSERTs, the search index in one statement per batch through json_each, and one
 * transaction per batch with its audit entries appended to the chain exactly as commit() does.
 * It writes the same rows commit() would for expectedVersion 0, so reads and searches cannot tell
 * the difference; like commit(), a resource that already exists refuses the whole batch.
 */
export class SqliteBulkLoader implements BulkLoader {
  private readonly db: Database.Database;
  private readonly checkpoints: BackgroundCheckpoints | undefined;
  private readonly insertResources: Database.Statement;
  private readonly insertVersions: Database.Statement;
  private readonly insertResource: Database.Statement;
  private readonly insertVersion: Database.Statement;
  /** search_index rows into the index itself, and (stageIndex) into this connection's staging table. */
  private readonly indexInto: IndexStatements;
  private readonly stageInto: IndexStatements | undefined;

  /**
   * `file` must be a store the repository has already opened and migrated. `walPages`: let the
   * write-ahead log grow to this many pages before this connection copies it into the database
   * (SQLite's default is 1,000): a long load then copies each hot index page once per checkpoint
   * rather than once per batch. Call checkpoint() at the end to fold the log in. `backgroundCheckpoints`:
   * checkpoint on a thread of its own instead (see BackgroundCheckpoints), off the loading thread.
   */
  constructor(
    private readonly file: string,
    opts: {
      walPages?: number;
      backgroundCheckpoints?: boolean;
      cacheMiB?: number;
      stageIndex?: boolean;
    } = {},
  ) {
    this.db = new Database(file, { fileMustExist: true });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma(`cache_size = -${Math.max(1, Math.floor(opts.cacheMiB ?? 128)) * 1024}`);
    if (opts.walPages !== undefined)
      this.db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor(opts.walPages))}`);
    if (opts.backgroundCheckpoints) this.checkpoints = new BackgroundCheckpoints(file, this.db);
    const resources = 'INSERT INTO resources (rtype, rid, version, updated, index_rows) VALUES ';
    const versions = 'INSERT INTO resource_versions (rtype, rid, version, updated, body) VALUES ';
    this.insertResources = this.db.prepare(resources + values(CHUNK, '(?, ?, 1, ?, ?)'));
    this.insertVersions = this.db.prepare(versions + values(CHUNK, '(?, ?, 1, ?, ?)'));
    this.insertResource = this.db.prepare(resources + '(?, ?, 1, ?, ?)');
    this.insertVersion = this.db.prepare(versions + '(?, ?, 1, ?, ?)');
    this.indexInto = this.indexStatements('INSERT OR IGNORE INTO search_index');
    if (opts.stageIndex) {
      // staged rows go into search_index at indexStaged(), sorted, which also drops repeats
      this.db.exec(CREATE_STAGED_TABLE);
      this.stageInto = this.indexStatements(`INSERT INTO ${STAGED_TABLE}`);
    }
  }

  private indexStatements(into: string): IndexStatements {
    const index = `${into} (rtype, param, value, rid) VALUES `;
    return {
      json: this.db.prepare(
        `${into} (rtype, param, value, rid) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`,
      ),
      many: this.db.prepare(index + values(INDEX_CHUNK, '(?, ?, ?, ?)')),
      one: this.db.prepare(index + '(?, ?, ?, ?)'),
    };
  }

  private readonly statements = new Map<string, Database.Statement>();
  /** The pending mark this loader set and stages under (staged-index.ts), once committed. */
  private stagedFrom: number | undefined;

  private prepared(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** The ids among `ids` that already exist as current resources of `type`. */
  async existing(type: string, ids: string[]): Promise<Set<string>> {
    const rows = this.db
      .prepare(
        'SELECT rid FROM resources WHERE rtype = ? AND rid IN (SELECT value FROM json_each(?))',
      )
      .all(type, JSON.stringify(ids)) as { rid: string }[];
    return new Set(rows.map((r) => r.rid));
  }

  /**
   * Writes the rows and appends the audit records, all in one transaction. The work is synchronous,
   * done before the promise is returned; the promise is for the BulkLoader interface.
   */
  async load(rows: BulkRows, audit: AuditRecord[]): Promise<void> {
    let staging: number | undefined;
    this.db
      .transaction(() => {
        staging = this.stagingMark();
        const index = staging === undefined ? this.indexInto : this.stageInto!;
        const now = new Date().toISOString();
        this.insertChunks(
          rows,
          (i) => [rows.types[i], rows.ids[i], now, rows.indexRows[i]],
          this.insertResources,
          this.insertResource,
        );
        this.insertChunks(
          rows,
          (i) => [rows.types[i], rows.ids[i], now, rows.bodyHeads[i] + now + rows.bodyTails[i]],
          this.insertVersions,
          this.insertVersion,
        );
        if (rows.indexJson) index.json.run(rows.indexJson);
        if (rows.indexGroups) this.insertIndexGroups(rows.indexGroups, index);
        if (audit.length) appendAuditRecords((sql) => this.prepared(sql), audit);
      })
      .immediate();
    if (staging !== undefined) this.stagedFrom = staging; // only once the batch is in
    if ((statSync(this.file + '-wal', { throwIfNoEntry: false })?.size ?? 0) > WAL_BOUND_BYTES)
      this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /**
   * Commits new resources (expectedVersion 0 only) and audit records in one transaction, writing
   * what commit() would write; a resource that already exists refuses the whole batch with the
   * VersionConflictError commit() throws.
   */
  async commitNew(writes: ResourceWrite[], audit: AuditRecord[]): Promise<void> {
    await this.load(bulkRowsOf(writes), audit);
  }

  private insertChunks(
    rows: BulkRows,
    row: (i: number) => string[],
    many: Database.Statement,
    one: Database.Statement,
  ): void {
    const n = rows.ids.length;
    const args: string[] = new Array(CHUNK * 4);
    let i = 0;
    for (; i + CHUNK <= n; i += CHUNK) {
      for (let k = 0; k < CHUNK; k++) {
        const r = row(i + k);
        args[4 * k] = r[0];
        args[4 * k + 1] = r[1];
        args[4 * k + 2] = r[2];
        args[4 * k + 3] = r[3];
      }
      this.guarded(rows, i, i + CHUNK, () => many.run(args));
    }
    for (; i < n; i++) this.guarded(rows, i, i + 1, () => one.run(row(i)));
  }

  /** search_index rows bound as parameters, many per statement: SQLite has no JSON to parse. */
  private insertIndexGroups(groups: IndexGroup[], index: IndexStatements): void {
    const args: string[] = new Array(INDEX_CHUNK * 4);
    for (const { type, param, rows } of groups) {
      if (!rows) continue;
      const parts = rows.split(INDEX_SEPARATOR);
      const n = parts.length >> 1;
      let i = 0;
      for (; i + INDEX_CHUNK <= n; i += INDEX_CHUNK) {
        for (let k = 0, p = 2 * i; k < INDEX_CHUNK; k++, p += 2) {
          args[4 * k] = type;
          args[4 * k + 1] = param;
          args[4 * k + 2] = parts[p];
          args[4 * k + 3] = parts[p + 1];
        }
        index.many.run(args);
      }
      for (; i < n; i++) index.one.run(type, param, parts[2 * i], parts[2 * i + 1]);
    }
  }

  /**
   * Runs one INSERT of rows[from, to). A failed statement leaves none of its rows behind, so a
   * primary key clash names a resource that was there before: refused as commit() refuses it.
   */
  private guarded(rows: BulkRows, from: number, to: number, insert: () => unknown): void {
    try {
      insert();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw err;
      const current = this.db.prepare('SELECT version FROM resources WHERE rtype = ? AND rid = ?');
      for (let i = from; i < to; i++) {
        const row = current.get(rows.types[i], rows.ids[i]) as { version: number } | undefined;
        if (row) throw new VersionConflictError(rows.types[i], rows.ids[i], 0, row.version);
      }
      throw err;
    }
  }

  /**
   * Puts the search-index rows this loader staged into the index in one sorted pass, or, if its
   * mark was replaced meanwhile, rebuilds whatever is pending from the resources (staged-index.ts);
   * then folds the write-ahead log in. Returns the rows added.
   */
  async indexStaged(): Promise<number> {
    if (this.stagedFrom === undefined) return 0;
    const added = indexPendingRows(this.db, this.stagedFrom);
    this.db.exec(`DELETE FROM ${STAGED_TABLE}`);
    this.stagedFrom = undefined;
    await this.checkpoint();
    return added;
  }

  /**
   * Inside a batch's transaction, before its resources: the pending mark this batch stages under,
   * or undefined when its index rows go straight into search_index. A loader stages only under a
   * mark it set itself, so its staging table holds the rows of every staged resource since the
   * mark. If another loader's mark is in place, this one writes its rows directly. If its own mark
   * was taken away (another process opened the store and rebuilt those rows from the resources), it
   * sets a new one and empties its staging table, whose rows are all indexed by then.
   */
  private stagingMark(): number | undefined {
    if (!this.stageInto) return undefined;
    const mark = markPending(this.db);
    if (mark.set) this.db.exec(`DELETE FROM ${STAGED_TABLE}`);
    return mark.set || mark.fromRowid === this.stagedFrom ? mark.fromRowid : undefined;
  }

  /** Copies the write-ahead log into the database and empties it, as far as readers allow. */
  async checkpoint(): Promise<void> {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async close(): Promise<void> {
    await this.checkpoints?.stop();
    this.db.close();
  }
}
