/**
 * Reading the published ODS CSV extracts (NHS Digital / TRUD "epraccur", "edispensary", "etr").
 *
 * The extracts have no header row and 27 columns in the ODS standard layout (1-based, per the ODS
 * data dictionary):
 *    1 Organisation Code            2 Name                      3 National Grouping
 *    4 High Level Health Geography  5-9 Address Lines 1-5 (lines 1-3, town, county)
 *   10 Postcode                    11 Open Date (CCYYMMDD)     12 Close Date (CCYYMMDD, blank if open)
 *   13-17 layout-specific (below)  18 Contact Telephone Number  19-21 Null
 *   22 Amended Record Indicator    23-27 Null (epraccur: 25 Prescribing Setting)
 * Layout-specific columns:
 *   epraccur (GP practices, prescribing cost centres): 13 Status Code (A active, C closed, D dormant,
 *     P proposed), 14 Organisation Sub-Type Code, 15 Commissioner (parent), 16 Join Provider/Purchaser
 *     Date, 17 Left Provider/Purchaser Date; 25 Prescribing Setting (4 = GP practice).
 *   edispensary (pharmacies, "F" codes): 13-14 Null, 15 Parent Organisation Code (the pharmacy
 *     headquarters), 16 Join Parent Date, 17 Left Parent Date.
 *   etr (NHS trusts): 13-17 Null.
 * Fields may be quoted ("...", "" for a quote) or not; the text is UTF-8 or, when it is not valid
 * UTF-8, latin-1 (Windows-1252, which the older extracts use). A header row, if someone added one,
 * is recognised and skipped.
 */
import { ODS_CODE, type OrganisationFacts, type OrgRole } from './organization-model.js';

export type OdsLayout = 'epraccur' | 'edispensary' | 'etr';
export const LAYOUTS: readonly OdsLayout[] = ['epraccur', 'edispensary', 'etr'];
const COLUMNS = 27;

const LAYOUT_INFO: Record<OdsLayout, { role: OrgRole; code: RegExp; codeHint: string }> = {
  epraccur: { role: 'RO76', code: /^[A-Z]\d{5}$/, codeHint: 'a letter and 5 digits, e.g. A81001' },
  edispensary: {
    role: 'RO182',
    code: /^F[A-Z0-9]{4}$/,
    codeHint: "'F' and 4 letters or digits, e.g. FA008",
  },
  etr: {
    role: 'RO197',
    code: /^[RT][A-Z0-9]{2}$/,
    codeHint: "'R' or 'T' and 2 letters or digits, e.g. RR8",
  },
};

/** The text of an extract: UTF-8 when the bytes are valid UTF-8, latin-1 otherwise; BOM dropped. */
export function decodeExtract(bytes: Uint8Array): { text: string; encoding: 'utf-8' | 'latin-1' } {
  try {
    return {
      text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes),
      encoding: 'utf-8',
    };
  } catch {
    return { text: new TextDecoder('latin1').decode(bytes), encoding: 'latin-1' };
  }
}

export interface CsvRecord {
  line: number;
  fields: string[];
}

/** Splits CSV text into records (RFC 4180 quoting; unquoted fields are trimmed), skipping blank lines. */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false,
    wasQuoted = false;
  let line = 1,
    recordLine = 1;
  const endField = () => {
    fields.push(wasQuoted ? field : field.trim());
    field = '';
    wasQuoted = false;
  };
  const endRecord = () => {
    endField();
    if (fields.length > 1 || fields[0] !== '') records.push({ line: recordLine, fields });
    fields = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field.trim() === '') {
      quoted = true;
      wasQuoted = true;
      field = '';
    } else if (c === ',') endField();
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else field += c;
  }
  if (field !== '' || fields.length) endRecord();
  return records;
}

/** The layout of an extract, from its first data row: the shape of its organisation codes. */
export function inferLayout(records: CsvRecord[]): OdsLayout | undefined {
  const first = records.find((r) => !isHeader(r));
  const code = first?.fields[0]?.toUpperCase() ?? '';
  return LAYOUTS.find((l) => LAYOUT_INFO[l].code.test(code));
}

export function isHeader(record: CsvRecord): boolean {
  return /^(organi[sz]ation[ _]?code|code|org[ _]?code)$/i.test(record.fields[0] ?? '');
}

export type RowResult = { ok: true; facts: OrganisationFacts } | { ok: false; reason: string };

/** CCYYMMDD -> YYYY-MM-DD, or an error message. */
function odsDate(raw: string, column: string): string | { error: string } {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(raw);
  const iso = m ? `${m[1]}-${m[2]}-${m[3]}` : '';
  const d = new Date(iso + 'T00:00:00Z');
  if (!m || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso)
    return { error: `invalid ${column} '${raw.slice(0, 20)}' (expected CCYYMMDD)` };
  return iso;
}

/** Title case for the upper-case names and addresses of the extracts: 'ST. JOHN'S SURGERY' -> "St. John's Surgery". */
export function tidy(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t !== t.toUpperCase()) return t;
  return t
    .toLowerCase()
    .replace(/(^|[\s\-(/&"])(\p{L})/gu, (_m, p: string, l: string) => p + l.toUpperCase());
}

/** One extract row as directory facts, or the reason it is rejected. */
export function readRow(layout: OdsLayout, fields: string[]): RowResult {
  if (fields.length !== COLUMNS)
    return {
      ok: false,
      reason: `expected ${COLUMNS} columns for ${layout}, found ${fields.length}`,
    };
  const info = LAYOUT_INFO[layout];
  const code = fields[0].toUpperCase();
  if (!ODS_CODE.test(code) || !info.code.test(code))
    return {
      ok: false,
      reason: `invalid ODS code '${fields[0].slice(0, 20)}' for ${layout} (${info.codeHint})`,
    };
  const name = tidy(fields[1]);
  if (!name) return { ok: false, reason: 'missing name' };
  const open = fields[10] ? odsDate(fields[10], 'open date') : undefined;
  if (typeof open === 'object') return { ok: false, reason: open.error };
  const close = fields[11] ? odsDate(fields[11], 'close date') : undefined;
  if (typeof close === 'object') return { ok: false, reason: close.error };
  if (open && close && close < open)
    return { ok: false, reason: `close date ${close} is before open date ${open}` };
  let status = 'A';
  let parentColumn = '';
  if (layout === 'epraccur') {
    status = fields[12].toUpperCase() || 'A';
    if (!['A', 'C', 'D', 'P'].includes(status))
      return {
        ok: false,
        reason: `invalid status code '${fields[12].slice(0, 10)}' (expected A, C, D or P)`,
      };
  }
  if (layout !== 'etr') parentColumn = fields[14].toUpperCase();
  if (parentColumn && !ODS_CODE.test(parentColumn))
    return { ok: false, reason: `invalid parent ODS code '${fields[14].slice(0, 20)}'` };
  return {
    ok: true,
    facts: {
      code,
      name,
      role: info.role,
      lines: [fields[4], fields[5], fields[6]].map(tidy),
      town: tidy(fields[7]) || undefined,
      county: tidy(fields[8]) || undefined,
      postcode: fields[9].toUpperCase().replace(/\s+/g, ' ').trim() || undefined,
      openDate: open,
      closeDate: close,
      active: !close && status !== 'C',
      parent: parentColumn || undefined,
      phone: fields[17].trim() || undefined,
    },
  };
}
