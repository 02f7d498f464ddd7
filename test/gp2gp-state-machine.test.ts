/**
 * The GP2GP transfer state machine: the transition table itself, the timeout sweep with an injected
 * clock (request notice re-sent with its attempt count, then failed 'timeout'; stuck sending failed),
 * overlapping sweeps and racing acknowledgements under optimistic concurrency, and the idempotent
 * PDS gp-change consumer, on both stores.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Task } from 'fhir/r4.js';
import { FhirError } from '../src/fhir/errors.js';
import type { RequestContext } from '../src/context.js';
import { PDS_GP_CHANGE } from '../src/services/pds/index.js';
import { ChunkUploads } from '../src/services/gp2gp/chunk-upload.js';
import { handleGpChange } from '../src/services/gp2gp/gp-change-consumer.js';
import { gp2gpOptions } from '../src/services/gp2gp/options.js';
import { sweepTransfers } from '../src/services/gp2gp/sweep.js';
import { attemptsOf, deadlineOf, stateOf, TASK } from '../src/services/gp2gp/transfer-model.js';
import { TransferService } from '../src/services/gp2gp/transfer-service.js';
import { readTransfer, systemContext } from '../src/services/gp2gp/transfer-store.js';
import { TRANSITIONS, transition, type TransferAction } from '../src/services/gp2gp/transitions.js';
import type { StoredResource } from '../src/store/resource-store.js';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import type { JobScheduler } from '../src/messaging/types.js';
import { GP2GP_SWEEP_JOB } from '../src/services/gp2gp/routes.js';
import { loadOrCreateSigningKey } from '../src/security/embedded-idp.js';
import { openRepository } from '../src/store/open.js';
import { AuditWriter } from '../src/audit/audit-writer.js';
import { SPARE_NHS } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { ehrBundle, sha256 } from './helpers/practice-system.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const OLD = 'B82001',
  NEW = 'C83001';
const MINUTE = 60_000;

function practiceCtx(org: string): RequestContext {
  return {
    requestId: randomUUID(),
    principal: {
      kind: 'user',
      userId: `user-${org}`,
      role: 'R8000',
      org,
      sessionId: 's',
      issuer: 'test',
      expiresAt: 0,
    },
  };
}

const refusal = (fn: () => unknown, status: number, pattern: RegExp) =>
  assert.throws(
    fn,
    (err: unknown) =>
      err instanceof FhirError && err.status === status && pattern.test(err.diagnostics),
    `expected ${status} matching ${pattern}`,
  );

describe('GP2GP transition table', () => {
  it('takes the happy path requested -> sending -> sent -> integrated', () => {
    assert.equal(transition('requested', 'send', 'owner'), 'sending');
    assert.equal(transition('sending', 'chunk', 'owner'), 'sending');
    assert.equal(transition('sending', 'complete', 'owner'), 'sent');
    assert.equal(transition('sent', 'accept', 'requester'), 'integrated');
  });

  it('leads every failure to failed and lets nothing leave a final state', () => {
    for (const [action, from] of [
      ['reject', 'requested'],
      ['timeout', 'requested'],
      ['timeout', 'sending'],
      ['corrupt', 'sending'],
      ['reject-ack', 'sent'],
    ] as const) {
      const actor = TRANSITIONS[action][0].by;
      assert.equal(transition(from, action, actor), 'failed', `${action} from ${from}`);
    }
    for (const action of Object.keys(TRANSITIONS) as TransferAction[]) {
      for (const final of ['integrated', 'failed'] as const) {
        refusal(
          () => transition(final, action, TRANSITIONS[action][0].by),
          409,
          new RegExp(`Transfer is '${final}'`),
        );
      }
    }
  });

  it('refuses the wrong party with 403 and the wrong state with 409 naming it', () => {
    refusal(() => transition('sent', 'accept', 'owner'), 403, /requesting \(new\) practice/);
    refusal(() => transition('requested', 'send', 'requester'), 403, /sending \(old\) practice/);
    refusal(() => transition('requested', 'timeout', 'owner'), 403, /platform/);
    refusal(
      () => transition('sending', 'accept', 'requester'),
      409,
      /Transfer is 'sending'.*only when it is 'sent'/,
    );
  });
});

for (const kind of await storesUnderTest()) {
  describe(`GP2GP transfers over time (${kind})`, () => {
    let platform: TestPlatform;
    const t0 = new Date('2026-01-05T09:00:00.000Z');
    let clock = t0;
    const options = gp2gpOptions({
      requestTimeoutMs: 60 * MINUTE,
      maxRequestAttempts: 3,
      sendingTimeoutMs: 30 * MINUTE,
      now: () => clock,
    });
    let service: TransferService;
    let n = 0;
    const nextPatient = () => SPARE_NHS[n++];

    before(async () => {
      platform = await startTestPlatform(kind);
      // these tests sweep on a simulated clock; the platform's own sweep runs on the real one, which
      // is months after t0, and would race them for the same transfers
      await platform.scheduler.stop();
      service = new TransferService(
        platform.repo,
        new AuditWriter(platform.repo),
        'http://test/gp2gp/FHIR/R4',
        options,
      );
    });
    after(async () => platform?.close());

    async function newTransfer(): Promise<StoredResource<Task>> {
      clock = t0;
      const created = await service.create(systemContext('test'), {
        nhsNumber: nextPatient(),
        requester: NEW,
        owner: OLD,
        trigger: 'test',
      });
      assert.ok(created, 'transfer created');
      return created;
    }
    const reread = async (id: string) => (await readTransfer(platform.repo, id))!;
    const at = (minutes: number) => new Date(t0.getTime() + minutes * MINUTE);

    it('re-sends the request notice when the old practice is silent, then fails it with reason timeout', async () => {
      const { id } = await newTransfer();
      assert.equal(deadlineOf((await reread(id)).resource), at(60).toISOString());
      assert.deepEqual(
        await sweepTransfers(platform.repo, options, at(59)),
        { resent: 0, failed: 0 },
        'nothing is due before the deadline',
      );
      assert.equal((await sweepTransfers(platform.repo, options, at(61))).resent, 1);
      let task = (await reread(id)).resource;
      assert.equal(stateOf(task), 'requested');
      assert.equal(attemptsOf(task), 2, 'second request notice');
      assert.equal(
        deadlineOf(task),
        at(121).toISOString(),
        'next deadline one timeout after the notice',
      );
      await sweepTransfers(platform.repo, options, at(122));
      assert.equal(attemptsOf((await reread(id)).resource), 3);
      await sweepTransfers(platform.repo, options, at(183));
      task = (await reread(id)).resource;
      assert.equal(stateOf(task), 'failed');
      assert.equal(task.status, 'failed');
      assert.equal(task.statusReason?.coding?.[0]?.code, 'timeout');
      assert.equal(deadlineOf(task), undefined, 'nothing waits on a failed transfer');
      assert.deepEqual(
        await sweepTransfers(platform.repo, options, at(10_000)),
        { resent: 0, failed: 0 },
        'a failed transfer is never swept again',
      );
      const audit = (await platform.repo.audit.readAudit(0, 100_000))
        .map((e) => e.record)
        .filter((r) => (r.detail as any)?.task === id);
      assert.deepEqual(
        audit.map((r) => r.action),
        ['gp2gp.request', 'gp2gp.request.resend', 'gp2gp.request.resend', 'gp2gp.timeout'],
      );
      const outbox = (await platform.repo.messaging.readOutbox(0, 100_000)).filter(
        (m) => (m.body as any).taskId === id,
      );
      assert.deepEqual(
        outbox.map((m) => `${m.topic}#${(m.body as any).attempt}`),
        [
          'gp2gp.transfer.requested#1',
          'gp2gp.transfer.requested#2',
          'gp2gp.transfer.requested#3',
          'gp2gp.transfer.failed#3',
        ],
        'each notice and the failure published in its commit',
      );
    });

    it('stops the clock once the old practice sends, and fails a send whose chunks stop arriving', async () => {
      const { id } = await newTransfer();
      clock = at(30);
      const data = Buffer.from('0123456789');
      const manifest = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'ehr', resource: ehrBundle(SPARE_NHS[n - 1]) },
          {
            name: 'attachment',
            part: [
              { name: 'id', valueString: 'a1' },
              { name: 'contentType', valueCode: 'text/plain' },
              { name: 'size', valueInteger: 10 },
              { name: 'sha256', valueString: sha256(data) },
              { name: 'chunkSize', valueInteger: 5 },
            ],
          },
        ],
      };
      await service.send(practiceCtx(OLD), id, manifest);
      assert.equal(
        deadlineOf((await reread(id)).resource),
        at(60).toISOString(),
        'the sending timeout runs from the send',
      );
      clock = at(50);
      const uploads = new ChunkUploads(platform.repo, 'http://test', options);
      await uploads.put(practiceCtx(OLD), await reread(id), 'owner', {
        attachmentId: 'a1',
        index: '0',
        data: data.subarray(0, 5),
        sha256: sha256(data.subarray(0, 5)),
      });
      assert.equal(
        deadlineOf((await reread(id)).resource),
        at(80).toISOString(),
        'progress moves the deadline',
      );
      assert.deepEqual(await sweepTransfers(platform.repo, options, at(79)), {
        resent: 0,
        failed: 0,
      });
      assert.equal((await sweepTransfers(platform.repo, options, at(81))).failed, 1);
      const task = (await reread(id)).resource;
      assert.equal(stateOf(task), 'failed');
      assert.equal(task.statusReason?.coding?.[0]?.code, 'timeout');
      await assert.rejects(
        uploads.put(practiceCtx(OLD), await reread(id), 'owner', {
          attachmentId: 'a1',
          index: '1',
          data: data.subarray(5),
          sha256: sha256(data.subarray(5)),
        }),
        (err: unknown) => err instanceof FhirError && err.status === 409,
        'a chunk after the timeout is refused',
      );
    });

    it('fails a sent record the new practice never acknowledges, after the acknowledgement timeout', async () => {
      const { id } = await newTransfer();
      clock = at(10);
      await service.send(practiceCtx(OLD), id, {
        resourceType: 'Parameters',
        parameter: [{ name: 'ehr', resource: ehrBundle(SPARE_NHS[n - 1]) }],
      });
      assert.equal(stateOf((await reread(id)).resource), 'sent');
      const eightDays = 8 * 24 * 60;
      assert.equal(
        (await sweepTransfers(platform.repo, options, at(10 + eightDays - 1))).failed,
        0,
        'not before eight days',
      );
      assert.equal(
        (await sweepTransfers(platform.repo, options, at(10 + eightDays + 1))).failed,
        1,
      );
      const task = (await reread(id)).resource;
      assert.equal(stateOf(task), 'failed');
      assert.match(task.statusReason?.text ?? '', /did not acknowledge/);
    });

    it('lets only one of two overlapping sweeps re-send a notice', async () => {
      const { id } = await newTransfer();
      const results = await Promise.all([
        sweepTransfers(platform.repo, options, at(61)),
        sweepTransfers(platform.repo, options, at(61)),
      ]);
      assert.equal(
        results.reduce((s, r) => s + r.resent, 0),
        1,
        `one notice between them: ${JSON.stringify(results)}`,
      );
      assert.equal(attemptsOf((await reread(id)).resource), 2, 'attempt counted once');
    });

    it('lets exactly one of two racing acknowledgements win', async () => {
      const { id } = await newTransfer();
      await service.send(practiceCtx(OLD), id, {
        resourceType: 'Parameters',
        parameter: [{ name: 'ehr', resource: ehrBundle(SPARE_NHS[n - 1]) }],
      });
      const ack = (outcome: string) =>
        service.acknowledge(practiceCtx(NEW), id, {
          resourceType: 'Parameters',
          parameter: [
            { name: 'outcome', valueCode: outcome },
            { name: 'reason', valueCode: 'integration-failed' },
          ],
        });
      const settled = await Promise.allSettled([ack('accepted'), ack('rejected')]);
      assert.equal(
        settled.filter((s) => s.status === 'fulfilled').length,
        1,
        'one acknowledgement wins',
      );
      const final = (await reread(id)).resource;
      assert.ok(['integrated', 'failed'].includes(stateOf(final)), `final state ${stateOf(final)}`);
      assert.equal(
        (await reread(id)).version,
        3,
        'created, sent, acknowledged: three versions, no more',
      );
    });

    it('creates one transfer per gp-change event, however often it is delivered, and ignores changes that move no record', async () => {
      const nhs = SPARE_NHS[20];
      const event = {
        id: randomUUID(),
        topic: PDS_GP_CHANGE,
        body: {
          nhsNumber: nhs,
          version: 2,
          time: t0.toISOString(),
          event: 'gp-change',
          previousPractice: OLD,
          practice: NEW,
        },
      };
      assert.equal(await handleGpChange(service, event), 'created');
      assert.equal(
        await handleGpChange(service, event),
        'exists',
        'a redelivery finds the same transfer',
      );
      const ids = await platform.repo.search({
        type: TASK,
        criteria: [{ any: [{ param: 'patient', op: 'eq', value: nhs }] }],
        limit: 10,
      });
      assert.equal(ids.length, 1, 'one transfer');
      const firstRegistration = {
        ...event,
        id: randomUUID(),
        body: { ...event.body, previousPractice: null },
      };
      assert.equal(
        await handleGpChange(service, firstRegistration),
        'ignored',
        'no old practice, nothing to move',
      );
      const ended = { ...event, id: randomUUID(), body: { ...event.body, practice: null } };
      assert.equal(await handleGpChange(service, ended), 'ignored');
      assert.equal(
        await handleGpChange(service, { ...event, id: randomUUID(), body: { nhsNumber: 'x' } }),
        'ignored',
      );
    });
  });
}

describe('GP2GP sweep as a cluster-wide job', () => {
  it('is scheduled on the platform scheduler and, when run, expires due transfers', async () => {
    const { config: storeConfig, cleanup } = await isolatedStoreConfig('sqlite');
    const config = { ...loadConfig({}, {}), ...storeConfig };
    const repo = await openRepository(config);
    const jobs = new Map<string, { intervalMs: number; job: () => Promise<void> }>();
    const scheduler: JobScheduler = {
      every: (name, intervalMs, job) => {
        jobs.set(name, { intervalMs, job });
      },
      start: async () => {},
      stop: async () => {},
    };
    const app = await buildApp({
      config,
      repo,
      signingKey: await loadOrCreateSigningKey(config.dataDir),
      logger: false,
      scheduler,
    });
    try {
      await app.ready();
      const scheduled = jobs.get(GP2GP_SWEEP_JOB);
      assert.ok(scheduled, `job ${GP2GP_SWEEP_JOB} scheduled; have ${[...jobs.keys()].join(', ')}`);
      // a transfer whose deadline passed long ago (created with a clock in the past)
      const past = new TransferService(
        repo,
        new AuditWriter(repo),
        'http://test',
        gp2gpOptions({ now: () => new Date('2020-01-01T00:00:00Z') }),
      );
      const created = await past.create(systemContext('test'), {
        nhsNumber: SPARE_NHS[21],
        requester: NEW,
        owner: OLD,
        trigger: 'test',
      });
      await scheduled.job();
      assert.equal(
        attemptsOf((await readTransfer(repo, created!.id))!.resource),
        2,
        'the scheduled run re-sent the notice',
      );
    } finally {
      await app.close();
      await repo.close();
      await cleanup();
    }
  });
});
