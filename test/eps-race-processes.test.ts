/**
 * The release race across processes: two `openspine serve` processes on one store (PostgreSQL,
 * or one SQLite file), two pharmacies releasing the same prescription through different servers
 * at the same moment. Exactly one wins every time; the other is told it is with a dispenser.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { addPrescriberKey } from '../src/services/eps/prescriber-keys.js';
import { openRepository } from '../src/store/open.js';
import { killAllChildren, startChildServer, type ChildServer, type StoreTarget } from './helpers/child-server.js';
import { codeOf, EpsClient, PRESCRIBER_USER, type Send } from './helpers/eps-client.js';
import { addPatient, GP_ORG, newKeyPair, OTHER_PHARMACY, PHARMACY } from './helpers/eps-prescribing.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

after(killAllChildren);
const ROUNDS = 10;

function httpSend(base: string): Send {
  return async ({ method, url, body, token }) => {
    const headers: Record<string, string> = { 'x-request-id': randomUUID(), authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/fhir+json';
    const res = await fetch(base + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: Object.fromEntries(res.headers) };
  };
}

for (const kind of await storesUnderTest()) {
  describe(`EPS release race between two server processes on ${kind}`, () => {
    let target: StoreTarget;
    let cleanup: () => Promise<void>;
    const servers: ChildServer[] = [];
    const patients: string[] = [];
    let one: EpsClient, two: EpsClient;

    before(async () => {
      const iso = await isolatedStoreConfig(kind);
      target = iso.config;
      cleanup = iso.cleanup;
      const key = await newKeyPair();
      const repo = await openRepository(target);
      try {
        for (let i = 0; i < ROUNDS; i++) patients.push(await addPatient(repo, { nominated: null }));
        await addPrescriberKey(repo, PRESCRIBER_USER, key.publicJwk);
      } finally {
        await repo.close();
      }
      const signing = await loadOrCreateSigningKey(target.dataDir);
      const token = (role: string, user: string, org: string) => mintToken(signing, { userId: user, role, org, audience: 'openspine' });
      const tokens = { prescriber: await token('R8000', PRESCRIBER_USER, GP_ORG), pharmacy: await token('R8003', 'pharmacist-1', PHARMACY), otherPharmacy: await token('R8003', 'pharmacist-2', OTHER_PHARMACY) };
      servers.push(await startChildServer(target), await startChildServer(target));
      one = new EpsClient(httpSend(servers[0].url), tokens, key);
      two = new EpsClient(httpSend(servers[1].url), tokens, key);
    });

    after(async () => {
      for (const s of servers) await s.kill();
      await cleanup?.();
    });

    it('exactly one pharmacy wins each prescription', async () => {
      for (const nhs of patients) {
        const p = await one.prescribe({ nhsNumber: nhs });
        const [a, b] = await Promise.all([one.release(p.ids.shortFormId, one.tokens.pharmacy), two.release(p.ids.shortFormId, two.tokens.otherPharmacy)]);
        const statuses = [a.status, b.status].sort();
        assert.deepEqual(statuses, [200, 409], `one wins, one is refused: ${JSON.stringify([a.body, b.body]).slice(0, 400)}`);
        const loser = a.status === 409 ? a : b;
        assert.equal(codeOf(loser), 'INVALID_STATE_TRANSITION', 'refused by the state machine');
        const winner = a.status === 200 ? PHARMACY : OTHER_PHARMACY;
        assert.ok(loser.body.issue[0].diagnostics.includes(`dispenser ${winner}`), `names the winner: ${loser.body.issue[0].diagnostics}`);
        const track = await two.track('focus:identifier', p.ids.shortFormId);
        const released = track.body.entry[0].resource.extension.filter((e: any) => e.url.endsWith('eps-status-history') && e.extension.some((x: any) => x.url === 'transition' && x.valueCode === 'released'));
        assert.equal(released.length, 1, 'released once');
      }
    });
  });
}
