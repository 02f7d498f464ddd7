import type { SearchOp, SearchQuery } from './resource-store.js';

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
 * Builds an id query: each criterion is a UNION of index lookups, the criteria are INTERSECTed.
 * Every lookup is an index range scan on (rtype, param, value); no document is read.
 */
export function buildSearchSql(
  query: SearchQuery,
  p: (n: number) => string,
): { sql: string; params: unknown[] } {
  if (query.criteria.length === 0) throw new Error('a search needs at least one criterion');
  const params: unknown[] = [];
  const add = (v: unknown) => {
    params.push(v);
    return p(params.length);
  };
  const parts = query.criteria.map((criterion, i) => {
    if (criterion.any.length === 0) throw new Error('a criterion needs at least one condition');
    const lookups = criterion.any.map((c) => {
      const head = `SELECT rid FROM search_index WHERE rtype = ${add(query.type)} AND param = ${add(c.param)} AND `;
      if (c.op === 'prefix')
        return head + `value >= ${add(c.value)} AND value < ${add(prefixUpperBound(c.value))}`;
      return head + `value ${OPS[c.op]} ${add(c.value)}`;
    });
    return `SELECT rid FROM (${lookups.join(' UNION ')}) AS c${i}`;
  });
  const sql = `SELECT rid FROM (${parts.join(' INTERSECT ')}) AS hits ORDER BY rid LIMIT ${add(query.limit)}`;
  return { sql, params };
}

/**
 * The current versions of the resources a search finds, in id order, in one statement: the id query
 * of buildSearchSql joined to each resource's current version.
 */
export function buildSearchResourcesSql(
  query: SearchQuery,
  p: (n: number) => string,
): { sql: string; params: unknown[] } {
  const ids = buildSearchSql(query, p);
  const type = p(ids.params.length + 1);
  const sql = `SELECT v.rtype, v.rid, v.version, v.updated, v.body FROM (${ids.sql}) AS found
     JOIN resources r ON r.rtype = ${type} AND r.rid = found.rid
     JOIN resource_versions v ON v.rtype = r.rtype AND v.rid = r.rid AND v.version = r.version
     ORDER BY found.rid`;
  return { sql, params: [...ids.params, query.type] };
}
