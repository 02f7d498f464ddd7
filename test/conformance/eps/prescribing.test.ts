/**
 * Prescribing as NHS England publishes it: every published $prepare and prescription-order
 * $process-message example (test/fixtures/eps/published/, copied from the EPS FHIR API's examples)
 * sent to OpenSpine, its answer compared with the published response: the status, the
 * OperationOutcome's issue codes and Spine codes, and for $prepare the Parameters it returns.
 * Sends are re-signed (see published-examples.ts): the published XML-DSig signatures cannot be
 * verified here. Examples that cannot apply are listed in SET-ASIDE.md ("Prescribing").
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  outcomeCodes,
  publishedPairs,
  PublishedRun,
  readPublished,
  type PublishedPair,
} from './published-examples.js';
import { storesUnderTest } from '../../helpers/stores.js';

const SET_ASIDE = new Set(
  [
    ...readFileSync(new URL('SET-ASIDE.md', import.meta.url), 'utf8').matchAll(/^\| ([^|]+?) \|/gm),
  ].map((m) => m[1].trim()),
);
const pairs = publishedPairs((p) => p.operation === 'prepare' || p.message === 'Send');

/** What the published answer carries, and OpenSpine's answer must carry too. */
function compare(pair: PublishedPair, res: { status: number; body: any }): void {
  const why = `${pair.path}: ${res.status} ${JSON.stringify(res.body).slice(0, 600)}`;
  assert.equal(res.status, pair.status, why);
  if (!pair.response) {
    if (pair.status >= 400) assert.equal(res.body?.resourceType, 'OperationOutcome', why);
    else if (pair.operation === 'prepare') assert.equal(res.body?.resourceType, 'Parameters', why);
    return;
  }
  const published = readPublished(pair.response);
  assert.equal(res.body?.resourceType, published.resourceType, why);
  if (published.resourceType === 'OperationOutcome') {
    const want = outcomeCodes(published);
    const got = outcomeCodes(res.body);
    assert.deepEqual(
      got.severity.map((s: string) => (s === 'fatal' ? 'error' : s)),
      want.severity.map((s: string) => (s === 'fatal' ? 'error' : s)),
      `severity: ${why}`,
    );
    assert.deepEqual(got.code, want.code, `issue.code: ${why}`);
    for (const code of want.details)
      assert.ok(got.details.includes(code), `details code ${code}: ${why}`);
  } else if (published.resourceType === 'Parameters') {
    for (const p of published.parameter) {
      const mine = res.body.parameter?.find((q: any) => q.name === p.name);
      assert.ok(mine, `parameter ${p.name}: ${why}`);
      for (const key of Object.keys(p).filter((k) => k.startsWith('value')))
        assert.equal(typeof mine[key], typeof p[key], `parameter ${p.name}.${key}: ${why}`);
    }
  }
}

for (const kind of await storesUnderTest()) {
  describe(`EPS prescribing, published examples, on ${kind}`, () => {
    const run = new PublishedRun(kind);
    after(() => run.close());
    for (const pair of pairs) {
      const setAside = SET_ASIDE.has(pair.path);
      it(
        pair.path,
        { skip: setAside ? 'set aside: see test/conformance/eps/SET-ASIDE.md' : false },
        async () => {
          const bundle = readPublished(pair.path);
          if (pair.operation === 'prepare') compare(pair, await run.prepare(bundle));
          else compare(pair, (await run.send(bundle)).response);
        },
      );
    }
  });
}
