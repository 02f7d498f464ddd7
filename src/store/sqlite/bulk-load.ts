import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { appendAuditRecords } from './audit-append.js';
import { BackgroundCheckpoints } from './background-checkpoints.js';
import { VersionConflictError, type AuditRecord, type ResourceWrite } from '../types.js';

/**
 * New resources (version 1) as rows ready for the embedded store, in parallel arrays. Each body is
 * bodyHeads[i] + lastUpdated + bodyTails[i]: the caller serialises documents (on another thread if it
 * likes) with meta.lastUpdated left open, and the loader fills in the commit time, as commit() does.
 */
export interface BulkRows {
  types: string[];
  ids: string[];
  /** JSON text of the resource's index entries as [param, value] pairs (resources.index_rows). */
  indexRows: string[];
  bodyHeads: string[];
  bodyTails: string[];
  /** The search_index rows as JSON text: an array of [type, param, value, id], ideally in key order. */
  indexJson?: string;
  /** Or (faster to insert: no JSON to parse) the search_index rows grouped by type and param. */
  indexGroups?: IndexGroup[];
}

/** Separates the values and ids of IndexGroup.rows; no index value or id may contain it. */
export const INDEX_SEPARATOR = '\u0000';

/** The search_index rows of one (type, param): rows is value, id, value, id, ... joined by INDEX_SEPARATOR. */
export interface IndexGroup {
  type: string;
  param: string;
  rows: string;
}

// Where lastUpdated goes in a serialised body: a marker no legacy or clinical text will hold
const OPEN = `\u0000openspine-bulk-${randomUUID()}`;
const OPEN_JSON = `"lastUpdated":${JSON.stringify(OPEN)}`;
const OPEN_AT = '"lastUpdated":"'.length;

/**
 * New-resource writes (expectedVersion 0) as BulkRows: each body is the document commit() would store,
 * {...resource, meta: {...meta, versionId: '1', lastUpdated}}, split where lastUpdated goes; the
 * search_index rows grouped by (type, param) and sorted within each group, so each batch walks the
 * index B-tree forwards (and each sort compares short keys).
 */
export function bulkRowsOf(writes: ResourceWrite[]): BulkRows {
  const n = writes.length;
  const rows: BulkRows = {
    types: new Array(n),
    ids: new Array(n),
    indexRows: new Array(n),
    bodyHeads: new Array(n),
    bodyTails: new Array(n),
    indexJson: '',
  };
  const groups = new Map<string, Map<string, string[]>>(); // type -> param -> 'value,"id"]' rows
  for (let i = 0; i < n; i++) {
    const w = writes[i];
    if (w.expectedVersion !== 0)
      throw new Error(
        `bulk load writes new resources only: ${w.type}/${w.id} expects version ${w.expectedVersion}`,
      );
    const json = JSON.stringify({
      ...w.resource,
      meta: { ...(w.resource.meta ?? {}), versionId: '1', lastUpdated: OPEN },
    });
    const at = json.indexOf(OPEN_JSON);
    if (at < 0) throw new Error(`could not place lastUpdated in ${w.type}/${w.id}`);
    rows.types[i] = w.type;
    rows.ids[i] = w.id;
    rows.bodyHeads[i] = json.slice(0, at + OPEN_AT);
    rows.bodyTails[i] = json.slice(at + OPEN_JSON.length - 1);
    const idTail = ',' + JSON.stringify(w.id) + ']';
    let byParam = groups.get(w.type);
    if (!byParam) groups.set(w.type, (byParam = new Map()));
    let pairs = '';
    for (let k = 0; k < w.index.length; k++) {
      const e = w.index[k];
      const value = JSON.stringify(e.value);
      pairs += (k ? ',[' : '[') + JSON.stringify(e.param) + ',' + value + ']';
      let members = byParam.get(e.param);
      if (!members) byParam.set(e.param, (members = []));
      members.push(value + idTail);
    }
    rows.indexRows[i] = '[' + pairs + ']';
  }
  const parts: string[] = [];
  for (const type of [...groups.keys()].sort()) {
    const byParam = groups.get(type)!;
    for (const param of [...byParam.keys()].sort()) {
      const prefix = '[' + JSON.stringify(type) + ',' + JSON.stringify(param) + ',';
      for (const member of byParam.get(param)!.sort()) parts.push(prefix + member);
    }
  }
  rows.indexJson = '[' + parts.join(',') + ']';
  return rows;
}

/** Two sets of rows as one, for one transaction. */
export function concatBulkRows(a: BulkRows, b: BulkRows): BulkRows {
  const index = [a.indexJson ?? '[]', b.indexJson ?? '[]']
    .map((j) => j.slice(1, -1))
    .filter(Boolean);
  return {
    types: a.types.concat(b.types),
    ids: a.ids.concat(b.ids),
    indexRows: a.indexRows.concat(b.indexRows),
    bodyHeads: a.bodyHeads.concat(b.bodyHeads),
    bodyTails: a.bodyTails.concat(b.bodyTails),
    indexJson: '[' + index.join(',') + ']',
    indexGroups: (a.indexGroups ?? []).concat(b.indexGroups ?? []),
  };
}

