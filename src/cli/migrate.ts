import cliProgress from 'cli-progress';
import { loadConfig, type Config, type Flags } from '../config.js';
import { openRepository, sqliteFileOf } from '../store/open.js';
import { DEFAULT_DATABASE_URL } from './legacy.js';
import { parseCommandLine } from './args.js';

const USAGE = `openspine migrate --from URL [--legacy-schema NAME] [--data DIR | --database-url URL [--database-schema S]]
                  [--workers N] [--batch-size N] [--no-progress]
openspine migrate verify --from URL [--legacy-schema NAME] [target flags] [--sample N]
openspine migrate shadow --from URL [--legacy-schema NAME] --upstream URL [--port N] [--host H]
  --from is the legacy PostgreSQL database; the target is the OpenSpine store (--data DIR for the
  embedded store, or --database-url for PostgreSQL). A killed run resumes where it stopped.`;

const OPTIONS = {
  from: { type: 'string' },
  'legacy-schema': { type: 'string' },
  data: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  workers: { type: 'string' },
  'batch-size': { type: 'string' },
  'no-progress': { type: 'boolean' },
  sample: { type: 'string' },
  upstream: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number above 0`);
  return n;
}

/** The target store: --database-url alone means PostgreSQL, as `migrate --database-url` reads. */
export function targetConfig(values: Flags): Config {
  const flags: Flags = { ...values };
  if (flags['database-url'] && !flags.store) flags.store = 'postgres';
  return loadConfig(flags);
}

/** `openspine migrate [verify|shadow] ...`; returns the exit code. */
export async function migrateCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  const sub = positionals[0];
  if (values.help || (sub !== undefined && sub !== 'verify' && sub !== 'shadow')) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const sourceUrl = values.from ?? DEFAULT_DATABASE_URL;
  const schema = values['legacy-schema'] ?? 'legacy';
  const config = targetConfig(values as Flags);
  if (sub === 'shadow') {
    if (!values.upstream) {
      console.error('--upstream URL (the OpenSpine server) is required');
      return 2;
    }
    const { startShadowProxy } = await import('../services/migration/index.js');
    const proxy = await startShadowProxy({
      sourceUrl,
      schema,
      upstream: values.upstream,
      port: Number(values.port ?? 8090),
      host: values.host ?? '127.0.0.1',
      log: (line) => console.log(line),
    });
    console.log(
      `shadow proxy listening at ${proxy.url}, reading from ${values.upstream} and the legacy store; GET /_shadow/stats for the difference rate`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await proxy.close();
    return 0;
  }
  const repo = await openRepository(config);
  try {
    if (sub === 'verify') {
      const { verifyMigration, formatVerifyReport } =
        await import('../services/migration/index.js');
      const report = await verifyMigration(repo, {
        sourceUrl,
        schema,
        sample: positive(values.sample, '--sample', 200),
      });
      console.log(formatVerifyReport(report));
      return report.ok ? 0 : 1;
    }
    const { migrateLegacy } = await import('../services/migration/index.js');
    const bar = values['no-progress']
      ? null
      : new cliProgress.SingleBar(
          {
            format:
              'migrating [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}',
            stream: process.stderr,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
    const began = Date.now();
    let startDone = -1;
    const result = await migrateLegacy(repo, {
      sourceUrl,
      schema,
      workers: positive(values.workers, '--workers', 4),
      batchSize: positive(values['batch-size'], '--batch-size', 1000),
      sqliteFile: sqliteFileOf(config),
      onProgress: (done, total) => {
        if (startDone < 0) {
          startDone = done;
          bar?.start(total, done, { rate: 0 });
        }
        bar?.update(done, {
          rate: Math.round((done - startDone) / Math.max((Date.now() - began) / 1000, 1e-3)),
        });
      },
    });
    bar?.stop();
    const fresh = result.rows - result.resumedFrom;
    console.log(
      `migrated ${result.rows} legacy rows (${result.migrated} mapped, ${result.quarantined} quarantined; ${result.resumedFrom} done by an earlier run) ` +
        `in ${result.seconds.toFixed(2)} s: ${Math.round(fresh / Math.max(result.seconds, 1e-3))} rows/s`,
    );
    return 0;
  } finally {
    await repo.close();
  }
}
