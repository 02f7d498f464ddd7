/** Messaging configuration: flags over environment over defaults, bad values refused at start-up. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { loadConfig } from '../src/config.js';
import { ConsumerRegistry } from '../src/messaging/consumer-registry.js';
import { topicMatcher } from '../src/messaging/topic-match.js';
import { durableName, partitionOf } from '../src/messaging/nats/subjects.js';

describe('messaging configuration', () => {
  it('defaults to the embedded bus with a node id of host and pid', () => {
    const c = loadConfig({}, {});
    assert.equal(c.messaging, 'embedded');
    assert.equal(c.natsUrl, 'nats://127.0.0.1:4222');
    assert.equal(c.natsStream, 'OPENSPINE');
    assert.equal(c.nodeId, `${hostname()}-${process.pid}`);
    assert.equal(c.messagePollMs, 100);
  });

  it('takes flags over the environment', () => {
    const env = {
      OPENSPINE_MESSAGING: 'nats',
      OPENSPINE_NATS_URL: 'nats://env:4222',
      OPENSPINE_NODE_ID: 'env-node',
      OPENSPINE_MESSAGE_POLL_MS: '50',
    };
    const fromEnv = loadConfig({}, env);
    assert.deepEqual(
      [fromEnv.messaging, fromEnv.natsUrl, fromEnv.nodeId, fromEnv.messagePollMs],
      ['nats', 'nats://env:4222', 'env-node', 50],
    );
    const fromFlags = loadConfig(
      {
        messaging: 'embedded',
        'nats-url': 'nats://flag:4222',
        'node-id': 'flag-node',
        'nats-stream': 'S_1',
      },
      env,
    );
    assert.deepEqual(
      [fromFlags.messaging, fromFlags.natsUrl, fromFlags.nodeId, fromFlags.natsStream],
      ['embedded', 'nats://flag:4222', 'flag-node', 'S_1'],
    );
  });

  it('refuses an unknown bus, a bad stream name and a bad poll interval', () => {
    assert.throws(
      () => loadConfig({ messaging: 'kafka' }, {}),
      /--messaging must be embedded or nats/,
    );
    assert.throws(() => loadConfig({ 'nats-stream': 'a.b' }, {}), /--nats-stream/);
    assert.throws(() => loadConfig({ 'message-poll-ms': '-1' }, {}), /--message-poll-ms/);
  });
});

describe('consumers and topics', () => {
  it('matches exact topics and prefix.* patterns only', () => {
    const wants = topicMatcher(['pds.patient.*', 'eps.prescription.created']);
    assert.ok(wants('pds.patient.death'), 'under the prefix');
    assert.ok(wants('pds.patient.address.line'), 'deeper under the prefix');
    assert.ok(wants('eps.prescription.created'), 'exact');
    assert.ok(!wants('pds.patients.death'), 'not a token prefix');
    assert.ok(!wants('pds.patient'), 'the prefix itself is not under it');
    assert.ok(!wants('eps.prescription.cancelled'), 'other exact topic');
  });

  it('refuses duplicate or malformed consumers and late registration', () => {
    const r = new ConsumerRegistry();
    const noop = async () => {};
    r.add({ name: 'a.b', topics: ['t.*'] }, noop);
    assert.throws(() => r.add({ name: 'a.b', topics: ['t.x'] }, noop), /already registered/);
    assert.throws(() => r.add({ name: 'a b', topics: ['t.x'] }, noop), /invalid consumer name/);
    assert.throws(() => r.add({ name: 'c', topics: [] }, noop), /takes no topics/);
    assert.throws(() => r.add({ name: 'c', topics: ['t.>'] }, noop), /invalid topic pattern/);
    assert.throws(() => r.add({ name: 'c', topics: ['t'], maxAttempts: 0 }, noop), /maxAttempts/);
    r.close();
    assert.throws(() => r.add({ name: 'd', topics: ['t'] }, noop), /after the bus started/);
  });

  it('spreads keys over partitions stably and names durables without dots', () => {
    assert.equal(partitionOf('9000000009', 8), partitionOf('9000000009', 8));
    const used = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(`key-${i}`, 8)));
    assert.equal(used.size, 8, 'every partition gets keys');
    assert.equal(durableName('notifications.router', 3), 'notifications_router_p3');
  });
});
