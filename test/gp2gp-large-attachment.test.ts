/**
 * GP2GP at its size limit: one 100 MB attachment sent in 4 MB chunks by the old practice system and
 * streamed back by the new one over real HTTP, checksum verified end to end. SQLite only (the
 * PostgreSQL path of chunks is the same code and is covered at 12 MB in gp2gp-transfer.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Patient } from 'fhir/r4.js';
import { MIB } from '../src/services/gp2gp/options.js';
import {
  commitPatients,
  current,
  fixture,
  living,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { ehrBundle, PracticeSystem, sha256 } from './helpers/practice-system.js';

const OLD = 'B82001',
  NEW = 'C83001',
  NHS = SPARE_NHS[0];
const SIZE = 100 * MIB,
  CHUNK = 4 * MIB;

describe('GP2GP with a 100 MB attachment (sqlite)', () => {
  let platform: TestPlatform;
  let oldPractice: PracticeSystem, newPractice: PracticeSystem;

  before(async () => {
    platform = await startTestPlatform('sqlite');
    const patient = withNhsNumber(living(current(fixture<Patient>('Patient.json'))), NHS);
    patient.generalPractitioner![0].identifier!.value = NEW; // already registered with the new practice
    await commitPatients(platform.repo, [patient]);
    await platform.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(platform.app.server.address() as AddressInfo).port}`;
    oldPractice = new PracticeSystem(
      OLD,
      base,
      await platform.token('R8008', { org: OLD, user: 'old-admin' }),
    );
    newPractice = new PracticeSystem(
      NEW,
      base,
      await platform.token('R8000', { org: NEW, user: 'new-gp' }),
    );
  });
  after(async () => platform?.close());

  it('sends, reassembles, streams back and verifies 100 MB', async () => {
    const requested = await newPractice.requestRecord(NHS, OLD);
    assert.equal(requested.status, 201, requested.text.slice(0, 300));
    const [task] = await oldPractice.workQueue();
    assert.equal(task?.id, requested.body.id, 'the old practice finds the request');

    // the sender streams its file chunk by chunk, as a real system would read it from disk
    const chunks = Array.from({ length: SIZE / CHUNK }, () => randomBytes(CHUNK));
    const whole = createHash('sha256');
    for (const c of chunks) whole.update(c);
    const digest = whole.digest('hex');
    const manifest = { id: 'video', contentType: 'video/mp4', data: Buffer.alloc(0) };
    const sent = await oldPractice.sendRecord(task.id, ehrBundle(NHS), [manifest], CHUNK, {
      size: SIZE,
      sha256: digest,
    });
    assert.equal(sent.status, 200, sent.text.slice(0, 300));
    let last;
    for (const [i, c] of chunks.entries()) {
      last = await oldPractice.putChunk(task.id, 'video', i, c, sha256(c));
      assert.equal(last.status, 200, `chunk ${i}: ${last.text.slice(0, 200)}`);
    }
    assert.equal(last!.body.businessStatus.coding[0].code, 'sent');

    const download = await newPractice.download(task.id, 'video');
    assert.equal(download.size, SIZE, 'all 100 MB arrive');
    assert.equal(download.sha256, digest, 'and match the checksum of the original');
    assert.equal(
      (await newPractice.acknowledge(task.id, 'accepted')).body.businessStatus.coding[0].code,
      'integrated',
    );
  });
});
