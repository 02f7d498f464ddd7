import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig, type Flags } from '../config.js';
import { openRepository } from '../store/open.js';
import { LAYOUTS, type OdsLayout } from '../services/directory/ods-csv.js';

const USAGE = `openspine directory import FILE [--type epraccur|edispensary|etr] [--data DIR] [--store ...] [--database-url URL]
openspine directory endpoint add --org ODS --interaction CODE --address URL [--name SYSTEM] [--data DIR] [--store ...]`;

const OPTIONS = {
  data: { type: 'string' }, store: { type: 'string' }, 'database-url': { type: 'string' }, 'database-schema': { type: 'string' },
  type: { type: 'string' }, org: { type: 'string' }, interaction: { type: 'string' }, address: { type: 'string' }, name: { type: 'string' },
} as const;

/** `openspine directory ...`: loads ODS extracts and registers endpoints. Returns the exit code. */
export async function directoryCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [sub, arg, arg2] = positionals;
  const config = loadConfig(values as Flags);
  if (sub === 'import' && arg) {
    if (values.type !== undefined && !LAYOUTS.includes(values.type as OdsLayout)) {
      console.error(`--type must be one of ${LAYOUTS.join(', ')}`);
      return 2;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(arg);
    } catch (err) {
      console.error(`cannot read ${arg}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return 1;
    }
    const { importOdsExtract, formatReport, ImportError } = await import('../services/directory/ods-import.js');
    const repo = await openRepository(config);
    try {
      const report = await importOdsExtract(repo, bytes, { layout: values.type as OdsLayout | undefined });
      console.log(formatReport(report));
      return 0;
    } catch (err) {
      if (!(err instanceof ImportError)) throw err;
      console.error(err.message);
      return 1;
    } finally {
      await repo.close();
    }
  }
  if (sub === 'endpoint' && arg === 'add' && !arg2) {
    if (!values.org || !values.interaction || !values.address) {
      console.error(`endpoint add needs --org, --interaction and --address\n\n${USAGE}`);
      return 2;
    }
    const { addEndpoint, EndpointError } = await import('../services/directory/endpoint-model.js');
    const repo = await openRepository(config);
    try {
      const { endpoint, changed } = await addEndpoint(repo, { org: values.org, interaction: values.interaction, address: values.address, name: values.name });
      console.log(`${changed ? 'registered' : 'already registered'}: Endpoint/${endpoint.id} ${values.interaction} at ${endpoint.address} for ${values.org.toUpperCase()}`);
      return 0;
    } catch (err) {
      if (!(err instanceof EndpointError)) throw err;
      console.error(err.message);
      return 1;
    } finally {
      await repo.close();
    }
  }
  console.error(USAGE);
  return 2;
}
