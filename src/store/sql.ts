import type { IndexCondition, SearchCriterion, SearchOp, SearchQuery } from './resource-store.js';

/** SQL shared by both stores; `p(n)` renders the n-th placeholder in the dialect ('?' or '$n'). */

const OPS: Record<Exclude<SearchOp, 'prefix'>, string> = {
  eq: '=',
  ge: '>=',
  le: '<=',
  gt: '>',
  lt: '<',
};

/** The smallest string greater than every string starting with `prefix` (for index-friendly prefix ranges). */
export function prefixUpperBound(prefix: string): string {
  return prefix + '\uffff';
}

/**
 * How a search with several criteria runs (docs/pds.md, "How a trace finds its candidates"): the
 * rows of one criterion, the driver, are read from the index, and every other criterion is checked
 * per candidate with a probe that touches only that candidate's rows. The work is then
 * proportional to the driver's matches, not to how many resources the store holds. An INTERSECT
 * would read every criterion in full: 'gender = female' alone is half the register.
 */
export interface SearchPlan {
  /** The criterion whose index rows are read. */
  driver: number;
  /**
   * How a range or prefix condition is checked for one candidate: 'index-rows' reads the
   * candidate's own index entries from resources.index_rows (the embedded store), 'by-resource'
   * reads its search_index rows through the (rtype, rid) index (PostgreSQL). An equality is a
   * point lookup in the primary key either way.
   */
  probe: 'index-rows' | 'by-resource';
}

type Placeholder = (n: number) => string;

/** The columns a condition is tested on: search_index's own, or a candidate's index_rows entry. */
interface ConditionColumns {
  rtype: string;
  param: string;
  value: string;
}

const indexColumns = (alias = ''): ConditionColumns => ({
  rtype: alias + 'rtype',
  param: alias + 'param',
  value: alias + 'value',
});

function conditionSql(
  c: IndexCondition,
  add: (v: unknown) => string,
  type: string,
  col: ConditionColumns = indexColumns(),
): string {
  const head = `${col.rtype} = ${add(type)} AND ${col.param} = ${add(c.param)} AND `;
  if (c.op === 'prefix')
    return (
      head + `${col.value} >= ${add(c.value)} AND ${col.value} < ${add(prefixUpperBound(c.value))}`
    );
  return head + `${col.value} ${OPS[c.op]} ${add(c.value)}`;
}

/** One condition checked for the candidate d.rid alone. */
function probeSql(
  c: IndexCondition,
  add: (v: unknown) => string,
  type: string,
  probe: SearchPlan['probe'],
): string {
  // OFFSET 0 keeps PostgreSQL from turning an EXISTS under OR into a hashed subplan, which reads
  // every row of the condition (all 'phonetic = S150', 84,000 of them at 10M) to probe 30 candidates
  const fence = probe === 'by-resource' ? ' OFFSET 0' : '';
  const x = indexColumns('x.');
  if (c.op === 'eq')
    return `EXISTS (SELECT 1 FROM search_index x WHERE ${conditionSql(c, add, type, x)} AND x.rid = d.rid${fence})`;
  if (probe === 'by-resource')
    return `EXISTS (SELECT 1 FROM search_index x WHERE x.rid = d.rid AND ${conditionSql(c, add, type, x)}${fence})`;
  const entry = { rtype: 'r.rtype', param: '(j.value ->> 0)', value: '(j.value ->> 1)' };
  return `EXISTS (SELECT 1 FROM resources r, json_each(r.index_rows) j WHERE r.rid = d.rid AND ${conditionSql(c, add, type, entry)})`;
}

/** Placeholders numbered in the order their values are added ('?' is positional). */
function parameters(p: Placeholder): { params: unknown[]; add: (v: unknown) => string } {
  const params: unknown[] = [];
  return {
    params,
    add: (v) => {
      params.push(v);
      return p(params.length);
    },
  };
}

/**
 * Builds an id query: each criterion is a UNION of index lookups. Without a plan the criteria are
 * INTERSECTed (one criterion, or a caller that wants the simple form); with one, the driver's ids
 * are read and each other criterion is probed per candidate (SearchPlan). No document is read.
 */
