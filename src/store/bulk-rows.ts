import { randomUUID } from 'node:crypto';
import type { ResourceWrite } from './resource-store.js';

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
