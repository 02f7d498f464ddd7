import { randomUUID } from 'node:crypto';
import { loadConfig, type Flags } from '../config.js';
import { FhirError } from '../fhir/errors.js';
import type { DeadLetter } from '../messaging/types.js';
import {
  deadLetterAudit,
  deadLetterId,
  parseDeadLetterQuery,
} from '../services/messaging/index.js';
import { openRepository } from '../store/open.js';
import type { Repository } from '../store/repository.js';
import { operator } from './users.js';
import { parseCommandLine } from './args.js';

const USAGE = `openspine messages dead-letters [--consumer NAME] [--count N] [--json] [--data DIR] [--store ...] [--database-url URL]
openspine messages replay ID [--data DIR] [--store ...] [--database-url URL]`;

const OPTIONS = {
  data: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  consumer: { type: 'string' },
  count: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function line(l: DeadLetter): string {
  const replayed = l.replayedAt ? `  replayed ${l.replayedAt}` : '';
  return `${l.id}  ${l.consumer}  ${l.message.topic}  key ${l.message.key}  ${l.attempts} attempts  dead ${l.deadAt}${replayed}\n    ${l.lastError}`;
}

/**
 * Runs `work` on the configured store and closes it; bad input (a FhirError from the shared
 * parsers) is exit code 2.
 */
async function onStore(flags: Flags, work: (repo: Repository) => Promise<number>): Promise<number> {
  const repo = await openRepository(loadConfig(flags));
  try {
    return await work(repo);
  } finally {
    await repo.close();
  }
}

/**
 * `openspine messages dead-letters|replay`: the dead-letter queue of both buses, from the store.
 * Returns the exit code.
 */
export async function messagesCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, USAGE);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  const [sub, arg, extra] = positionals;
  try {
    if (sub === 'dead-letters' && !arg) {
      const query = parseDeadLetterQuery({
        ...(values.consumer !== undefined ? { consumer: values.consumer } : {}),
        ...(values.count !== undefined ? { _count: values.count } : {}),
      });
      return await onStore(values as Flags, async (repo) => {
        const letters = await repo.messaging.listDeadLetters(query);
        await repo.commit({
          audit: deadLetterAudit(
            { requestId: randomUUID() },
            'messaging.dead-letters.list',
            letters,
            { consumer: query.consumer, count: letters.length },
            operator(),
          ),
        });
        if (values.json) console.log(JSON.stringify(letters, null, 2));
        else if (letters.length === 0) console.log('no dead letters');
        else console.log(letters.map(line).join('\n'));
        return 0;
      });
    }
    if (sub === 'replay' && arg && !extra) {
      const id = deadLetterId(arg);
      return await onStore(values as Flags, async (repo) => {
        const letter = await repo.messaging.readDeadLetter(id);
        if (!letter) {
          console.error(`no dead letter ${id}`);
          return 1;
        }
        const audit = deadLetterAudit(
          { requestId: randomUUID() },
          'messaging.dead-letters.replay',
          [letter],
          { deadLetter: id, consumer: letter.consumer, messageId: letter.message.id },
          operator(),
        );
        const outcome = await repo.messaging.replayDeadLetter(id, audit);
        if (outcome !== 'replayed') {
          console.error(
            outcome === 'already-replayed'
              ? `dead letter ${id} was already replayed`
              : `no dead letter ${id}`,
          );
          return 1;
        }
        console.log(
          `replayed: message ${letter.message.id} (${letter.message.topic}) back to consumer ${letter.consumer}`,
        );
        return 0;
      });
    }
  } catch (err) {
    if (!(err instanceof FhirError)) throw err;
    console.error(err.diagnostics);
    return 2;
  }
  console.error(`unknown command 'messages ${positionals.join(' ')}'\n\n${USAGE}`);
  return 2;
}
