/**
 * A graceful stop (SIGTERM) of a real `openspine serve` under a steady write load: several clients
 * PATCH their own patient over kept-alive connections while a poller asks /_status/ready on fresh
 * connections. After SIGTERM, readiness answers 503 at once, requests keep being answered (each with
 * Connection: close), the listener closes, and the process exits 0 within its drain bound; no client
 * sees a connection reset (only refused new connections once the listener has closed), and every
 * acknowledged write is in the reopened store, with nothing written that was not acknowledged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Patient } from 'fhir/r4.js';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { isRestricted, PATIENT } from '../src/services/pds/patient-model.js';
import { openRepository } from '../src/store/open.js';
import {
  killAllChildren,
  PDS_PATH,
  runCli,
  startChildServer,
  storeFlags,
  type StoreTarget,
} from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);

const SEED = 11;
const CLIENTS = 6;
/** SIGTERM once this many writes have been acknowledged. */
const TERM_AFTER_ACKS = 60;
const DRAIN_SECONDS = 10;
/**
 * --drain-delay-seconds: 1 serves while not ready (the poller, on fresh connections, sees readiness
 * answer 503); 0 (the default) refuses new requests at once.
 */
const DRAIN_DELAYS = [1, 0];

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on the given agent; rejects with the socket error (ECONNREFUSED, ECONNRESET...). */
function send(
  url: string,
  agent: http.Agent,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url + opts.path,
      { method: opts.method, agent, headers: opts.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.end(opts.body);
  });
}

const errorCode = (err: unknown) =>
  (err as NodeJS.ErrnoException).code ?? (err as Error).message ?? String(err);

/** Patients a PATCH of address line 0 applies to (unrestricted, with an address line). */
const patchable = (p: Patient) => !isRestricted(p) && Boolean(p.address?.[0]?.line?.length);

interface Ack {
  id: string;
  version: number;
  line: string;
}

