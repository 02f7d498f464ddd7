/**
 * Shadow (dual-run) mode: reads through the proxy are answered by OpenSpine and compared with the
 * legacy store; a faithful migration shows a zero difference rate, and a record changed on one side
 * only shows up as a difference.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Patient } from 'fhir/r4.js';
import { migrateLegacy } from '../src/services/migration/migrate-run.js';
import { startShadowProxy } from '../src/services/migration/shadow-proxy.js';
import { indexPatient } from '../src/services/pds/patient-index.js';
import { legacySource } from './helpers/legacy-source.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const [kind] = await storesUnderTest();

describe(`shadow proxy (${kind})`, () => {
  let source: Awaited<ReturnType<typeof legacySource>>;
  let platform: TestPlatform;
  let proxy: Awaited<ReturnType<typeof startShadowProxy>>;
  let token: string;
  let ids: string[];
  const logged: string[] = [];

  before(async () => {
    source = await legacySource(300, 9);
    platform = await startTestPlatform(kind);
    await migrateLegacy(platform.repo, {
      sourceUrl: source.url,
      schema: source.schema,
      workers: 2,
      batchSize: 100,
    });
    const upstream = await platform.app.listen({ port: 0, host: '127.0.0.1' });
    proxy = await startShadowProxy({
      sourceUrl: source.url,
      schema: source.schema,
      upstream,
      port: 0,
      host: '127.0.0.1',
      log: (l) => logged.push(l),
    });
    token = await platform.token('R8000');
    const found = await platform.repo.search({
      type: 'Patient',
      criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '999' }] }],
      limit: 100,
    });
    const patients = await platform.repo.readMany('Patient', found);
    ids = patients
      .filter((s) => !(s.resource as Patient).link)
      .slice(0, 25)
      .map((s) => s.id);
  });
  after(async () => {
    await proxy?.close();
    await platform?.close();
    await source?.drop();
  });

  const read = (id: string) =>
    fetch(`${proxy.url}${PDS}/Patient/${id}`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': randomUUID() },
    });

  it('passes OpenSpine answers through and finds no differences after a faithful migration', async () => {
    for (const id of ids) {
      const res = await read(id);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).id, id, "the caller gets OpenSpine's answer");
    }
    const stats = await (await fetch(`${proxy.url}/_shadow/stats`)).json();
    assert.equal(stats.compared, ids.length);
    assert.equal(stats.differenceRate, 0, `no differences expected: ${logged.join('\n')}`);
  });

  it('logs a difference when the two sides disagree', async () => {
    const stored = (await platform.repo.read('Patient', ids[0]))!;
    const changed: Patient = {
      ...stored.resource,
      gender: stored.resource.gender === 'male' ? 'female' : 'male',
    };
    await platform.repo.commit({
      resources: [
        {
          type: 'Patient',
          id: ids[0],
          expectedVersion: stored.version,
          resource: changed,
          index: indexPatient(changed),
        },
      ],
    });
    await read(ids[0]);
    const stats = await (await fetch(`${proxy.url}/_shadow/stats`)).json();
    assert.equal(stats.differences, 1);
    assert.ok(stats.differenceRate > 0, 'the difference rate rises above zero');
    assert.ok(
      logged.some((l) => l.includes(ids[0]) && l.includes('"patients"')),
      `the difference is logged with the field group: ${logged.join('\n')}`,
    );
  });
});
