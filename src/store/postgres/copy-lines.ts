import { INDEX_SEPARATOR, type BulkRows, type IndexGroup } from '../bulk-rows.js';

/**
 * BulkRows as the lines of COPY ... FROM STDIN in PostgreSQL's text format, yielded in chunks of
 * about CHUNK_CHARS characters so a batch is streamed to the server rather than built as one string
 * per table (bounded memory, and the server inserts while the next chunk is made).
 */
const CHUNK_CHARS = 1 << 18;

// In the text format a backslash starts an escape and tab, newline and carriage return end a field
// or a row; every other character, non-ASCII included, is taken as it is.
const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const escapeOne = (c: string): string => ESCAPES[c];

/** One field of a text-format COPY line. */
export function copyField(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, escapeOne) : value;
}

/** Joins lines into chunks of about CHUNK_CHARS. */
function* chunked(lines: Iterable<string>): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** resources (rtype, rid, version, updated): version 1 at the commit time. */
export function resourceLines(rows: BulkRows, now: string): Iterable<string> {
  return chunked(
    (function* () {
      for (let i = 0; i < rows.ids.length; i++)
        yield copyField(rows.types[i]) + '\t' + copyField(rows.ids[i]) + '\t1\t' + now + '\n';
    })(),
  );
}

/** resource_versions (rtype, rid, version, updated, body): the document with lastUpdated filled in. */
export function versionLines(rows: BulkRows, now: string): Iterable<string> {
  const at = '\t1\t' + now + '\t';
  return chunked(
    (function* () {
      for (let i = 0; i < rows.ids.length; i++)
        yield (
          copyField(rows.types[i]) +
          '\t' +
          copyField(rows.ids[i]) +
          at +
          copyField(rows.bodyHeads[i]) +
          now +
          copyField(rows.bodyTails[i]) +
          '\n'
        );
    })(),
  );
}

/**
 * search_index (rtype, param, value, rid), from indexGroups and indexJson. commit() inserts index
 * rows with ON CONFLICT DO NOTHING, so a row repeated within the batch is written once here (COPY
 * would refuse it): within a sorted group repeats are adjacent, otherwise a set finds them.
 */
export function indexLines(rows: BulkRows): Iterable<string> {
  return chunked(
    (function* () {
      for (const group of rows.indexGroups ?? []) yield* groupLines(group);
      if (rows.indexJson) yield* jsonLines(rows.indexJson);
    })(),
  );
}

function* groupLines({ type, param, rows }: IndexGroup): Generator<string> {
  if (!rows) return;
  const parts = rows.split(INDEX_SEPARATOR);
  const prefix = copyField(type) + '\t' + copyField(param) + '\t';
  let sorted = true;
  for (let p = 2; p < parts.length && sorted; p += 2)
    sorted = parts[p] > parts[p - 2] || (parts[p] === parts[p - 2] && parts[p + 1] >= parts[p - 1]);
  const seen = sorted ? undefined : new Set<string>();
  for (let p = 0; p < parts.length; p += 2) {
    const value = parts[p];
    const id = parts[p + 1];
    if (sorted) {
      if (p > 0 && value === parts[p - 2] && id === parts[p - 1]) continue;
    } else {
      const key = value + INDEX_SEPARATOR + id;
      if (seen!.has(key)) continue;
      seen!.add(key);
    }
    yield prefix + copyField(value) + '\t' + copyField(id) + '\n';
  }
}

function* jsonLines(json: string): Generator<string> {
  const seen = new Set<string>();
  for (const [type, param, value, id] of JSON.parse(json) as string[][]) {
    const line =
      copyField(type) + '\t' + copyField(param) + '\t' + copyField(value) + '\t' + copyField(id);
    if (seen.has(line)) continue;
    seen.add(line);
    yield line + '\n';
  }
}
