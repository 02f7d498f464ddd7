/**
 * GP2GP end to end with two simulated practice systems (test/helpers/practice-system.ts) that are
 * real HTTP clients of a listening platform: a registration change on PDS starts the transfer, the
 * old practice finds and sends the record with a multi-chunk attachment, the new practice downloads,
 * verifies and acknowledges it. Also: corrupt and missing chunks, negative acknowledgements, illegal
 * transitions, size limits, the explicit request, and a third practice that must see nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Patient } from 'fhir/r4.js';
import type { DeliveredMessage } from '../src/messaging/types.js';
import { MIB } from '../src/services/gp2gp/options.js';
import {
  NHS,
  commitPatients,
  current,
  fixture,
  living,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import {
  ehrBundle,
  PracticeSystem,
  sha256,
  type LocalAttachment,
} from './helpers/practice-system.js';
import { storesUnderTest } from './helpers/stores.js';

const OLD = 'B82001',
  NEW = 'C83001',
  THIRD = 'D84001';
const CHUNK = 4 * MIB;

function patientAt(nhs: string, practice: string): Patient {
  const p = withNhsNumber(living(current(fixture<Patient>('Patient.json'))), nhs);
  p.generalPractitioner![0].identifier!.value = practice;
  return p;
}

/** Polls until `probe` gives a value (the bus delivers asynchronously); fails after `tries`. */
async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  tries = 200,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

const stateOf = (task: any): string => task.businessStatus.coding[0].code;
const received = (task: any, id: string): number =>
  task.output
    .find((o: any) => o.valueAttachment?.id === id)
    .valueAttachment.extension.find((e: any) => e.url.endsWith('attachment-chunks-received'))
    .valueInteger;