const CHUNK = 128; // rows per multi-row INSERT: one bind call carries many rows
const INDEX_CHUNK = 256; // search_index rows per multi-row INSERT (4 parameters each)
const values = (n: number, row: string): string => Array.from({ length: n }, () => row).join(', ');

/**
 * A second connection to the embedded store for loading many new resources fast (openspine seed):
 * multi-row INSERTs, the search index in one statement per batch through json_each, and one
 * transaction per batch with its audit entries appended to the chain exactly as commit() does.
 * It writes the same rows commit() would for expectedVersion 0, so reads and searches cannot tell
 * the difference; like commit(), a resource that already exists refuses the whole batch.
 */
export class SqliteBulkLoader {
  private readonly db: Database.Database;
  private readonly checkpoints: BackgroundCheckpoints | undefined;
  private readonly insertResources: Database.Statement;
  private readonly insertVersions: Database.Statement;
  private readonly insertResource: Database.Statement;
  private readonly insertVersion: Database.Statement;
  private readonly insertIndex: Database.Statement;
  private readonly insertIndexRows: Database.Statement;
  private readonly insertIndexRow: Database.Statement;

  /**
   * `file` must be a store the repository has already opened and migrated. `walPages`: let the
   * write-ahead log grow to this many pages before this connection copies it into the database
   * (SQLite's default is 1,000): a long load then copies each hot index page once per checkpoint
   * rather than once per batch. Call checkpoint() at the end to fold the log in. `backgroundCheckpoints`:
   * checkpoint on a thread of its own instead (see BackgroundCheckpoints), off the loading thread.
   */
  constructor(file: string, opts: { walPages?: number; backgroundCheckpoints?: boolean } = {}) {
    this.db = new Database(file, { fileMustExist: true });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('cache_size = -131072');
    if (opts.walPages !== undefined)
      this.db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor(opts.walPages))}`);
    if (opts.backgroundCheckpoints) this.checkpoints = new BackgroundCheckpoints(file, this.db);
    const resources = 'INSERT INTO resources (rtype, rid, version, updated, index_rows) VALUES ';
    const versions = 'INSERT INTO resource_versions (rtype, rid, version, updated, body) VALUES ';
    this.insertResources = this.db.prepare(resources + values(CHUNK, '(?, ?, 1, ?, ?)'));
    this.insertVersions = this.db.prepare(versions + values(CHUNK, '(?, ?, 1, ?, ?)'));
    this.insertResource = this.db.prepare(resources + '(?, ?, 1, ?, ?)');
    this.insertVersion = this.db.prepare(versions + '(?, ?, 1, ?, ?)');
    this.insertIndex = this.db.prepare(
      'INSERT OR IGNORE INTO search_index (rtype, param, value, rid) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)',
    );
    const index = 'INSERT OR IGNORE INTO search_index (rtype, param, value, rid) VALUES ';
    this.insertIndexRows = this.db.prepare(index + values(INDEX_CHUNK, '(?, ?, ?, ?)'));
    this.insertIndexRow = this.db.prepare(index + '(?, ?, ?, ?)');
  }

  private readonly statements = new Map<string, Database.Statement>();

  private prepared(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** The ids among `ids` that already exist as current resources of `type`. */
  existing(type: string, ids: string[]): Set<string> {
    const rows = this.db
      .prepare(
        'SELECT rid FROM resources WHERE rtype = ? AND rid IN (SELECT value FROM json_each(?))',
      )
      .all(type, JSON.stringify(ids)) as { rid: string }[];
    return new Set(rows.map((r) => r.rid));
  }

  /** Writes the rows and appends the audit records, all in one transaction. */
  load(rows: BulkRows, audit: AuditRecord[]): void {
    this.db
      .transaction(() => {
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
        if (rows.indexJson) this.insertIndex.run(rows.indexJson);
        if (rows.indexGroups) this.insertIndexGroups(rows.indexGroups);
        if (audit.length) appendAuditRecords((sql) => this.prepared(sql), audit);
      })
      .immediate();
  }

  /**
   * Commits new resources (expectedVersion 0 only) and audit records in one transaction, writing
   * what commit() would write; a resource that already exists refuses the whole batch with the
   * VersionConflictError commit() throws.
   */
  commitNew(writes: ResourceWrite[], audit: AuditRecord[]): void {
    this.load(bulkRowsOf(writes), audit);
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
  private insertIndexGroups(groups: IndexGroup[]): void {
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
        this.insertIndexRows.run(args);
      }
      for (; i < n; i++) this.insertIndexRow.run(type, param, parts[2 * i], parts[2 * i + 1]);
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

  /** Copies the write-ahead log into the database and empties it, as far as readers allow. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async close(): Promise<void> {
    await this.checkpoints?.stop();
    this.db.close();
  }
}
