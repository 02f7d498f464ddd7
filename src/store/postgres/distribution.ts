/**
 * How each PostgreSQL table spreads over a distributed PostgreSQL (Citus; YugabyteDB hash-shards
 * the same keys). Patient-keyed tables are hash-distributed on the resource id, which for a Patient
 * is the NHS Number, and co-located with each other, so one patient's current row, its versions and
 * its index rows live on one shard and a PDS read or write touches one shard. Global, ordered logs
 * (audit chain, outbox) must stay single-ordered: they stay whole on the coordinator, as Citus local
 * tables that transactions can still mix with distributed ones.
 * test/store-distribution.test.ts checks every table of the schema is listed here and that each
 * distributed table's primary and unique keys include its distribution column (a Citus rule).
 */

export type TablePlacement =
  | { kind: 'distributed'; column: string; colocateWith?: string }
  | { kind: 'coordinator'; why: string };

export const TABLE_PLACEMENT: Readonly<Record<string, TablePlacement>> = {
  resources: { kind: 'distributed', column: 'rid' },
  resource_versions: { kind: 'distributed', column: 'rid', colocateWith: 'resources' },
  search_index: { kind: 'distributed', column: 'rid', colocateWith: 'resources' },
  audit_log: {
    kind: 'coordinator',
    why: 'one hash chain for the whole platform: its order is global',
  },
  audit_head: { kind: 'coordinator', why: 'the single chain-head row every appender locks' },
  audit_index: { kind: 'coordinator', why: 'searched by user, org and time across all patients' },
  audit_index_state: { kind: 'coordinator', why: 'single checkpoint row' },
  audit_checkpoints: { kind: 'coordinator', why: 'signed heads of the global chain' },
  request_log: {
    kind: 'coordinator',
    why: 'keyed by X-Request-ID, looked up before the patient is known',
  },
  outbox: {
    kind: 'coordinator',
    why: 'one commit-ordered sequence read by every consumer and the relay',
  },
  outbox_head: { kind: 'coordinator', why: 'the single sequence row commits with messages lock' },
  message_cursors: { kind: 'coordinator', why: 'one row per consumer name' },
  deliveries: { kind: 'coordinator', why: 'claimed in outbox order per consumer across all keys' },
  dead_letters: { kind: 'coordinator', why: 'small operator queue' },
  leases: { kind: 'coordinator', why: 'one row per cluster-wide job' },
  schema_migrations: { kind: 'coordinator', why: 'schema bookkeeping' },
};

/** The Citus statements that distribute a migrated OpenSpine schema (run once, as the schema owner). */
export function citusDistributionSql(): string[] {
  return Object.entries(TABLE_PLACEMENT).map(([table, placement]) =>
    placement.kind === 'distributed'
      ? `SELECT create_distributed_table('${table}', '${placement.column}'${placement.colocateWith ? `, colocate_with => '${placement.colocateWith}'` : ''});`
      : `SELECT citus_add_local_table_to_metadata('${table}');`,
  );
}
