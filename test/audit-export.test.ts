/**
 * Signed audit chain heads and the verifiable export: the checkpoint signer, $verify checking the
 * stored checkpoints, $export, and the offline verifier (module and `openspine audit verify-export`)
 * detecting every kind of tampering with nothing but the public key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { chainHash } from '../src/audit/chain.js';
import { AuditCheckpointSigner } from '../src/audit/checkpoint-signer.js';
import {
  keysOf,
  verifyAuditExport,
  type AuditExportDocument,
} from '../src/audit/export-verifier.js';
import { CHECKPOINT_TYP, statementVerifier } from '../src/audit/signed-head.js';
import type { AuditRecord } from '../src/audit/types.js';
import { killAllChildren, runCli } from './helpers/child-server.js';
import { spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);
const AE = '/security/FHIR/R4/AuditEvent';

const entry = (i: number): AuditRecord => ({
  time: new Date(Date.UTC(2026, 5, 1, 0, 0, i)).toISOString(),
  requestId: `export-${i}`,
  userId: `u-${i % 3}`,
  userName: `User ${i % 3}`,
  actorKind: 'user',
  role: 'R8000',
  org: 'A81001',
  patient: '9000000009',
  action: 'pds.read',
  outcome: 'success',
});

/** Runs statements straight against the store, around the application (as an attacker with database access would). */
async function sql(platform: TestPlatform, statements: [string, unknown[]?][]): Promise<any[][]> {
  const out: any[][] = [];
  if (platform.config.store === 'sqlite') {
    const db = new Database(join(platform.dataDir, 'openspine.db'));
    try {
      for (const [text, params = []] of statements) {
        const stmt = db.prepare(text.replace(/\$\d+/g, '?'));
        out.push(stmt.reader ? stmt.all(...params) : (stmt.run(...params), []));
      }
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({
      connectionString: platform.config.databaseUrl,
      options: `-c search_path=${platform.config.databaseSchema}`,
    });
    await client.connect();
    try {
      for (const [text, params = []] of statements)
        out.push((await client.query(text, params)).rows);
    } finally {
      await client.end();
    }
  }
  return out;
}

const allowTampering = (platform: TestPlatform): [string][] =>
  platform.config.store === 'sqlite'
    ? [
        ['DROP TRIGGER IF EXISTS audit_log_no_update'],
        ['DROP TRIGGER IF EXISTS audit_log_no_delete'],
        ['DROP TRIGGER IF EXISTS audit_checkpoints_no_update'],
      ]
    : [
        ['ALTER TABLE audit_log DISABLE TRIGGER ALL'],
        ['ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL'],
      ];

const clone = <T>(v: T): T => structuredClone(v);

/** The JWS with its payload replaced (and the signature left as it was). */
function editPayload(jws: string, edit: (claims: any) => void): string {
  const [h, p, s] = jws.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  edit(claims);
  return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
}

async function otherKey(kid?: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    ...(await exportJWK(publicKey)),
    alg: 'ES256',
    use: 'sig',
    ...(kid ? { kid } : { kid: 'another-key' }),
  };
}