for (const kind of stores) {
  describe(`SIGTERM under load on ${kind}`, () => {
    let target: StoreTarget;
    let cleanup: () => Promise<void>;
    let token: string;
    const patients: { id: string; addressId: string }[] = [];

    before(async () => {
      const iso = await isolatedStoreConfig(kind);
      target = iso.config;
      cleanup = iso.cleanup;
      const repo = await openRepository(target);
      try {
        await seedPatients(repo, { patients: 30, seed: SEED });
      } finally {
        await repo.close();
      }
      const gen = createPatientGenerator(SEED);
      for (let i = 0; i < 30 && patients.length < CLIENTS; i++) {
        const p = gen.generate(i).patient;
        if (patchable(p)) patients.push({ id: p.id!, addressId: p.address![0].id! });
      }
      assert.equal(patients.length, CLIENTS, 'enough patchable seeded patients');
      const key = await loadOrCreateSigningKey(target.dataDir);
      token = await mintToken(key, {
        userId: 'drain-tester',
        role: 'R8000',
        org: 'A81001',
        audience: 'openspine',
      });
    });

    after(async () => {
      await killAllChildren();
      await cleanup?.();
    });

    for (const delay of DRAIN_DELAYS)
      it(`drains with --drain-delay-seconds ${delay}: ready 503 at once, no reset, exit 0, every acknowledged write kept`, async (t) => {
        const server = await startChildServer(target, [
          '--drain-seconds',
          String(DRAIN_SECONDS),
          '--drain-delay-seconds',
          String(delay),
        ]);
        const acked: Ack[] = [];
        const resets: string[] = [];
        const unexpected: string[] = [];
        const endings: string[] = [];
        let termAt = 0;
        let inFlight = 0;
        let inFlightAtTerm = -1;
        let acksAfterTerm = 0;
        let closeAnswersAfterTerm = 0;
        let counter = 0;

        const term = () => {
          if (termAt) return;
          termAt = Date.now();
          inFlightAtTerm = inFlight;
          server.child.kill('SIGTERM');
        };

        const client = async ({ id, addressId }: { id: string; addressId: string }) => {
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          const headers = (extra: Record<string, string> = {}) => ({
            authorization: `Bearer ${token}`,
            'x-request-id': randomUUID(),
            ...extra,
          });
          try {
            const first = await send(server.url, agent, {
              method: 'GET',
              path: `${PDS_PATH}/Patient/${id}`,
              headers: headers(),
            });
            assert.equal(first.status, 200, first.body);
            let version = Number(/W\/"(\d+)"/.exec(String(first.headers.etag))![1]);
            for (;;) {
              const line = `${++counter} Drain Road ${kind}`;
              const body = JSON.stringify({
                patches: [
                  { op: 'test', path: '/address/0/id', value: addressId },
                  { op: 'replace', path: '/address/0/line/0', value: line },
                ],
              });
              let res: Answer;
              inFlight++;
              try {
                res = await send(server.url, agent, {
                  method: 'PATCH',
                  path: `${PDS_PATH}/Patient/${id}`,
                  headers: headers({
                    'content-type': 'application/json-patch+json',
                    'if-match': `W/"${version}"`,
                  }),
                  body,
                });
              } catch (err) {
                const code = errorCode(err);
                // a new connection after the listener closed is refused: the client stops there
                if (code === 'ECONNREFUSED' && termAt) endings.push('refused');
                else
                  resets.push(
                    `${id}: ${code}${termAt ? ` ${Date.now() - termAt} ms after SIGTERM` : ' before SIGTERM'}`,
                  );
                return;
              } finally {
                inFlight--;
              }
              if (res.status === 200) {
                version = Number(/W\/"(\d+)"/.exec(String(res.headers.etag))![1]);
                acked.push({ id, version, line });
                if (termAt) {
                  acksAfterTerm++;
                  if (res.headers.connection === 'close') closeAnswersAfterTerm++;
                }
                if (acked.length >= TERM_AFTER_ACKS) term();
              } else if (res.status === 503 && termAt) {
                endings.push('503 while closing'); // answered before anything was written
                return;
              } else {
                unexpected.push(`${id}: PATCH answered ${res.status} ${res.body.slice(0, 200)}`);
                return;
              }
            }
          } finally {
            agent.destroy();
          }
        };

        // readiness on fresh connections, from before the SIGTERM until the listener refuses
        const readyAnswers: {
          afterTerm: boolean;
          status: number;
          refusal: boolean;
          drainingNamed: boolean;
        }[] = [];
        const poller = async () => {
          const agent = new http.Agent({ keepAlive: false });
          for (;;) {
            const afterTerm = termAt > 0;
            try {
              const res = await send(server.url, agent, { method: 'GET', path: '/_status/ready' });
              // a draining server refuses new requests before it closes: the poller goes, as a load
              // balancer would
              const body = JSON.parse(res.body);
              const refusal = body.resourceType === 'OperationOutcome';
              const drainingNamed = body.checks?.draining?.status === 'fail';
              readyAnswers.push({ afterTerm, status: res.status, refusal, drainingNamed });
              if (refusal && termAt) return;
            } catch (err) {
              if (errorCode(err) === 'ECONNREFUSED' && termAt) return;
              resets.push(
                `ready poll: ${errorCode(err)}${termAt ? ` ${Date.now() - termAt} ms after SIGTERM` : ''}`,
              );
              return;
            }
            await new Promise((r) => setTimeout(r, 20));
          }
        };

        const load = Promise.all([...patients.map(client), poller()]);
        const exit = await Promise.race([
          server.exited,
          new Promise<'hung'>((r) =>
            setTimeout(() => r('hung'), (delay + DRAIN_SECONDS) * 1000 + 30_000).unref(),
          ),
        ]);
        const exitAt = Date.now();
        if (exit === 'hung') await server.kill();
        await load;

        assert.notEqual(exit, 'hung', `the server did not exit:\n${server.stderr().slice(-2000)}`);
        assert.ok(termAt > 0, 'SIGTERM was sent under load');
        assert.deepEqual(exit, { code: 0, signal: null }, server.stderr().slice(-2000));
        assert.deepEqual(unexpected, []);
        assert.deepEqual(
          resets,
          [],
          `no request saw a connection reset\n${server.stdout().slice(-3000)}`,
        );
        assert.ok(inFlightAtTerm >= 1, 'writes were in flight at the SIGTERM');
        if (delay > 0) {
          // (without a delay, the answers that came after the SIGTERM may all have left before it)
          assert.ok(acksAfterTerm >= 1, 'writes were still answered while draining');
          assert.ok(closeAnswersAfterTerm >= 1, 'answers while draining said Connection: close');
        }
        assert.equal(
          endings.length,
          CLIENTS,
          `every client stopped cleanly: ${endings.join(', ')}`,
        );
        assert.ok(
          readyAnswers.some((a) => !a.afterTerm && a.status === 200),
          'ready answered 200 before the SIGTERM',
        );
        // readiness answered 503, naming draining, while the node still served (with a delay; without
        // one the node refuses new requests at once, the readiness route's included)
        const afterTerm = readyAnswers.filter((a) => a.afterTerm);
        if (delay > 0)
          assert.ok(
            afterTerm.some((a) => a.status === 503 && a.drainingNamed),
            `a readiness report answered 503 naming draining: ${JSON.stringify(afterTerm)}`,
          );
        assert.match(server.stdout(), /draining: not ready/);
        t.diagnostic(
          `acknowledged ${acked.length} writes, ${acksAfterTerm} after SIGTERM; ${inFlightAtTerm} in flight at SIGTERM; ` +
            `clients ended: ${endings.join(', ')}; SIGTERM to exit ${exitAt - termAt} ms`,
        );

        // every acknowledged write is in the reopened store, and nothing unacknowledged was written
        const repo = await openRepository(target);
        try {
          for (const { id } of patients) {
            const mine = acked.filter((a) => a.id === id);
            const history = await repo.history<Patient>(PATIENT, id);
            const current = history[0].version;
            const lastAcked = mine.length ? mine[mine.length - 1].version : 1;
            assert.equal(current, lastAcked, `${id}: current version is the last acknowledged one`);
            const byVersion = new Map(history.map((h) => [h.version, h.resource]));
            for (const a of mine)
              assert.equal(
                byVersion.get(a.version)?.address?.[0]?.line?.[0],
                a.line,
                `${id} v${a.version}`,
              );
          }
        } finally {
          await repo.close();
        }
        const verify = await runCli(['audit', 'verify', ...storeFlags(target)]);
        assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      });
  });
}