for (const kind of await storesUnderTest()) {
  describe(`GP2GP transfer between two practice systems over HTTP (${kind})`, () => {
    let platform: TestPlatform;
    let oldPractice: PracticeSystem, newPractice: PracticeSystem, thirdPractice: PracticeSystem;
    const events: DeliveredMessage[] = [];
    const P = {
      flow: SPARE_NHS[0],
      faults: SPARE_NHS[1],
      nack: SPARE_NHS[2],
      illegal: SPARE_NHS[3],
      explicit: SPARE_NHS[4],
      limits: SPARE_NHS[5],
      refused: SPARE_NHS[6],
    };

    before(async () => {
      platform = await startTestPlatform(kind, {
        extraRoutes: (app) =>
          app.bus.consume(
            { name: 'test.gp2gp-events', topics: ['gp2gp.transfer.*'], retryDelayMs: 10 },
            async (m) => {
              events.push(m);
            },
          ),
      });
      await commitPatients(
        platform.repo,
        Object.values(P).map((nhs) => patientAt(nhs, OLD)),
      );
      await platform.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(platform.app.server.address() as AddressInfo).port}`;
      const practice = async (ods: string, role = 'R8000') =>
        new PracticeSystem(
          ods,
          base,
          await platform.token(role, { org: ods, user: `user-${ods}` }),
        );
      oldPractice = await practice(OLD, 'R8008');
      newPractice = await practice(NEW);
      thirdPractice = await practice(THIRD);
    });
    after(async () => platform?.close());

    /** The new practice registers the patient on PDS; the transfer the platform makes from that event. */
    async function transferAfterGpChange(nhs: string): Promise<any> {
      const patched = await newPractice.registerOnPds(nhs);
      assert.equal(patched.status, 200, patched.text.slice(0, 300));
      return eventually(`a transfer of ${nhs} in ${OLD}'s work queue`, async () =>
        (await oldPractice.workQueue()).find((t) => t.for.identifier.value === nhs),
      );
    }

    it('moves a record with a 12 MB chunked attachment from the old practice to the new one, to integrated', async () => {
      const task = await transferAfterGpChange(P.flow);
      assert.equal(task.requester.identifier.value, NEW, 'the new practice requests');
      assert.equal(task.owner.identifier.value, OLD, 'the old practice owns (sends)');
      assert.equal(stateOf(task), 'requested');
      assert.deepEqual(
        (await newPractice.findTransfers({ requester: NEW, patient: P.flow })).map((t) => t.id),
        [task.id],
        'the new practice can trace it too',
      );

      const scan: LocalAttachment = {
        id: 'scan-1',
        contentType: 'application/pdf',
        data: randomBytes(12 * MIB + 12345),
      };
      const letter: LocalAttachment = {
        id: 'letter-1',
        contentType: 'text/plain',
        data: Buffer.from('Discharge letter\n'.repeat(100)),
      };
      const ehr = ehrBundle(P.flow, [scan, letter]);
      const sent = await oldPractice.sendRecord(task.id, ehr, [scan, letter], CHUNK);
      assert.equal(sent.status, 200, sent.text.slice(0, 300));
      assert.equal(stateOf(sent.body), 'sending');
      assert.equal(sent.body.status, 'in-progress');

      assert.equal((await oldPractice.uploadAttachment(task.id, letter, CHUNK)).status, 200);
      const last = await oldPractice.uploadAttachment(task.id, scan, CHUNK);
      assert.equal(last.status, 200, last.text.slice(0, 300));
      assert.equal(stateOf(last.body), 'sent', 'the last chunk completes the send');
      assert.equal(received(last.body, 'scan-1'), 4, '12 MB + a bit in 4 MB chunks is 4 chunks');

      const seen = await newPractice.task(task.id);
      assert.equal(seen.status, 200);
      assert.equal(seen.body.status, 'completed');
      assert.equal(stateOf(seen.body), 'sent');
      const got = await newPractice.getEhr(task.id);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, ehr, 'the Bundle comes back as sent');

      const download = await newPractice.download(task.id, 'scan-1');
      assert.equal(download.status, 200, download.text);
      assert.equal(download.size, scan.data.length, 'every byte arrives');
      assert.equal(
        download.sha256,
        sha256(scan.data),
        'the reassembled attachment has the checksum of the original',
      );
      assert.equal(download.headers.get('x-content-sha256'), sha256(scan.data));
      assert.equal(download.headers.get('content-type'), 'application/pdf');

      const ack = await newPractice.acknowledge(task.id, 'accepted');
      assert.equal(ack.status, 200, ack.text.slice(0, 300));
      assert.equal(stateOf(ack.body), 'integrated');
      assert.equal(
        (await oldPractice.task(task.id)).body.businessStatus.coding[0].code,
        'integrated',
        'the old practice sees the integration',
      );

      const topics = await eventually('the integrated event', async () => {
        const mine = events.filter((e) => (e.body as any).taskId === task.id).map((e) => e.topic);
        return mine.includes('gp2gp.transfer.integrated') ? mine : undefined;
      });
      assert.deepEqual(
        topics,
        [
          'gp2gp.transfer.requested',
          'gp2gp.transfer.sending',
          'gp2gp.transfer.sent',
          'gp2gp.transfer.integrated',
        ],
        'one message per state change, in order',
      );
      assert.ok(
        events.every((e) => (e.body as any).taskId !== task.id || e.key === P.flow),
        'keyed by NHS Number',
      );

      const audit = (await platform.repo.audit.readAudit(0, 100_000))
        .map((e) => e.record)
        .filter((r) => r.patient === P.flow && r.action.startsWith('gp2gp.'));
      for (const action of [
        'gp2gp.request',
        'gp2gp.send',
        'gp2gp.chunk',
        'gp2gp.sent',
        'gp2gp.ehr.read',
        'gp2gp.attachment.read',
        'gp2gp.acknowledge',
      ]) {
        assert.ok(
          audit.some((r) => r.action === action),
          `audited with the NHS Number: ${action}`,
        );
      }
    });

    it('shows a third practice nothing: not in searches, 404 on every route, and the attempt audited', async () => {
      const task = await transferAfterGpChange(P.refused);
      assert.deepEqual(
        await thirdPractice.findTransfers({ patient: P.refused }),
        [],
        'not found by patient',
      );
      assert.deepEqual(
        await thirdPractice.findTransfers({ owner: OLD }),
        [],
        'not found by naming the owner',
      );
      for (const res of [
        await thirdPractice.task(task.id),
        await thirdPractice.getEhr(task.id),
        await thirdPractice.acknowledge(task.id, 'accepted'),
        await thirdPractice.sendRecord(task.id, ehrBundle(P.refused), [], CHUNK),
        await thirdPractice.putChunk(task.id, 'x', 0, Buffer.from('x')),
      ]) {
        assert.equal(res.status, 404, `third practice refused: ${res.text.slice(0, 200)}`);
        assert.equal(res.body.issue[0].details.coding[0].code, 'RESOURCE_NOT_FOUND');
      }
      assert.equal(stateOf((await oldPractice.task(task.id)).body), 'requested', 'nothing changed');
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) => r.org === THIRD && r.patient === P.refused && r.outcome.startsWith('refused 404'),
        ),
        'refusal audited against the patient',
      );
    });

    it('refuses a corrupted chunk, stays sending while a chunk is missing, completes when it arrives', async () => {
      const task = await transferAfterGpChange(P.faults);
      const file: LocalAttachment = {
        id: 'xray',
        contentType: 'image/jpeg',
        data: randomBytes(3 * 1024 * 1024 + 7),
      };
      const chunk = 1024 * 1024;
      assert.equal(
        (await oldPractice.sendRecord(task.id, ehrBundle(P.faults, [file]), [file], chunk)).status,
        200,
      );

      const good = file.data.subarray(0, chunk);
      const flipped = Buffer.from(good);
      flipped[10] ^= 0xff;
      const corrupt = await oldPractice.putChunk(task.id, 'xray', 0, flipped, sha256(good));
      assert.equal(corrupt.status, 400, corrupt.text.slice(0, 300));
      assert.match(corrupt.body.issue[0].diagnostics, /does not match its X-Chunk-SHA256/);
      assert.equal(
        received((await oldPractice.task(task.id)).body, 'xray'),
        0,
        'the corrupt chunk was not stored',
      );

      const short = await oldPractice.putChunk(task.id, 'xray', 0, good.subarray(0, 100));
      assert.equal(short.status, 400, 'a chunk of the wrong length is refused');
      const outOfRange = await oldPractice.putChunk(task.id, 'xray', 4, good);
      assert.equal(outOfRange.status, 400, 'a chunk index past the end is refused');

      const partial = await oldPractice.uploadAttachment(task.id, file, chunk, [2]);
      assert.equal(partial.status, 200);
      assert.equal(stateOf(partial.body), 'sending', 'a missing chunk leaves it sending');
      assert.equal(received(partial.body, 'xray'), 3);
      assert.equal(
        (await newPractice.getEhr(task.id)).status,
        409,
        'nothing to read before it is sent',
      );
      assert.equal((await newPractice.download(task.id, 'xray')).status, 409);

      const again = await oldPractice.putChunk(task.id, 'xray', 0, good);
      assert.equal(again.status, 200, 'an identical chunk sent again is accepted');
      const different = await oldPractice.putChunk(task.id, 'xray', 0, flipped);
      assert.equal(different.status, 409, 'a different chunk under a stored index is refused');

      const done = await oldPractice.putChunk(
        task.id,
        'xray',
        2,
        file.data.subarray(2 * chunk, 3 * chunk),
      );
      assert.equal(stateOf(done.body), 'sent', done.text.slice(0, 300));
      const download = await newPractice.download(task.id, 'xray');
      assert.equal(download.sha256, sha256(file.data));
    });

    it('fails the transfer when the reassembled attachment does not match the manifest checksum', async () => {
      const nhs = SPARE_NHS[7];
      await commitPatients(platform.repo, [patientAt(nhs, OLD)]);
      const task = await transferAfterGpChange(nhs);
      const file: LocalAttachment = {
        id: 'doc',
        contentType: 'application/pdf',
        data: randomBytes(2000),
      };
      assert.equal(
        (
          await oldPractice.sendRecord(task.id, ehrBundle(nhs, [file]), [file], 1000, {
            sha256: sha256(Buffer.from('other')),
          })
        ).status,
        200,
      );
      const last = await oldPractice.uploadAttachment(task.id, file, 1000);
      assert.equal(stateOf(last.body), 'failed');
      assert.equal(last.body.statusReason.coding[0].code, 'checksum-mismatch');
    });

    it('records a negative acknowledgement as failed with its reason, after which nothing moves', async () => {
      const task = await transferAfterGpChange(P.nack);
      assert.equal(
        stateOf((await oldPractice.sendRecord(task.id, ehrBundle(P.nack), [], CHUNK)).body),
        'sent',
        'a record without attachments is sent at once',
      );
      const noReason = await newPractice.acknowledge(task.id, 'rejected');
      assert.equal(noReason.status, 400, 'a negative acknowledgement needs a reason');
      const nack = await newPractice.acknowledge(task.id, 'rejected', 'non-compliant-record');
      assert.equal(nack.status, 200, nack.text.slice(0, 300));
      assert.equal(nack.body.status, 'failed');
      assert.equal(nack.body.statusReason.coding[0].code, 'non-compliant-record');
      const late = await newPractice.acknowledge(task.id, 'accepted');
      assert.equal(late.status, 409);
      assert.match(
        late.body.issue[0].diagnostics,
        /Transfer is 'failed'/,
        'the refusal names the current state',
      );
    });

    it('refuses illegal transitions with the current state named, changing nothing', async () => {
      const task = await transferAfterGpChange(P.illegal);
      const version = (await oldPractice.task(task.id)).headers.get('etag');
      const early = await newPractice.acknowledge(task.id, 'accepted');
      assert.equal(early.status, 409);
      assert.match(
        early.body.issue[0].diagnostics,
        /Transfer is 'requested'; \$acknowledge \(positive\) is allowed only when it is 'sent'/,
      );
      const wrongSender = await newPractice.sendRecord(task.id, ehrBundle(P.illegal), [], CHUNK);
      assert.equal(wrongSender.status, 403, 'only the old practice sends');
      const chunkFirst = await oldPractice.putChunk(task.id, 'a', 0, Buffer.from('abc'));
      assert.equal(chunkFirst.status, 409, 'no chunk before $send');
      const otherPatient = await oldPractice.sendRecord(
        task.id,
        ehrBundle(SPARE_NHS[9]),
        [],
        CHUNK,
      );
      assert.equal(otherPatient.status, 422, 'a Bundle about another patient is refused');
      assert.equal(
        (await oldPractice.task(task.id)).headers.get('etag'),
        version,
        'no refusal changed the transfer',
      );
      const refusals = (await platform.repo.audit.readAudit(0, 100_000))
        .map((e) => e.record)
        .filter((r) => r.patient === P.illegal && r.outcome.startsWith('refused'));
      assert.ok(
        refusals.some(
          (r) =>
            r.action === 'gp2gp.acknowledge' &&
            r.outcome === 'refused 409 INVALID_UPDATE' &&
            r.org === NEW,
        ),
        'an illegal transition is audited against the patient',
      );
      assert.ok(
        refusals.some((r) => r.action === 'gp2gp.send' && r.outcome.startsWith('refused 422')),
        'a refused body is audited against the patient',
      );

      const file: LocalAttachment = {
        id: 'a',
        contentType: 'text/plain',
        data: Buffer.from('abc'),
      };
      assert.equal(
        (await oldPractice.sendRecord(task.id, ehrBundle(P.illegal, [file]), [file], 3)).status,
        200,
      );
      const twice = await oldPractice.sendRecord(task.id, ehrBundle(P.illegal, [file]), [file], 3);
      assert.equal(twice.status, 409);
      assert.match(twice.body.issue[0].diagnostics, /Transfer is 'sending'/);
      await oldPractice.uploadAttachment(task.id, file, 3);
      const selfAck = await oldPractice.acknowledge(task.id, 'accepted');
      assert.equal(selfAck.status, 403, 'the old practice cannot acknowledge its own record');
    });

    it('lets the registered new practice request a record explicitly, once, and nobody else', async () => {
      const notRegistered = await newPractice.requestRecord(P.explicit, OLD);
      assert.equal(notRegistered.status, 403, 'the caller must be the registered practice on PDS');
      const patched = await newPractice.registerOnPds(P.explicit);
      assert.equal(patched.status, 200);
      // the PDS event makes a transfer too; wait for it, then an explicit request is a duplicate
      await eventually('the event-made transfer', async () =>
        (await oldPractice.workQueue()).find((t) => t.for.identifier.value === P.explicit),
      );
      const dup = await newPractice.requestRecord(P.explicit, OLD);
      assert.equal(dup.status, 409, dup.text.slice(0, 200));
      const bad = await newPractice.call('POST', '/gp2gp/FHIR/R4/Task', {
        body: {
          resourceType: 'Task',
          for: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '123' } },
        },
      });
      assert.equal(bad.status, 400);
      // a number PDS does not hold: PDS's published answer, as every service gives it (issue 17)
      const unknown = await newPractice.requestRecord(NHS.notFound, OLD);
      assert.equal(unknown.status, 404, unknown.text.slice(0, 200));
      assert.equal(unknown.body.issue[0].details.coding[0].code, 'RESOURCE_NOT_FOUND');
    });

    it('answers malformed requests with a 4xx OperationOutcome, never a 500 or a change', async () => {
      const nhs = SPARE_NHS[8];
      await commitPatients(platform.repo, [patientAt(nhs, OLD)]);
      const task = await transferAfterGpChange(nhs);
      const etag = (await oldPractice.task(task.id)).headers.get('etag');
      const T = `/gp2gp/FHIR/R4/Task/${task.id}`;
      const attempts: [string, Promise<any>][] = [
        [
          'send: not Parameters',
          oldPractice.call('POST', `${T}/$send`, { body: { resourceType: 'Bundle' } }),
        ],
        [
          'send: no ehr',
          oldPractice.call('POST', `${T}/$send`, {
            body: { resourceType: 'Parameters', parameter: [] },
          }),
        ],
        [
          'send: ehr not a Bundle',
          oldPractice.call('POST', `${T}/$send`, {
            body: {
              resourceType: 'Parameters',
              parameter: [{ name: 'ehr', resource: { resourceType: 'Patient' } }],
            },
          }),
        ],
        [
          'send: searchset Bundle',
          oldPractice.call('POST', `${T}/$send`, {
            body: {
              resourceType: 'Parameters',
              parameter: [{ name: 'ehr', resource: { ...ehrBundle(nhs), type: 'searchset' } }],
            },
          }),
        ],
        [
          'send: null entries',
          oldPractice.call('POST', `${T}/$send`, {
            body: {
              resourceType: 'Parameters',
              parameter: [
                {
                  name: 'ehr',
                  resource: { resourceType: 'Bundle', type: 'collection', entry: [null, 5] },
                },
              ],
            },
          }),
        ],
        [
          'send: attachment without parts',
          oldPractice.call('POST', `${T}/$send`, {
            body: {
              resourceType: 'Parameters',
              parameter: [{ name: 'ehr', resource: ehrBundle(nhs) }, { name: 'attachment' }],
            },
          }),
        ],
        [
          'send: negative size',
          oldPractice.call('POST', `${T}/$send`, {
            body: {
              resourceType: 'Parameters',
              parameter: [
                { name: 'ehr', resource: ehrBundle(nhs) },
                {
                  name: 'attachment',
                  part: [
                    { name: 'id', valueString: 'a' },
                    { name: 'contentType', valueCode: 'text/plain' },
                    { name: 'size', valueInteger: -1 },
                    { name: 'sha256', valueString: 'a'.repeat(64) },
                    { name: 'chunkSize', valueInteger: 1 },
                  ],
                },
              ],
            },
          }),
        ],
        [
          'send: bad id',
          oldPractice.call('POST', `${T}/$send`, {
            body: {
              resourceType: 'Parameters',
              parameter: [
                { name: 'ehr', resource: ehrBundle(nhs) },
                { name: 'attachment', part: [{ name: 'id', valueString: '../x' }] },
              ],
            },
          }),
        ],
        [
          'send: not JSON',
          oldPractice.call('POST', `${T}/$send`, {
            raw: Buffer.from('{nope'),
            contentType: 'application/fhir+json',
          }),
        ],
        ['ack: not Parameters', newPractice.call('POST', `${T}/$acknowledge`, { body: [1, 2] })],
        [
          'ack: unknown outcome',
          newPractice.call('POST', `${T}/$acknowledge`, {
            body: {
              resourceType: 'Parameters',
              parameter: [{ name: 'outcome', valueCode: 'maybe' }],
            },
          }),
        ],
        ['chunk: JSON body', oldPractice.call('PUT', `${T}/attachment/a/0`, { body: { a: 1 } })],
        [
          'chunk: no checksum',
          oldPractice.call('PUT', `${T}/attachment/a/0`, { raw: Buffer.from('abc') }),
        ],
        ['task: not a UUID', oldPractice.call('GET', '/gp2gp/FHIR/R4/Task/not-a-uuid')],
        ['search: unknown parameter', oldPractice.call('GET', '/gp2gp/FHIR/R4/Task?colour=red')],
        [
          'search: repeated parameter',
          oldPractice.call('GET', '/gp2gp/FHIR/R4/Task?owner=A&owner=B'),
        ],
        ['search: bad _count', oldPractice.call('GET', '/gp2gp/FHIR/R4/Task?_count=0')],
        ['request: no body', newPractice.call('POST', '/gp2gp/FHIR/R4/Task', { body: {} })],
      ];
      for (const [what, pending] of attempts) {
        const res = await pending;
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${what}: ${res.status} ${res.text.slice(0, 200)}`,
        );
        assert.equal(res.body?.resourceType, 'OperationOutcome', `${what}: an OperationOutcome`);
        assert.ok(!/at .*\.ts:|node_modules/.test(res.text), `${what}: no internals`);
      }
      assert.equal(
        (await oldPractice.task(task.id)).headers.get('etag'),
        etag,
        'no malformed request changed the transfer',
      );
    });

    it('refuses attachments over 100 MB, chunk sizes over the maximum and chunk bodies over the limit', async () => {
      const task = await transferAfterGpChange(P.limits);
      const file: LocalAttachment = { id: 'big', contentType: 'video/mp4', data: Buffer.alloc(10) };
      const huge = await oldPractice.sendRecord(
        task.id,
        ehrBundle(P.limits, [file]),
        [file],
        CHUNK,
        { size: 100 * MIB + 1 },
      );
      assert.equal(huge.status, 413, huge.text.slice(0, 200));
      assert.match(huge.body.issue[0].diagnostics, /largest accepted is 104857600 bytes/);
      const bigChunks = await oldPractice.sendRecord(
        task.id,
        ehrBundle(P.limits, [file]),
        [file],
        CHUNK + 1,
      );
      assert.equal(bigChunks.status, 400);
      const exactly = await oldPractice.sendRecord(
        task.id,
        ehrBundle(P.limits, [file]),
        [file],
        CHUNK,
        { size: 100 * MIB },
      );
      assert.equal(exactly.status, 200, '100 MB exactly is accepted');
      const overLimit = await oldPractice.putChunk(task.id, 'big', 0, Buffer.alloc(CHUNK + 1));
      assert.equal(
        overLimit.status,
        413,
        'a chunk body over the maximum is refused before it is read',
      );
      const atLimit = await oldPractice.putChunk(task.id, 'big', 0, randomBytes(CHUNK));
      assert.equal(
        atLimit.status,
        200,
        `a full 4 MB chunk passes the body limit: ${atLimit.text.slice(0, 200)}`,
      );
    });
  });
}
