/**
 * The release race across processes: two `openspine serve` processes on one store (PostgreSQL,
 * or one SQLite file), two pharmacies releasing the same prescription through different servers
 * at the same moment. Exactly one wins every time; the other is told it is with a dispenser.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  killAllChildren,
  startChildServer,
  type ChildServer,
  type StoreTarget,
} from './helpers/child-server.js';
import { codeOf, EpsClient } from './helpers/eps-client.js';
import { OTHER_PHARMACY, PHARMACY } from './helpers/eps-prescribing.js';
import { httpSend, prepareEpsStore } from './helpers/eps-processes.js';
import { storesUnderTest } from './helpers/stores.js';

after(killAllChildren);
const ROUNDS = 10;

for (const kind of await storesUnderTest()) {
  describe(`EPS release race between two server processes on ${kind}`, () => {
    let target: StoreTarget;
    let cleanup: () => Promise<void>;
    const servers: ChildServer[] = [];
    let patients: string[] = [];
    let one: EpsClient, two: EpsClient;

    before(async () => {
      const store = await prepareEpsStore(kind, ROUNDS);
      ({ target, cleanup, patients } = store);
      servers.push(await startChildServer(target), await startChildServer(target));
      one = new EpsClient(
        httpSend(() => servers[0].url),
        store.tokens,
        store.key,
      );
      two = new EpsClient(
        httpSend(() => servers[1].url),
        store.tokens,
        store.key,
      );
    });

    after(async () => {
      for (const s of servers) await s.kill();
      await cleanup?.();
    });

    it('exactly one pharmacy wins each prescription', async () => {
      for (const nhs of patients) {
        const p = await one.prescribe({ nhsNumber: nhs });
        const [a, b] = await Promise.all([
          one.release(p.ids.shortFormId, one.tokens.pharmacy),
          two.release(p.ids.shortFormId, two.tokens.otherPharmacy),
        ]);
        const statuses = [a.status, b.status].sort();
        assert.deepEqual(
          statuses,
          [200, 400],
          `one wins, one is refused: ${JSON.stringify([a.body, b.body]).slice(0, 400)}`,
        );
        const loser = a.status === 400 ? a : b;
        assert.equal(
          codeOf(loser),
          'PRESCRIPTION_WITH_ANOTHER_DISPENSER',
          'refused as EPS publishes it',
        );
        const winner = a.status === 200 ? PHARMACY : OTHER_PHARMACY;
        assert.equal(
          loser.body.contained?.[0]?.identifier?.[0]?.value,
          winner,
          `names the winner: ${JSON.stringify(loser.body).slice(0, 400)}`,
        );
        const track = await two.track('focus:identifier', p.ids.shortFormId);
        const released = track.body.entry[0].resource.extension.filter(
          (e: any) =>
            e.url.endsWith('eps-status-history') &&
            e.extension.some((x: any) => x.url === 'transition' && x.valueCode === 'released'),
        );
        assert.equal(released.length, 1, 'released once');
      }
    });
  });
}
