/**
 * `openspine directory import`: loads an ODS extract into the directory, idempotently. Rows are
 * compared with the stored documents (key order ignored) and only real changes are written, each
 * naming the version it read, in batches that commit atomically with one audit entry each.
 */
import type { Organization } from 'fhir/r4.js';
import { canonicalJson } from '../../fhir/canonical-json.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ResourceWrite, ResourceStore } from '../../store/resource-store.js';
import {
  decodeExtract,
  inferLayout,
  isHeader,
  LAYOUTS,
  parseCsv,
  readRow,
  type OdsLayout,
} from './ods-csv.js';
import {
  buildOrganization,
  indexOrganization,
  ORGANIZATION,
  withoutMeta,
} from './organization-model.js';

export interface ImportReport {
  layout: OdsLayout;
  encoding: 'utf-8' | 'latin-1';
  /** New organisations (open or already closed). */
  added: number;
  /** Existing organisations whose details changed (other than a closure). */
  changed: number;
  /** Existing active organisations that the extract marks closed. */
  closed: number;
  unchanged: number;
  rejected: { line: number; reason: string }[];
}

export class ImportError extends Error {}

const auditFor = (layout: OdsLayout, lines: [number, number]): AuditRecord => ({
  time: new Date().toISOString(),
  requestId: 'directory-import',
  userId: 'openspine-cli',
  role: 'system',
  org: 'OPENSPINE',
  patient: null,
  action: 'directory.import',
  outcome: 'success',
  detail: { layout, lines },
});

export async function importOdsExtract(
  repo: ResourceStore,
  bytes: Uint8Array,
  opts: { layout?: OdsLayout; batchSize?: number } = {},
): Promise<ImportReport> {
  const { text, encoding } = decodeExtract(bytes);
  const records = parseCsv(text);
  if (opts.layout && !LAYOUTS.includes(opts.layout))
    throw new ImportError(`unknown layout '${opts.layout}' (use ${LAYOUTS.join(', ')})`);
  const layout = opts.layout ?? inferLayout(records);
  if (!layout)
    throw new ImportError(
      `cannot tell the layout from the first row; give --type ${LAYOUTS.join('|')}`,
    );
  const report: ImportReport = {
    layout,
    encoding,
    added: 0,
    changed: 0,
    closed: 0,
    unchanged: 0,
    rejected: [],
  };
  const seen = new Map<string, number>();
  const batchSize = opts.batchSize ?? 1000;
  const data = records.filter((r, i) => !(i === 0 && isHeader(r)));

  for (let from = 0; from < data.length; from += batchSize) {
    const batch: { line: number; org: Organization }[] = [];
    for (const record of data.slice(from, from + batchSize)) {
      const row = readRow(layout, record.fields);
      if (!row.ok) {
        report.rejected.push({ line: record.line, reason: row.reason });
        continue;
      }
      const firstLine = seen.get(row.facts.code);
      if (firstLine !== undefined) {
        report.rejected.push({
          line: record.line,
          reason: `duplicate ODS code ${row.facts.code} (first on line ${firstLine})`,
        });
        continue;
      }
      seen.set(row.facts.code, record.line);
      batch.push({ line: record.line, org: buildOrganization(row.facts) });
    }
    if (!batch.length) continue;
    const stored = new Map(
      (
        await repo.readMany(
          ORGANIZATION,
          batch.map((b) => b.org.id!),
        )
      ).map((s) => [s.id, s]),
    );
    const writes: ResourceWrite[] = [];
    for (const { org } of batch) {
      const current = stored.get(org.id!);
      if (current && canonicalJson(withoutMeta(current.resource)) === canonicalJson(org)) {
        report.unchanged++;
        continue;
      }
      if (!current) report.added++;
      else if (current.resource.active !== false && org.active === false) report.closed++;
      else report.changed++;
      writes.push({
        type: ORGANIZATION,
        id: org.id!,
        expectedVersion: current?.version ?? 0,
        resource: org,
        index: indexOrganization(org),
      });
    }
    if (writes.length)
      await repo.commit({
        resources: writes,
        audit: [auditFor(layout, [batch[0].line, batch[batch.length - 1].line])],
      });
  }
  return report;
}

export function formatReport(report: ImportReport): string {
  const lines = [
    `added ${report.added}, changed ${report.changed}, closed ${report.closed}, unchanged ${report.unchanged}, rejected ${report.rejected.length}`,
  ];
  for (const r of report.rejected) lines.push(`  line ${r.line}: ${r.reason}`);
  return lines.join('\n');
}
