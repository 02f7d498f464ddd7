/**
 * Bad input never gets a 500 from EPS: valid messages of every kind with one value at a time
 * replaced by null, a number, a string, an array, an object or a boolean must all be answered
 * with a 2xx or a 4xx OperationOutcome.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isCancellationResponse } from './helpers/eps-client.js';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import {
  addPatient,
  cancellation,
  claimResource,
  dispenseNotification,
  orderBundle,
} from './helpers/eps-prescribing.js';

const REPLACEMENTS: unknown[] = [null, 7, 'x', [], {}, true, [null], [{}]];
const PATHS_PER_BODY = Number(process.env.EPS_FUZZ_PATHS ?? 70);

/** Every path to a value in the JSON, as key lists. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((k) => paths((value as any)[k], [...prefix, k]))];
}

function replaced(body: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(body) as any;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k];
  at[path[path.length - 1]] = value;
  return copy;
}

/** A deterministic spread of paths: every one when few, else an even sample. */
function sample<T>(all: T[], n: number): T[] {
  if (all.length <= n) return all;
  return Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]);
}

describe('EPS refuses malformed input with 4xx, never 500 (sqlite)', () => {
  let t: EpsPlatform;
  before(async () => {
    t = await startEpsPlatform('sqlite');
  });
  after(async () => t.close());

  it('every message kind, one value spoiled at a time', async () => {
    const nhs = await addPatient(t.platform.repo);
    const p = await t.eps.prescribe({ nhsNumber: nhs });
    const q = await t.eps.prescribe({ nhsNumber: nhs });
    await t.eps.release(q.ids.shortFormId);
    const params = (shortFormId: string) => ({
      resourceType: 'Parameters',
      parameter: [
        { name: 'group-identifier', valueIdentifier: { value: shortFormId } },
        { name: 'reason', valueCoding: { code: 'X' } },
      ],
    });
    const cases: [string, string, unknown][] = [
      ['/$prepare', t.eps.tokens.prescriber, orderBundle({ nhsNumber: nhs, withoutIds: true })],
      ['/$process-message', t.eps.tokens.prescriber, await t.eps.signedOrder({ nhsNumber: nhs })],
      ['/$process-message', t.eps.tokens.prescriber, cancellation(p.signed, [p.ids.items[0]])],
      [
        '/MedicationDispense/$process-message',
        t.eps.tokens.pharmacy,
        dispenseNotification(q.ids, nhs, [{ item: q.ids.items[0], code: '0003', quantity: 1 }]),
      ],
      ['/Claim', t.eps.tokens.pharmacy, claimResource(q.ids.shortFormId, nhs, q.ids.items)],
      [
        '/Task/$release',
        t.eps.tokens.pharmacy,
        {
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'owner',
              resource: {
                resourceType: 'Organization',
                identifier: [
                  { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'FLE79' },
                ],
              },
            },
            { name: 'max-count', valueInteger: 2 },
          ],
        },
      ],
      ['/Task/$withdraw', t.eps.tokens.pharmacy, params(q.ids.shortFormId)],
      ['/Task/$return', t.eps.tokens.pharmacy, params(q.ids.shortFormId)],
    ];
    const failures: string[] = [];
    let sent = 0;
    for (const [url, token, body] of cases) {
      for (const path of sample(paths(body), PATHS_PER_BODY)) {
        for (const value of REPLACEMENTS) {
          const spoiled = replaced(body, path, value);
          const res = await t.eps.post(url, spoiled, token, randomUUID());
          sent++;
          // a refused cancellation is answered, as EPS publishes it, with a prescription-order-response
          if (
            res.status >= 500 ||
            (res.status >= 400 &&
              res.body?.resourceType !== 'OperationOutcome' &&
              !isCancellationResponse(res))
          )
            failures.push(
              `${url} ${path.join('.')} = ${JSON.stringify(value)}: ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`,
            );
        }
      }
    }
    assert.ok(sent > 2000, `enough variants tried: ${sent}`);
    assert.deepEqual(
      failures.slice(0, 20),
      [],
      `${failures.length} variants got a 5xx, or an error neither an OperationOutcome nor a published cancellation response`,
    );
  });
});
