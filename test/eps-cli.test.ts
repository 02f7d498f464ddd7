/**
 * `openspine prescriber key add|list|revoke`: registering prescribers' public signing keys, as a
 * real child process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { listPrescriberKeys } from '../src/services/eps/prescriber-keys.js';
import { openRepository } from '../src/store/open.js';
import { killAllChildren, runCli, storeFlags, type StoreTarget } from './helpers/child-server.js';
import { isolatedStoreConfig } from './helpers/stores.js';

after(killAllChildren);

describe('openspine prescriber key', () => {
  let target: StoreTarget;
  let cleanup: () => Promise<void>;
  before(async () => {
    const iso = await isolatedStoreConfig('sqlite');
    target = iso.config;
    cleanup = iso.cleanup;
  });
  after(async () => cleanup?.());

  it('adds, lists and revokes a key; refuses a private key and bad input', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const pubFile = join(target.dataDir, 'prescriber.pub.jwk');
    const privFile = join(target.dataDir, 'prescriber.priv.jwk');
    writeFileSync(pubFile, JSON.stringify(await exportJWK(publicKey)));
    writeFileSync(privFile, JSON.stringify(await exportJWK(privateKey)));

    let r = await runCli([
      'prescriber',
      'key',
      'add',
      '--user',
      'dr-cli',
      '--jwk',
      pubFile,
      ...storeFlags(target),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const kid = /key (\S+) for prescriber dr-cli/.exec(r.stdout)?.[1];
    assert.ok(kid, `prints the key id: ${r.stdout}`);
    r = await runCli([
      'prescriber',
      'key',
      'add',
      '--user',
      'dr-cli',
      '--jwk',
      pubFile,
      ...storeFlags(target),
    ]);
    assert.match(r.stdout, /already registered/, 'adding again is harmless');
    r = await runCli([
      'prescriber',
      'key',
      'add',
      '--user',
      'dr-other',
      '--jwk',
      pubFile,
      ...storeFlags(target),
    ]);
    assert.equal(r.code, 1, 'one key, one prescriber');
    r = await runCli([
      'prescriber',
      'key',
      'add',
      '--user',
      'dr-cli',
      '--jwk',
      privFile,
      ...storeFlags(target),
    ]);
    assert.equal(r.code, 1, 'a private key is refused');
    assert.match(r.stderr, /private key/, r.stderr);
    r = await runCli(['prescriber', 'key', 'add', '--user', 'dr-cli', ...storeFlags(target)]);
    assert.equal(r.code, 2, 'missing --jwk is a usage error');

    r = await runCli(['prescriber', 'key', 'list', '--user', 'dr-cli', ...storeFlags(target)]);
    assert.match(r.stdout, new RegExp(`${kid}\\s+ES256\\s+dr-cli\\s+active`), r.stdout);
    r = await runCli(['prescriber', 'key', 'revoke', kid!, ...storeFlags(target)]);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['prescriber', 'key', 'revoke', kid!, ...storeFlags(target)]);
    assert.equal(r.code, 1, 'revoking twice says so');

    const repo = await openRepository(target);
    try {
      const keys = await listPrescriberKeys(repo, 'dr-cli');
      assert.deepEqual(
        keys.map((k) => [k.id, k.status]),
        [[kid, 'revoked']],
        'stored as a resource, now revoked',
      );
      const audit = await repo.audit.readAudit(0, 1000);
      assert.deepEqual(
        audit
          .filter((a) => a.record.action.startsWith('eps.prescriber-key.'))
          .map((a) => a.record.action),
        ['eps.prescriber-key.add', 'eps.prescriber-key.revoke'],
        'each change audited',
      );
    } finally {
      await repo.close();
    }
  });
});