export function buildSearchSql(
  query: SearchQuery,
  p: Placeholder,
  plan?: SearchPlan,
): { sql: string; params: unknown[] } {
  if (query.criteria.length === 0) throw new Error('a search needs at least one criterion');
  if (query.criteria.some((c) => c.any.length === 0))
    throw new Error('a criterion needs at least one condition');
  const { params, add } = parameters(p);
  // DISTINCT: one resource can hold several rows in a range (two given names starting 'Jo')
  const union = (criterion: SearchCriterion) =>
    criterion.any
      .map((c) => `SELECT DISTINCT rid FROM search_index WHERE ${conditionSql(c, add, query.type)}`)
      .join(' UNION ');
  if (!plan || query.criteria.length === 1) {
    const parts = query.criteria.map(
      (criterion, i) => `SELECT rid FROM (${union(criterion)}) AS c${i}`,
    );
    const sql = `SELECT rid FROM (${parts.join(' INTERSECT ')}) AS hits ORDER BY rid LIMIT ${add(query.limit)}`;
    return { sql, params };
  }
  const driver = union(query.criteria[plan.driver]);
  const probes = query.criteria
    .filter((_, i) => i !== plan.driver)
    .map(
      (criterion) =>
        '(' + criterion.any.map((c) => probeSql(c, add, query.type, plan.probe)).join(' OR ') + ')',
    );
  const sql = `SELECT d.rid AS rid FROM (${driver}) AS d WHERE ${probes.join(' AND ')} ORDER BY d.rid LIMIT ${add(query.limit)}`;
  return { sql, params };
}

/** Index rows counted per condition before the count stops: enough to tell a few from many. */
const FIRST_COUNT_CAP = 1_000;
/** When every criterion has that many, a second count up to this tells which has fewest. */
const SECOND_COUNT_CAP = 100_000;

/**
 * One statement giving, per criterion, how many index rows its conditions match, each condition
 * counted only up to `cap` (a bounded range scan: cheap whatever the register's size).
 */
export function buildCriterionCountsSql(
  query: SearchQuery,
  p: Placeholder,
  cap: number,
): { sql: string; params: unknown[] } {
  const { params, add } = parameters(p);
  const columns = query.criteria.map((criterion, i) => {
    const counts = criterion.any.map(
      (c) =>
        `(SELECT count(*) FROM (SELECT 1 FROM search_index WHERE ${conditionSql(c, add, query.type)} LIMIT ${add(cap)}) AS k)`,
    );
    return `${counts.join(' + ')} AS n${i}`;
  });
  return { sql: `SELECT ${columns.join(', ')}`, params };
}

/**
 * The plan of a search with several criteria: the criterion with the fewest index rows drives,
 * found by bounded counts (up to FIRST_COUNT_CAP per condition, then SECOND_COUNT_CAP when every
 * criterion reached the first), unless the caller named one (SearchCriterion.drive). `counts` runs
 * a buildCriterionCountsSql statement.
 */
export async function planSearch(
  query: SearchQuery,
  p: Placeholder,
  probe: SearchPlan['probe'],
  counts: (sql: string, params: unknown[]) => Promise<number[]>,
): Promise<SearchPlan | undefined> {
  if (query.criteria.length < 2) return undefined;
  const named = query.criteria.findIndex((c) => c.drive);
  if (named !== -1) return { driver: named, probe };
  let cap = FIRST_COUNT_CAP;
  for (;;) {
    const { sql, params } = buildCriterionCountsSql(query, p, cap);
    const n = await counts(sql, params);
    let driver = 0;
    for (let i = 1; i < n.length; i++) if (n[i] < n[driver]) driver = i;
    const reachedCap = n.every((count) => count >= cap);
    if (!reachedCap || cap >= SECOND_COUNT_CAP) return { driver, probe };
    cap = SECOND_COUNT_CAP;
  }
}

/**
 * The current versions of the resources a search finds, in id order, in one statement: the id query
 * of buildSearchSql joined to each resource's current version.
 */
export function buildSearchResourcesSql(
  query: SearchQuery,
  p: Placeholder,
  plan?: SearchPlan,
): { sql: string; params: unknown[] } {
  const ids = buildSearchSql(query, p, plan);
  const type = p(ids.params.length + 1);
  const sql = `SELECT v.rtype, v.rid, v.version, v.updated, v.body FROM (${ids.sql}) AS found
     JOIN resources r ON r.rtype = ${type} AND r.rid = found.rid
     JOIN resource_versions v ON v.rtype = r.rtype AND v.rid = r.rid AND v.version = r.version
     ORDER BY found.rid`;
  return { sql, params: [...ids.params, query.type] };
}
