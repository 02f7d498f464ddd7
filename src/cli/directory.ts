import { readFile } from 'node:fs/promises';
import { loadConfig, type Config, type Flags } from '../config.js';
import { openRepository } from '../store/open.js';
import type { Repository } from '../store/repository.js';
import { LAYOUTS, type OdsLayout } from '../services/directory/index.js';
import { parseCommandLine } from './args.js';

const USAGE = `openspine directory import FILE [--type epraccur|edispensary|etr] [--data DIR] [--store ...] [--database-url URL]
openspine directory endpoint add --org ODS --interaction CODE --address URL [--name SYSTEM] [--data DIR] [--store ...]
openspine directory role add --user SDS_USER_ID --org ODS --role JOB_ROLE_CODE [--start YYYY-MM-DD] [--data DIR] [--store ...]`;

const OPTIONS = {
  data: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  type: { type: 'string' },
  org: { type: 'string' },
  interaction: { type: 'string' },
  address: { type: 'string' },
  name: { type: 'string' },
  user: { type: 'string' },
  role: { type: 'string' },
  start: { type: 'string' },
} as const;

/** Runs `work` on the configured store and closes it; an `expected` error is a one-line message and exit code 1. */
async function onStore(
  config: Config,
  expected: new (...args: never[]) => Error,
  work: (repo: Repository) => Promise<void>,
): Promise<number> {
  const repo = await openRepository(config);
  try {
    await work(repo);
    return 0;
  } catch (err) {
    if (!(err instanceof expected)) throw err;
    console.error(err.message);
    return 1;
  } finally {
    await repo.close();
  }
}

/** `openspine directory ...`: loads ODS extracts, registers endpoints and role profiles. Returns the exit code. */
export async function directoryCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
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
      console.error(
        `cannot read ${arg}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
      return 1;
    }
    const { importOdsExtract, formatReport, ImportError } =
      await import('../services/directory/index.js');
    return onStore(config, ImportError, async (repo) => {
      console.log(
        formatReport(
          await importOdsExtract(repo, bytes, { layout: values.type as OdsLayout | undefined }),
        ),
      );
    });
  }
  if (sub === 'endpoint' && arg === 'add' && !arg2) {
    if (!values.org || !values.interaction || !values.address) {
      console.error(`endpoint add needs --org, --interaction and --address\n\n${USAGE}`);
      return 2;
    }
    const { org, interaction, address, name } = values;
    const { addEndpoint, EndpointError } = await import('../services/directory/index.js');
    return onStore(config, EndpointError, async (repo) => {
      const { endpoint, changed } = await addEndpoint(repo, { org, interaction, address, name });
      console.log(
        `${changed ? 'registered' : 'already registered'}: Endpoint/${endpoint.id} ${interaction} at ${endpoint.address} for ${org.toUpperCase()}`,
      );
    });
  }
  if (sub === 'role' && arg === 'add' && !arg2) {
    if (!values.user || !values.org || !values.role) {
      console.error(`role add needs --user, --org and --role\n\n${USAGE}`);
      return 2;
    }
    const { user, org, role, start } = values;
    const { addPractitionerRole, PractitionerRoleError } =
      await import('../services/directory/index.js');
    return onStore(config, PractitionerRoleError, async (repo) => {
      const { role: saved, changed } = await addPractitionerRole(repo, { user, org, role, start });
      console.log(
        `${changed ? 'registered' : 'already registered'}: PractitionerRole/${saved.id} ${user} as ${role} at ${org.toUpperCase()}`,
      );
    });
  }
  console.error(USAGE);
  return 2;
}
