import { parseCommandLine, wholeNumber } from './args.js';

const USAGE = `openspine legacy generate --rows N [--legacy-schema NAME] [--database-url URL] [--seed S] [--replace]
  Creates an Oracle-era style legacy schema in PostgreSQL and fills it from the synthetic generator
  (N patients, plus duplicates, invalid numbers, free-text dates, latin-1 text, orphans, merges).`;

const OPTIONS = {
  rows: { type: 'string' },
  'legacy-schema': { type: 'string' },
  'database-url': { type: 'string' },
  seed: { type: 'string' },
  replace: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** `openspine legacy generate ...`; returns the exit code. */
export async function legacyCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  if (values.help || positionals[0] !== 'generate') {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const rows = wholeNumber(values.rows, '--rows');
  const { generateLegacy } = await import('../services/migration/index.js');
  const began = Date.now();
  const counts = await generateLegacy({
    databaseUrl: values['database-url'] ?? DEFAULT_DATABASE_URL,
    schema: values['legacy-schema'] ?? 'legacy',
    rows,
    seed: wholeNumber(values.seed, '--seed', 1),
    replace: values.replace,
    onProgress: (done) => process.stderr.write(`\rgenerated ${done}/${rows} patients`),
  });
  process.stderr.write('\n');
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  for (const [table, n] of Object.entries(counts))
    console.log(`${table.padEnd(18)} ${String(n).padStart(10)}`);
  console.log(
    `${'total'.padEnd(18)} ${String(total).padStart(10)} rows in ${((Date.now() - began) / 1000).toFixed(1)} s`,
  );
  return 0;
}
