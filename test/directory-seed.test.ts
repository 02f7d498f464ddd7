import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { demoDirectory, seedDirectory } from '../src/services/directory/seed-directory.js';
import { demoServiceWrites, EPS_INTERACTION } from '../src/services/directory/seed-services.js';
import { ersProfileOf } from '../src/services/directory/index.js';
import type { HealthcareService } from 'fhir/r4.js';
import { ensureDemoIdentity } from '../src/services/identity/demo-identity.js';
import { UserDirectory } from '../src/security/accounts/users.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

describe('demo directory', () => {
  it('is deterministic and has practices, pharmacies and trusts', () => {
    const a = demoDirectory(1),
      b = demoDirectory(1);
    assert.deepEqual(a, b);
    const roles = new Map<string, number>();
    for (const o of a) roles.set(o.role, (roles.get(o.role) ?? 0) + 1);
    assert.ok(
      (roles.get('RO76') ?? 0) >= 300 &&
        (roles.get('RO182') ?? 0) >= 200 &&
        (roles.get('RO197') ?? 0) >= 20,
      `roles: ${[...roles]}`,
    );
    assert.equal(new Set(a.map((o) => o.code)).size, a.length, 'codes are unique');
    assert.ok(
      a.every((o) => o.postcode && /^[A-Z]{1,2}\d{1,2} \d[A-Z]{2}$/.test(o.postcode)),
      'every organisation has a UK-shaped postcode',
    );
  });

  it('derives the same services, endpoints and roles, with the same ids, every time', () => {
    const writes = demoServiceWrites(demoDirectory(1));
    assert.deepEqual(writes, demoServiceWrites(demoDirectory(1)));
    const count = (type: string) => writes.filter((w) => w.type === type).length;
    assert.ok(
      count('HealthcareService') >= 550 &&
        count('Endpoint') >= 500 &&
        count('PractitionerRole') === 2,
      `counts: ${count('HealthcareService')}, ${count('Endpoint')}, ${count('PractitionerRole')}`,
    );
    assert.equal(new Set(writes.map((w) => w.id)).size, writes.length, 'ids are unique');
    // every trust offers its six e-Referral clinics (seed-ers-clinics.ts), three directly bookable
    const trusts = demoDirectory(1).filter((o) => o.role === 'RO197');
    const clinics = writes
      .filter((w) => w.type === 'HealthcareService')
      .map((w) => ersProfileOf(w.resource as HealthcareService))
      .filter((p) => p !== undefined);
    assert.equal(clinics.length, 6 * trusts.length);
    assert.equal(
      clinics.filter((p) => p.bookable === 'DIRECTLY_BOOKABLE').length,
      3 * trusts.length,
    );
    assert.equal(clinics.filter((p) => p.restrictedTo).length, trusts.length);
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
    after(async () => {
      await repo.close();
      await cleanup();
    });

    it('covers the GP practice and nominated pharmacy of every one of 200 generated patients', async () => {
      const first = await seedDirectory(repo, 1);
      assert.ok(first.created > 500 && first.skipped === 0, JSON.stringify(first));
      const generator = createPatientGenerator(1);
      const gp = new Set<string>(),
        pharmacy = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const { patient } = generator.generate(i);
        for (const ref of patient.generalPractitioner ?? []) gp.add(ref.identifier!.value!);
        for (const ext of patient.extension ?? [])
          if (ext.url.endsWith('NominatedPharmacy'))
            pharmacy.add(ext.valueReference!.identifier!.value!);
      }
      assert.ok(gp.size > 20, `the patients use ${gp.size} practices`);
      const practices = await repo.readMany('Organization', [...gp]);
      assert.equal(practices.length, gp.size, 'every GP code is in the directory');
      assert.ok(
        practices.every((p) => p.resource.type[0].coding[0].code === 'RO76' && p.resource.active),
        'each is an active GP practice',
      );
      const pharmacies = await repo.readMany('Organization', [...pharmacy]);
      assert.equal(
        pharmacies.length,
        pharmacy.size,
        'every nominated pharmacy is in the directory',
      );
    });

    it('gives every organisation its services, each pointing at an organisation and endpoints that exist', async () => {
      const began = Date.now();
      const again = await seedDirectory(repo, 1);
      console.log(
        `# ${kind}: re-seeding checked ${again.skipped} resources in ${Date.now() - began} ms`,
      );
      assert.equal(again.created, 0, 're-seeding writes nothing');
      const serviceIds = await repo.search({
        type: 'HealthcareService',
        criteria: [{ any: [{ param: 'active', op: 'eq', value: 'true' }] }],
        limit: 10_000,
      });
      const services = await repo.readMany('HealthcareService', serviceIds);
      assert.ok(services.length >= 550, `${services.length} services`);
      const orgs = new Map(
        (
          await repo.readMany('Organization', [
            ...new Set(services.map((s) => s.resource.providedBy.identifier.value as string)),
          ])
        ).map((o) => [o.id, o.resource]),
      );
      assert.ok(
        services.every((s) => orgs.has(s.resource.providedBy.identifier.value)),
        'every service is provided by an organisation in the directory',
      );
      const endpointIds = [
        ...new Set(
          services.flatMap((s) =>
            (s.resource.endpoint ?? []).map(
              (e: any) => e.reference.replace('Endpoint/', '') as string,
            ),
          ),
        ),
      ];
      const endpoints = new Map(
        (await repo.readMany('Endpoint', endpointIds)).map((e) => [e.id, e.resource]),
      );
      assert.equal(endpoints.size, endpointIds.length, 'every referenced endpoint exists');
      const pharmacies = services.filter(
        (s) => orgs.get(s.resource.providedBy.identifier.value).type[0].coding[0].code === 'RO182',
      );
      assert.ok(
        pharmacies.length >= 200 &&
          pharmacies.every(
            (s) =>
              s.resource.type[0].coding[0].code === 'eps-dispensing' &&
              endpoints
                .get(s.resource.endpoint[0].reference.slice(9))
                .identifier.some((i: any) => i.value === EPS_INTERACTION),
          ),
        'each pharmacy dispenses through its EPS endpoint',
      );
      const trusts = services.filter(
        (s) => s.resource.type[0].coding[0].code === 'emergency-department',
      );
      assert.ok(
        trusts.length >= 20 &&
          trusts.every(
            (s) =>
              orgs.get(s.resource.providedBy.identifier.value).type[0].coding[0].code === 'RO197',
          ),
        'emergency departments belong to trusts',
      );
    });

    it("holds a PractitionerRole for each of the demo clinician's role profiles", async () => {
      await ensureDemoIdentity(repo, 'http://127.0.0.1:8080');
      const user = await new UserDirectory(repo).get('demo-clinician');
      const profiles = user!.roleProfiles.map((p) => `${p.role}@${p.org}`).sort();
      const roleIds = await repo.search({
        type: 'PractitionerRole',
        criteria: [{ any: [{ param: 'practitioner', op: 'eq', value: 'demo-clinician' }] }],
        limit: 10,
      });
      const roles = (await repo.readMany('PractitionerRole', roleIds))
        .map(
          (r) => `${r.resource.code[0].coding[0].code}@${r.resource.organization.identifier.value}`,
        )
        .sort();
      assert.ok(profiles.length >= 1, 'the demo clinician has role profiles');
      assert.deepEqual(roles, profiles);
      assert.ok(
        await repo.read('Organization', 'A81001'),
        "the demo clinician's practice is in the directory",
      );
    });
  });
}
