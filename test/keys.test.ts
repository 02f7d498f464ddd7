/**
 * Signing-key rotation (`openspine keys rotate|list`, src/security/signing-keys.ts): after a rotation
 * and a restart, tokens the old key signed keep working until their overlap ends, new tokens and
 * new audit checkpoints carry the new kid, the JWKS publishes both, and the audit chain with
 * checkpoints from before and after the rotation still verifies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { decodeProtectedHeader } from 'jose';
import { loadConfig, type Config } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { AuditCheckpointSigner } from '../src/audit/checkpoint-signer.js';
import type { AuditRecord } from '../src/audit/types.js';
import {
  loadOrCreateSigningKey,
  mintToken,
  type SigningKey,
} from '../src/security/embedded-idp.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import { killAllChildren, runCli, storeFlags } from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);
const AE = '/security/FHIR/R4/AuditEvent';

const record = (i: number): AuditRecord => ({
  time: new Date(Date.UTC(2026, 5, 1, 0, 0, i)).toISOString(),
  requestId: `keys-${i}`,
  userId: 'u-1',
  userName: 'User 1',
  actorKind: 'user',
  role: 'R8000',
  org: 'A81001',
  patient: '9000000009',
  action: 'pds.read',
  outcome: 'success',
});

interface Node {
  app: FastifyInstance;
  repo: Repository;
  key: SigningKey;
}

for (const kind of stores) {
  describe(`signing-key rotation (${kind})`, () => {
    let config: Config;
    let cleanup: () => Promise<void>;
    let node: Node | undefined;
    let nextRecord = 1;

    /** A node as `serve` starts one: the store, and the data directory's keys as they are now. */
    const startNode = async (): Promise<Node> => {
      const repo = await openRepository(config);
      const key = await loadOrCreateSigningKey(config.dataDir);
      const app = await buildApp({ config, repo, signingKey: key, logger: false });
      await app.ready();
      return { app, repo, key };
    };
    const restart = async (): Promise<Node> => {
      await node?.app.close();
      await node?.repo.close();
      node = await startNode();
      return node;
    };
    const officerToken = (key: SigningKey) =>
      mintToken(key, {
        userId: 'privacy-officer-9',
        role: 'R5080',
        org: 'X26',
        audience: config.audience,
      });
    /** $verify as a privacy officer with this token: the status, and the chain's verdict when 200. */
    const verifyWith = async (token: string, at: Node = node!) => {
      const res = await at.app.inject({
        url: `${AE}/$verify`,
        headers: { authorization: `Bearer ${token}`, 'x-request-id': randomUUID() },
      });
      const params =
        res.statusCode === 200
          ? Object.fromEntries(
              (res.json().parameter as { name: string; valueBoolean?: boolean }[]).map((p) => [
                p.name,
                p.valueBoolean,
              ]),
            )
          : {};
      return { status: res.statusCode, valid: params.valid, body: res.body };
    };
    const jwksKids = async (at: Node = node!) => {
      const res = await at.app.inject({ url: '/.well-known/jwks.json' });
      assert.equal(res.statusCode, 200);
      return (res.json().keys as { kid: string; d?: string }[]).map((k) => {
        assert.equal(k.d, undefined, 'the JWKS publishes no private part');
        return k.kid;
      });
    };
    /** Appends audit entries and signs a checkpoint with the node's key; returns the checkpoint's kid. */
    const appendAndCheckpoint = async (count: number, at: Node = node!) => {
      await at.repo.commit({
        audit: Array.from({ length: count }, () => record(nextRecord++)),
      });
      const checkpoint = await new AuditCheckpointSigner(at.repo, at.key).tick();
      assert.ok(checkpoint, 'a checkpoint was signed');
      return decodeProtectedHeader(checkpoint.jws).kid;
    };
    const cli = (args: string[]) => runCli([...args, '--data', config.dataDir]);

    before(async () => {
      const isolated = await isolatedStoreConfig(kind);
      cleanup = isolated.cleanup;
      config = { ...loadConfig({}, {}), ...isolated.config, auditCheckpointSeconds: 0 };
      node = await startNode();
    });
    after(async () => {
      await node?.app.close();
      await node?.repo.close();
      await cleanup();
    });

    let oldKey: SigningKey;
    let oldToken: string;
    let newKid: string;

    it('rotate: old tokens still verify, new tokens and checkpoints carry the new kid, JWKS lists both, audit verifies', async () => {
      oldKey = node!.key;
      oldToken = await officerToken(oldKey);
      assert.equal((await verifyWith(oldToken)).status, 200);
      assert.equal(await appendAndCheckpoint(5), oldKey.kid);

      const rotated = await cli(['keys', 'rotate']);
      assert.equal(rotated.code, 0, rotated.stderr);
      await restart();
      newKid = node!.key.kid;
      assert.notEqual(newKid, oldKey.kid, 'the node signs with a new key after its restart');
      assert.match(rotated.stdout, new RegExp(`current  ${newKid}`));
      assert.deepEqual(
        node!.key.retired?.map((r) => r.kid),
        [oldKey.kid],
      );

      // a token the old key signed before the rotation still works on the restarted node
      const old = await verifyWith(oldToken);
      assert.equal(old.status, 200, old.body);
      assert.equal(old.valid, true, old.body);

      // new tokens carry the new kid (the CLI reads the rotated key file) and verify
      const minted = await cli(['token', '--role', 'R5080', '--user', 'po-2', '--org', 'X26']);
      assert.equal(minted.code, 0, minted.stderr);
      const newToken = minted.stdout.trim();
      assert.equal(decodeProtectedHeader(newToken).kid, newKid);
      assert.equal((await verifyWith(newToken)).status, 200);

      assert.deepEqual(await jwksKids(), [newKid, oldKey.kid]);

      // a checkpoint after the rotation is signed with the new key, anchored on the old key's one
      assert.equal(await appendAndCheckpoint(5), newKid);
      const verified = await runCli(['audit', 'verify', ...storeFlags(config)]);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /audit chain intact: .* 2 signed checkpoints verified/);
      assert.equal((await verifyWith(newToken)).valid, true, 'and $verify on the node agrees');

      const listed = await cli(['keys', 'list']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^current  ${newKid}$`, 'm'));
      assert.match(
        listed.stdout,
        new RegExp(`^retired  ${oldKey.kid}  retired \\S+  published and accepted until`, 'm'),
      );
    });

    it('several nodes: prepare, restart all, rotate, restart one: each accepts what the other signs', async () => {
      const k2 = node!.key.kid;
      const prepared = await cli(['keys', 'prepare']);
      assert.equal(prepared.code, 0, prepared.stderr);
      const k3 = /^next {5}(\S+)/m.exec(prepared.stdout)?.[1];
      assert.ok(k3, prepared.stdout);
      // every node restarts with the prepared key: published and accepted, signing nothing yet
      await restart();
      const other = await startNode();
      try {
        assert.equal(node!.key.kid, k2, 'preparing does not change the signing key');
        assert.equal(node!.key.next?.kid, k3);
        assert.deepEqual(await jwksKids(other), [k2, k3, oldKey.kid]);
        assert.match((await cli(['keys', 'list'])).stdout, new RegExp(`^next {5}${k3}`, 'm'));

        const rotated = await cli(['keys', 'rotate']);
        assert.equal(rotated.code, 0, rotated.stderr);
        assert.match(rotated.stdout, new RegExp(`^current  ${k3}  \\(the prepared key\\)`, 'm'));
        await restart(); // the first node of the rolling restart; `other` still signs with k2
        assert.equal(node!.key.kid, k3);
        assert.equal(node!.key.next, undefined);
        assert.equal(other.key.kid, k2);

        const fromNew = await officerToken(node!.key);
        const fromOld = await officerToken(other.key);
        assert.equal(
          (await verifyWith(fromNew, other)).status,
          200,
          'old node accepts the new key',
        );
        assert.equal((await verifyWith(fromOld)).status, 200, 'new node accepts the old key');
        // checkpoints from both nodes interleave on the one chain; each node anchors on the other's
        assert.equal(await appendAndCheckpoint(2), k3);
        assert.equal(await appendAndCheckpoint(2, other), k2);
        assert.equal(await appendAndCheckpoint(2), k3);
        assert.equal((await verifyWith(fromOld, other)).valid, true);
        assert.equal((await verifyWith(fromNew)).valid, true);
      } finally {
        await other.app.close();
        await other.repo.close();
      }

      // two rotations keep two retired keys, private to the owner
      const retiredDir = join(config.dataDir, 'keys', 'retired');
      const files = readdirSync(retiredDir).sort();
      assert.deepEqual(files, [`${oldKey.kid}.json`, `${k2}.json`].sort());
      for (const f of files)
        assert.equal(statSync(join(retiredDir, f)).mode & 0o777, 0o600, `${f} is private`);
      assert.equal(
        statSync(join(config.dataDir, 'keys', 'idp-signing-key.json')).mode & 0o777,
        0o600,
      );
      assert.equal(existsSync(join(config.dataDir, 'keys', 'next-signing-key.json')), false);
      assert.equal(existsSync(join(config.dataDir, 'keys', 'rotate.lock')), false);
      const listed = await cli(['keys', 'list']);
      assert.equal(listed.code, 0, listed.stderr);
      const lines = listed.stdout.trim().split('\n');
      assert.equal(lines.length, 3, listed.stdout);
      assert.match(lines[0], new RegExp(`^current  ${k3}$`));
      for (const kid of [k2, oldKey.kid])
        assert.match(listed.stdout, new RegExp(`^retired  ${kid}  retired `, 'm'));
      const verified = await runCli(['audit', 'verify', ...storeFlags(config)]);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /5 signed checkpoints verified/);
    });

    it("with no overlap the old key's tokens stop at once; its checkpoints still verify", async () => {
      const k3 = node!.key.kid;
      const k3Token = await officerToken(node!.key);
      assert.equal((await verifyWith(k3Token)).status, 200);
      const rotated = await cli(['keys', 'rotate', '--overlap-hours', '0']);
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.match(rotated.stdout, new RegExp(`^retired  ${k3} .* overlap ended`, 'm'));
      await restart();
      const k4 = node!.key.kid;
      const refused = await verifyWith(k3Token);
      assert.equal(refused.status, 401, refused.body);
      assert.match(refused.body, /signing key has been retired/);
      assert.equal((await verifyWith(oldToken)).status, 200, "the first key's overlap runs on");
      assert.equal((await jwksKids()).includes(k3), false, 'k3 is no longer published');
      assert.deepEqual((await jwksKids()).slice(0, 1), [k4]);

      assert.equal(await appendAndCheckpoint(3), k4);
      const verified = await runCli(['audit', 'verify', ...storeFlags(config)]);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /6 signed checkpoints verified/);
      const jwks = await cli(['keys', 'list', '--jwks']);
      assert.equal(jwks.code, 0, jwks.stderr);
      const all = (JSON.parse(jwks.stdout).keys as { kid: string; d?: string }[]).map((k) => {
        assert.equal(k.d, undefined);
        return k.kid;
      });
      assert.equal(all.length, 4);
      assert.ok(all.includes(k3) && all.includes(k4) && all.includes(oldKey.kid));
    });

    it('keys rotate refuses while another rotation holds the lock, and bad flags', async () => {
      const bad = await cli(['keys', 'rotate', '--overlap-hours', 'soon']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--overlap-hours must be a whole number/);
      const lock = join(config.dataDir, 'keys', 'rotate.lock');
      writeFileSync(lock, '');
      try {
        const locked = await cli(['keys', 'rotate']);
        assert.equal(locked.code, 1);
        assert.match(locked.stderr, /another key rotation holds/);
      } finally {
        unlinkSync(lock);
      }
      const listed = await cli(['keys', 'list']);
      assert.match(listed.stdout, new RegExp(`^current  ${node!.key.kid}$`, 'm'), 'unchanged');
    });
  });
}