for (const kind of stores) {
  describe(`audit checkpoints and export (${kind})`, () => {
    let platform: TestPlatform;
    let officer: string;
    let signer: AuditCheckpointSigner;
    let jwks: { keys: JWK[] };
    let doc: AuditExportDocument;
    const dir = mkdtempSync(join(tmpdir(), 'openspine-export-'));

    const exportRange = async (qs: string) =>
      platform.request({ url: `${AE}/$export?${qs}`, token: officer });
    const verifyParams = async () => {
      const res = await platform.request({ url: `${AE}/$verify`, token: officer });
      assert.equal(res.statusCode, 200, res.body);
      return Object.fromEntries(
        (res.json().parameter as any[]).map((p) => [
          p.name,
          p.valueBoolean ?? p.valueInteger ?? p.valueString,
        ]),
      );
    };

    before(async () => {
      platform = await startTestPlatform(kind, { config: { auditCheckpointSeconds: 0 } });
      officer = await platform.token('R5080', { user: 'privacy-officer-2', org: 'X26' });
      signer = new AuditCheckpointSigner(platform.repo, platform.key);
      jwks = (await platform.request({ url: '/.well-known/jwks.json', token: null })).json();
    });
    after(async () => {
      await platform.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the signer signs the chain head when it has moved, and only then', async () => {
      assert.equal(await signer.tick(), null, 'nothing to sign in an empty log');
      for (const batch of [
        [1, 10],
        [11, 20],
      ]) {
        await platform.repo.commit({
          audit: Array.from({ length: batch[1] - batch[0] + 1 }, (_, k) => entry(batch[0] + k)),
        });
        const head = await platform.repo.audit.auditHead();
        const cp = await signer.tick();
        assert.ok(cp, 'a checkpoint was signed');
        assert.equal(cp.seq, head.seq);
        assert.equal(cp.hash, head.hash);
        assert.deepEqual(await platform.repo.audit.latestAuditCheckpoint(), cp, 'and stored');
        const checked = await statementVerifier(jwks.keys)(cp.jws, CHECKPOINT_TYP);
        assert.ok('claims' in checked, JSON.stringify(checked));
        assert.deepEqual(checked.claims, { seq: cp.seq, hash: cp.hash, time: cp.time });
        assert.equal(await signer.tick(), null, 'the head has not moved since');
      }
      await platform.repo.commit({ audit: Array.from({ length: 10 }, (_, k) => entry(21 + k)) });
      // a checkpoint is not an access token, though the same key signs both
      const cp = (await platform.repo.audit.latestAuditCheckpoint())!;
      const res = await platform.request({ url: `${AE}?patient=9000000009`, token: cp.jws });
      assert.equal(res.statusCode, 401);
    });

    it('$verify recomputes the chain and checks every signed checkpoint', async () => {
      const v = await verifyParams();
      assert.equal(v.valid, true, JSON.stringify(v));
      assert.equal(v.checkpointsVerified, 2);
      assert.ok(v.entriesVerified >= 30, JSON.stringify(v));
    });

    it('$export gives a document that verifies with only the public key', async () => {
      const res = await exportRange('from=5&to=25');
      assert.equal(res.statusCode, 200, res.body);
      doc = res.json();
      assert.deepEqual(
        doc.entries.map((e) => e.seq),
        Array.from({ length: 21 }, (_, i) => 5 + i),
      );
      assert.deepEqual(
        doc.checkpoints.map((c) => c.seq),
        [10, 20],
      );
      const stored = await platform.repo.audit.readAudit(4, 21);
      assert.deepEqual(
        doc.entries,
        stored.map(({ seq, recordJson, prevHash, hash }) => ({ seq, recordJson, prevHash, hash })),
        'entries exactly as stored',
      );
      assert.deepEqual(doc.publicJwk, jwks.keys[0]);
      const result = await verifyAuditExport(doc, keysOf(jwks));
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.equal(result.entriesVerified, 21);
      assert.equal(result.checkpointsVerified, 2);
      assert.equal(result.signed?.from, 5);
      assert.equal(result.signed?.to, 25);
      assert.equal(result.signed?.hash, stored[20].hash);

      const whole = await exportRange('');
      assert.equal(whole.statusCode, 200, whole.body);
      const all = whole.json() as AuditExportDocument;
      assert.equal(all.from, 1);
      assert.ok(all.to >= 30, 'up to the head');
      assert.equal(
        (await verifyAuditExport(all, keysOf(jwks.keys[0]))).ok,
        true,
        'a single JWK works too',
      );
      // the export was audited
      const last = (await platform.repo.audit.readAudit(all.to, 10)).map((e) => e.record);
      assert.ok(
        last.some(
          (r) =>
            r.action === 'audit.read' &&
            r.outcome === 'exported' &&
            r.userId === 'privacy-officer-2',
        ),
        'export audited',
      );
    });

    it('detects each kind of tampering with the export', async () => {
      const keys = keysOf(jwks);
      const at = (d: AuditExportDocument, seq: number) => d.entries.findIndex((e) => e.seq === seq);
      const check = async (
        name: string,
        d: AuditExportDocument,
        brokenAt: number | undefined,
        reason: RegExp,
      ) => {
        const r = await verifyAuditExport(d, keys);
        assert.equal(r.ok, false, `${name} was not detected`);
        assert.equal(r.brokenAt, brokenAt, `${name}: ${JSON.stringify(r)}`);
        assert.match(r.reason ?? '', reason, name);
      };

      const edited = clone(doc);
      edited.entries[at(edited, 12)].recordJson = edited.entries[at(edited, 12)].recordJson.replace(
        'u-0',
        'u-2',
      );
      await check('an edited entry', edited, 12, /modified/);

      // edited and every later hash recomputed: self-consistent, but not what the server signed
      const rehashed = clone(doc);
      let prev = rehashed.entries[at(rehashed, 12) - 1].hash;
      for (const e of rehashed.entries.slice(at(rehashed, 12))) {
        if (e.seq === 12) e.recordJson = e.recordJson.replace('pds.read', 'pds.update');
        e.prevHash = prev;
        e.hash = chainHash(prev, e.seq, e.recordJson);
        prev = e.hash;
      }
      await check('a re-hashed rewrite', rehashed, 20, /checkpoint at entry 20/);
      await check(
        'a re-hashed rewrite without its checkpoints',
        { ...rehashed, checkpoints: [] },
        25,
        /signed head hash/,
      );

      for (const seq of [15, 5, 25]) {
        const dropped = clone(doc);
        dropped.entries.splice(at(dropped, seq), 1);
        if (seq === 5) dropped.from = 6; // the unsigned fields lie too; the signed head does not
        await check(
          `dropping entry ${seq}`,
          dropped,
          seq,
          /expected entry|stops at entry|previous-hash/,
        );
      }

      const swapped = clone(doc);
      const [i8, i9] = [at(swapped, 8), at(swapped, 9)];
      [swapped.entries[i8], swapped.entries[i9]] = [swapped.entries[i9], swapped.entries[i8]];
      await check('reordered entries', swapped, 8, /expected entry 8, found 9/);

      for (const [name, edit] of [
        [
          'a signed head moved back',
          (c: any) => {
            c.seq = 24;
            c.hash = doc.entries[at(doc, 24)].hash;
          },
        ],
        [
          'a signed head starting later',
          (c: any) => {
            c.from = 6;
            c.prevHash = doc.entries[at(doc, 6)].prevHash;
          },
        ],
        [
          'a signed head with another time',
          (c: any) => {
            c.time = '2020-01-01T00:00:00.000Z';
          },
        ],
      ] as const) {
        await check(
          name,
          { ...clone(doc), signedHead: editPayload(doc.signedHead, edit) },
          undefined,
          /bad signature.*does not verify/,
        );
      }

      const stranger = await otherKey(jwks.keys[0].kid as string);
      const wrong = await verifyAuditExport(doc, [stranger]);
      assert.equal(wrong.ok, false, 'another key under the same kid');
      assert.match(wrong.reason ?? '', /bad signature.*does not verify/);
      const unknown = await verifyAuditExport(doc, [await otherKey()]);
      assert.equal(unknown.ok, false, 'another key');
      assert.match(unknown.reason ?? '', /bad signature.*not in the given key set/);
      const selfVouching = await verifyAuditExport({ ...clone(doc), publicJwk: stranger }, keys);
      assert.equal(
        selfVouching.ok,
        true,
        'the embedded key is not used (verification went by the given key)',
      );

      const forgedCheckpoint = clone(doc);
      forgedCheckpoint.checkpoints[0].hash = doc.entries[at(doc, 9)].hash;
      await check(
        'a checkpoint whose stored hash was edited',
        forgedCheckpoint,
        10,
        /does not match its stored/,
      );
      const resigned = clone(doc);
      resigned.checkpoints[1].jws = editPayload(resigned.checkpoints[1].jws, (c) => {
        c.time = '2020-01-01T00:00:00.000Z';
      });
      await check('a checkpoint with an edited signed time', resigned, 20, /not valid/);
      const outside = clone(doc);
      outside.checkpoints.push({ ...doc.checkpoints[0], seq: 30 });
      await check('a checkpoint outside the range', outside, undefined, /outside the signed range/);
      await check(
        'not an export',
        { ...clone(doc), format: 'zip' } as any,
        undefined,
        /not an audit export/,
      );
    });

    it('openspine audit verify-export exits 0 on a valid export, 1 naming the broken entry or the bad signature', async () => {
      const files = {
        doc: join(dir, 'export.json'),
        tampered: join(dir, 'tampered.json'),
        jwks: join(dir, 'jwks.json'),
        other: join(dir, 'other.json'),
      };
      writeFileSync(files.doc, JSON.stringify(doc));
      const tampered = clone(doc);
      tampered.entries[3].recordJson = tampered.entries[3].recordJson.replace('export-', 'exp0rt-');
      writeFileSync(files.tampered, JSON.stringify(tampered));
      writeFileSync(files.jwks, JSON.stringify(jwks));
      writeFileSync(
        files.other,
        JSON.stringify({ keys: [await otherKey(jwks.keys[0].kid as string)] }),
      );
      const [ok, broken, badKey, missing] = await Promise.all([
        runCli(['audit', 'verify-export', files.doc, '--jwks', files.jwks]),
        runCli(['audit', 'verify-export', files.tampered, '--jwks', files.jwks]),
        runCli(['audit', 'verify-export', files.doc, '--jwks', files.other]),
        runCli(['audit', 'verify-export', files.doc]),
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /audit export valid: entries 5\.\.25 \(21 verified\).*2 checkpoint/);
      assert.equal(broken.code, 1, broken.stdout);
      assert.match(broken.stderr, /BROKEN at entry 8\b/);
      assert.equal(badKey.code, 1, badKey.stdout);
      assert.match(badKey.stderr, /bad signature/);
      assert.equal(missing.code, 2, missing.stdout);
    });

    it('$export refuses malformed or impossible ranges', async () => {
      for (const qs of [
        'from=0',
        'to=99999999',
        'from=9&to=3',
        'foo=1',
        'from=a',
        'from=1&from=2',
      ]) {
        const res = await exportRange(qs);
        assert.equal(res.statusCode, 400, `${qs}: ${res.body}`);
        assert.equal(spineCode(res), 'INVALID_SEARCH_DATA', qs);
      }
    });

    it('tampering with the stored chain fails $verify, and the server will not sign over it', async () => {
      await sql(platform, allowTampering(platform));
      // a stored checkpoint edited
      const [[cp]] = await sql(platform, [['SELECT hash FROM audit_checkpoints WHERE seq = 20']]);
      await sql(platform, [
        ['UPDATE audit_checkpoints SET hash = $1 WHERE seq = 20', ['f'.repeat(64)]],
      ]);
      let v = await verifyParams();
      assert.equal(v.valid, false, 'forged checkpoint');
      assert.equal(v.brokenAt, 20);
      assert.match(v.reason, /checkpoint at entry 20/);
      await sql(platform, [['UPDATE audit_checkpoints SET hash = $1 WHERE seq = 20', [cp.hash]]]);
      assert.equal((await verifyParams()).valid, true, 'restored');

      // an entry edited
      const [[row]] = await sql(platform, [['SELECT record FROM audit_log WHERE seq = 12']]);
      await sql(platform, [
        ['UPDATE audit_log SET record = $1 WHERE seq = 12', [row.record.replace('u-0', 'u-1')]],
      ]);
      v = await verifyParams();
      assert.equal(v.valid, false);
      assert.equal(v.brokenAt, 12);
      const refused = await exportRange('from=11&to=13');
      assert.equal(refused.statusCode, 409, refused.body);
      assert.match(refused.json().issue[0].diagnostics, /broken at entry 12/);
      assert.equal(
        (await exportRange('from=21&to=25')).statusCode,
        200,
        'a range after an intact signed checkpoint still exports',
      );
      await sql(platform, [['UPDATE audit_log SET record = $1 WHERE seq = 12', [row.record]]]);

      // an entry after the last checkpoint edited: the signer checks those before it signs
      const [[row23]] = await sql(platform, [['SELECT record FROM audit_log WHERE seq = 23']]);
      await sql(platform, [
        ['UPDATE audit_log SET record = $1 WHERE seq = 23', [row23.record.replace('u-2', 'u-0')]],
      ]);
      await assert.rejects(signer.tick(), /broken at entry 23/);
      assert.equal((await platform.repo.audit.latestAuditCheckpoint())?.seq, 20, 'nothing signed');
      assert.equal((await exportRange('from=21&to=25')).statusCode, 409);
      await sql(platform, [['UPDATE audit_log SET record = $1 WHERE seq = 23', [row23.record]]]);
      assert.equal((await verifyParams()).valid, true, 'restored');

      // the newest entries cut off and the head row rewound to match: only the signed checkpoint knows
      const [[e14]] = await sql(platform, [['SELECT seq, hash FROM audit_log WHERE seq = 14']]);
      await sql(platform, [
        ['DELETE FROM audit_log WHERE seq > 14'],
        ['UPDATE audit_head SET seq = $1, hash = $2', [Number(e14.seq), e14.hash]],
      ]);
      v = await verifyParams();
      assert.equal(v.valid, false, 'truncation behind a rewound head');
      assert.equal(v.brokenAt, 15);
      assert.match(v.reason, /checkpoint was signed at entry/);
    });
  });

  describe(`background checkpoint signer (${kind})`, () => {
    it('stores a checkpoint every auditCheckpointSeconds while the head moves', async () => {
      const platform = await startTestPlatform(kind, { config: { auditCheckpointSeconds: 1 } });
      try {
        await platform.repo.commit({ audit: [entry(1), entry(2), entry(3)] });
        const head = await platform.repo.audit.auditHead();
        const deadline = Date.now() + 6000;
        while (
          (await platform.repo.audit.latestAuditCheckpoint())?.seq !== head.seq &&
          Date.now() < deadline
        )
          await new Promise((r) => setTimeout(r, 100));
        const cp = await platform.repo.audit.latestAuditCheckpoint();
        assert.equal(cp?.seq, head.seq, 'signed in the background');
        assert.equal(cp?.hash, head.hash);
        const checked = await statementVerifier([platform.key.publicJwk])(cp!.jws, CHECKPOINT_TYP);
        assert.ok('claims' in checked, JSON.stringify(checked));
      } finally {
        await platform.close();
      }
    });
  });
}
