import { loadConfig, type Flags } from '../config.js';
import { FhirError } from '../fhir/errors.js';
import { openRepository } from '../store/open.js';
import { parseCommandLine, wholeNumber } from './args.js';

const USAGE = `openspine ers-slots publish --service ID --from YYYY-MM-DD --days N --times 09:00,09:30 --duration MINUTES
                             [--capacity N] [--clinician SDS_USER_ID] [--priorities ROUTINE,URGENT] [--all-days]
openspine ers-slots withdraw SLOT_ID
openspine ers-slots demo        (four weeks of slots for every directly bookable e-RS service, as a demo start does)
  each with [--data DIR] [--store sqlite|postgres] [--database-url URL] [--database-schema S]
Times are UTC; without --all-days only Monday to Friday. Publishing the same run again adds nothing.`;

const OPTIONS = {
  data: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  service: { type: 'string' },
  from: { type: 'string' },
  days: { type: 'string' },
  times: { type: 'string' },
  duration: { type: 'string' },
  capacity: { type: 'string' },
  clinician: { type: 'string' },
  priorities: { type: 'string' },
  'all-days': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `openspine ers-slots ...`: a provider's appointment slots for its directly bookable e-RS services
 * (docs/referrals.md, Booking), written straight into the store as the management API writes them.
 * Returns the exit code: 0 done, 1 refused (the refusal printed), 2 bad usage.
 */
export async function ersSlotsCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  const [sub, arg] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig(values as Flags);
  const { parseSlotRun, publishDemoSlots, publishSlots, withdrawSlot } =
    await import('../services/referrals/index.js');
  let work: (repo: Awaited<ReturnType<typeof openRepository>>) => Promise<string>;
  if (sub === 'publish' && !arg) {
    let run;
    try {
      run = parseSlotRun({
        service: values.service,
        from: values.from,
        days: wholeNumber(values.days, '--days'),
        times: (values.times ?? '').split(',').filter(Boolean),
        durationMinutes: wholeNumber(values.duration, '--duration'),
        capacity: wholeNumber(values.capacity, '--capacity', 1),
        weekdaysOnly: !values['all-days'],
        ...(values.priorities ? { priorities: values.priorities.split(',') } : {}),
        ...(values.clinician ? { clinician: values.clinician } : {}),
      });
    } catch (err) {
      console.error(`${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    work = async (repo) => {
      const r = await publishSlots(repo, run);
      return `published ${r.published} slots for service ${r.service} (${r.alreadyPublished} already published)`;
    };
  } else if (sub === 'withdraw' && arg && positionals.length === 2) {
    work = async (repo) => `withdrawn: Slot/${(await withdrawSlot(repo, arg)).id}`;
  } else if (sub === 'demo' && !arg) {
    work = async (repo) => `published ${await publishDemoSlots(repo)} demo slots`;
  } else {
    console.error(USAGE);
    return 2;
  }
  const repo = await openRepository(config);
  try {
    console.log(await work(repo));
    return 0;
  } catch (err) {
    if (!(err instanceof FhirError)) throw err;
    console.error(err.diagnostics);
    return 1;
  } finally {
    await repo.close();
  }
}
