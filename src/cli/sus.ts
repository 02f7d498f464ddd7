import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Flags } from '../config.js';
import { openRepository } from '../store/open.js';
import { targetConfig } from './migrate.js';
import { parseCommandLine } from './args.js';

const USAGE = `openspine sus extract --since DATE [--format ndjson|csv] [--out FILE] [--data DIR] [--store ...] [--database-url URL]
  Pseudonymised extract for secondary uses of every patient changed since DATE, leaving out everyone
  with a national data opt-out. The pseudonym key is kept in the data dir (sus-pseudonym.key).
  Writes to FILE (or stdout); the report goes to stderr.`;

const OPTIONS = {
  since: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  data: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `openspine sus extract ...`; returns the exit code. */
export async function susCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  if (values.help || positionals[0] !== 'extract') {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const since = values.since;
  if (
    !since ||
    !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(since) ||
    Number.isNaN(Date.parse(since))
  ) {
    console.error('--since must be a date (YYYY-MM-DD) or an instant (2025-01-01T00:00:00Z)');
    return 2;
  }
  const format = values.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'csv') {
    console.error('--format must be ndjson or csv');
    return 2;
  }
  const config = targetConfig(values as Flags);
  const { extractSus } = await import('../services/sus/index.js');
  const { loadOrCreatePseudonymKey } = await import('../services/sus/index.js');
  const key = loadOrCreatePseudonymKey(config.dataDir);
  const repo = await openRepository(config);
  const out = values.out ? createWriteStream(values.out, { mode: 0o600 }) : process.stdout;
  try {
    const report = await extractSus(repo, {
      since: new Date(Date.parse(since)).toISOString(),
      format,
      key,
      out,
    });
    if (values.out) {
      out.end();
      await finished(out);
    }
    console.error(
      `sus extract since ${report.since}: ${report.written} patients written, ${report.excludedOptOut} excluded (national data opt-out), ` +
        `${report.supersededSkipped} superseded numbers skipped, ${report.considered} considered, in ${report.seconds.toFixed(2)} s`,
    );
    return 0;
  } finally {
    await repo.close();
  }
}
