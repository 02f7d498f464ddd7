import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { demoDirectory, seedDirectory } from '../src/services/directory/seed-directory.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/types.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

describe('demo directory', () => {
  it('is deterministic and has practices, pharmacies and trusts', () => {
    const a = demoDirectory(1), b = demoDirectory(1);
    assert.deepEqual(a, b);
    const roles = new Map<string, number>();
    for (const o of a) roles.set(o.role, (roles.get(o.role) ?? 0) + 1);
    assert.ok((roles.get('RO76') ?? 0) >= 300 && (roles.get('RO182') ?? 0) >= 200 && (roles.get('RO197') ?? 0) >= 20, `roles: ${[...roles]}`);
    assert.equal(new Set(a.map((o) => o.code)).size, a.length, 'codes are unique');
    assert.ok(a.every((o) => o.postcode && /^[A-Z]{1,2}\d{1,2} \d[A-Z]{2}$/.test(o.postcode)), 'every organisation has a UK-shaped postcode');
  });
});

for (const kind of await storesUnderTest()) {
  describe(`seedDirectory (${kind})`, () => {
    let repo: Repository;
    let cleanup: () => Promise<void>;
    before(async () => {
      const store = await isolatedStoreConfig(kind);
      cleanup = store.cleanup;
      repo = await openRepository({ ...loadConfig({}, {}), ...store.config });
    });
    after(async () => { await repo.close(); await cleanup(); });

    it("covers the GP practice and nominated pharmacy of every one of 200 generated patients", async () => {
      const first = await seedDirectory(repo, 1);
      assert.ok(first.created > 500 && first.skipped === 0, JSON.stringify(first));
      const generator = createPatientGenerator(1);
      const gp = new Set<string>(), pharmacy = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const { patient } = generator.generate(i);
        for (const ref of patient.generalPractitioner ?? []) gp.add(ref.identifier!.value!);
        for (const ext of patient.extension ?? []) if (ext.url.endsWith('NominatedPharmacy')) pharmacy.add(ext.valueReference!.identifier!.value!);
      }
      assert.ok(gp.size > 20, `the patients use ${gp.size} practices`);
      const practices = await repo.readMany('Organization', [...gp]);
      assert.equal(practices.length, gp.size, 'every GP code is in the directory');
      assert.ok(practices.every((p) => p.resource.type[0].coding[0].code === 'RO76' && p.resource.active), 'each is an active GP practice');
      const pharmacies = await repo.readMany('Organization', [...pharmacy]);
      assert.equal(pharmacies.length, pharmacy.size, 'every nominated pharmacy is in the directory');
      const again = await seedDirectory(repo, 1);
      assert.deepEqual(again, { created: 0, skipped: first.created });
    });
  });
}
