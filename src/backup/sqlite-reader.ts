import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { SqliteAuditStore } from '../store/sqlite/audit-store.js';

/** An SQLite store opened read-only: nothing is migrated, no journal mode is set, nothing is written. */
export interface ReadOnlySqlite {
  db: Database.Database;
  audit: SqliteAuditStore;
  close(): void;
}

export function openSqliteReadOnly(file: string): ReadOnlySqlite {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const statements = new Map<string, Database.Statement>();
  const stmt = (sql: string) => {
    let s = statements.get(sql);
    if (!s) statements.set(sql, (s = db.prepare(sql)));
    return s;
  };
  return { db, audit: new SqliteAuditStore(db, stmt), close: () => db.close() };
}
