import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { addEndpoint, EndpointError } from '../src/services/directory/endpoint-model.js';
import { importOdsExtract } from '../src/services/directory/ods-import.js';
import { spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const DIR = '/spine-directory/FHIR/R4';
const FIXTURES = join(import.meta.dirname, 'fixtures', 'directory');
const GP_CONNECT = 'urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1';
const EPS = 'urn:nhs:names:services:mm:PORX_IN020101SM31';

for (const kind of await storesUnderTest()) {
  describe(`directory API (${kind})`, () => {
    let platform: TestPlatform;
    const ids = async (url: string) => {
      const res = await platform.request({ url: DIR + url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
      return (res.json().entry ?? [])
        .filter((e: any) => e.search?.mode !== 'outcome')
        .map((e: any) => e.resource.id)
        .sort();
    };
    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      for (const f of [
        'epraccur-v1.csv',
        'epraccur-v2.csv',
        'edispensary-quoted.csv',
        'etr-latin1.csv',
      ])
        await importOdsExtract(platform.repo, readFileSync(join(FIXTURES, f)));
      await addEndpoint(platform.repo, {
        org: 'A81001',
        interaction: GP_CONNECT,
        address: 'https://gp.example.nhs.uk/fhir',
        name: 'Densham GP Connect',
      });
      await addEndpoint(platform.repo, {
        org: 'a81001',
        interaction: EPS,
        address: 'https://gp.example.nhs.uk/fhir',
      });
      await addEndpoint(platform.repo, {
        org: 'FA008',
        interaction: EPS,
        address: 'https://pharmacy.example.nhs.uk/mhs',
      });
    });
    after(() => platform.close());

    it('reads an Organization by ODS code, with an ETag', async () => {
      const res = await platform.request({ url: `${DIR}/Organization/a81002` });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers.etag, 'W/"2"');
      const org = res.json();
      assert.equal(org.resourceType, 'Organization');
      assert.deepEqual(org.identifier, [
        { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81002' },
      ]);
      const missing = await platform.request({ url: `${DIR}/Organization/ZZZ99` });
      assert.deepEqual([missing.statusCode, spineCode(missing)], [404, 'RESOURCE_NOT_FOUND']);
      const bad = await platform.request({ url: `${DIR}/Organization/not-a-code` });
      assert.deepEqual([bad.statusCode, spineCode(bad)], [400, 'INVALID_RESOURCE_ID']);
    });

    it('searches by identifier, name, postcode, type and active', async () => {
      assert.deepEqual(
        await ids('/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|A81001'),
        ['A81001'],
      );
      assert.deepEqual(await ids('/Organization?identifier=A81001,fw844'), ['A81001', 'FW844']);
      assert.deepEqual(await ids('/Organization?name=queens%20pa'), ['A81002']);
      assert.deepEqual(await ids('/Organization?name=CAFE'), ['RQ1']);
      assert.deepEqual(await ids('/Organization?name=caf%C3%A9%20trust'), ['RQ1']);
      assert.deepEqual(await ids('/Organization?address-postalcode=ts18'), ['A81001', 'A81002']);
      assert.deepEqual(await ids('/Organization?address-postalcode=TS18%201HU'), ['A81001']);
      assert.deepEqual(await ids('/Organization?type=pharmacy'), ['FA008', 'FW844', 'FX123']);
      assert.deepEqual(await ids('/Organization?type=RO197'), ['RQ1', 'RR8']);
      assert.deepEqual(await ids('/Organization?type=gp-practice&active=false'), [
        'A81003',
        'A81004',
      ]);
      assert.deepEqual(await ids('/Organization?name=centre&address-postalcode=TS&active=true'), [
        'A81002',
        'A81008',
      ]);
    });

    it('pages with _count and says when there are more matches', async () => {
      const res = await platform.request({ url: `${DIR}/Organization?type=RO76&_count=2` });
      const body = res.json();
      assert.equal(
        body.entry.filter((e: any) => e.resource.resourceType === 'Organization').length,
        2,
      );
      assert.equal(body.total, undefined);
      assert.equal(body.entry.at(-1).resource.issue[0].details.coding[0].code, 'TOO_MANY_MATCHES');
      const all = (await platform.request({ url: `${DIR}/Organization?type=RO76` })).json();
      assert.equal(all.total, 5);
    });

    it('refuses bad searches with a 400 OperationOutcome', async () => {
      for (const [query, code] of [
        ['', 'INVALID_SEARCH_DATA'],
        ['?family=smith', 'INVALID_SEARCH_DATA'],
        ['?name=a&name=b', 'INVALID_SEARCH_DATA'],
        ['?type=hospital', 'INVALID_VALUE'],
        ['?active=yes', 'INVALID_VALUE'],
        ['?_count=0', 'INVALID_VALUE'],
        ['?name=x&_count=1001', 'INVALID_VALUE'],
        ['?identifier=http://other|A81001', 'INVALID_VALUE'],
        ['?name=%20', 'INVALID_VALUE'],
      ]) {
        const res = await platform.request({ url: `${DIR}/Organization${query}` });
        assert.deepEqual(
          [res.statusCode, spineCode(res)],
          [400, code],
          `${query}: ${res.body.slice(0, 200)}`,
        );
      }
    });

    it('finds endpoints by organisation and interaction', async () => {
      assert.equal(
        (await ids('/Endpoint?organization=A81001')).length,
        1,
        'one endpoint per organisation and address',
      );
      const res = await platform.request({
        url: `${DIR}/Endpoint?organization=https://fhir.nhs.uk/Id/ods-organization-code|A81001&interaction=${encodeURIComponent(EPS)}`,
      });
      const [endpoint] = res.json().entry.map((e: any) => e.resource);
      assert.equal(endpoint.address, 'https://gp.example.nhs.uk/fhir');
      assert.equal(endpoint.name, 'Densham GP Connect');
      assert.deepEqual(
        endpoint.identifier.map((i: any) => i.value),
        [GP_CONNECT, EPS].sort(),
      );
      assert.equal((await ids(`/Endpoint?interaction=${encodeURIComponent(EPS)}`)).length, 2);
      assert.deepEqual(
        await ids(`/Endpoint?organization=FA008&interaction=${encodeURIComponent(GP_CONNECT)}`),
        [],
      );
      const again = await addEndpoint(platform.repo, {
        org: 'A81001',
        interaction: EPS,
        address: 'https://gp.example.nhs.uk/fhir',
      });
      assert.equal(again.changed, false);
      await assert.rejects(
        addEndpoint(platform.repo, {
          org: 'B99999',
          interaction: EPS,
          address: 'https://x.example',
        }),
        EndpointError,
      );
      await assert.rejects(
        addEndpoint(platform.repo, { org: 'A81001', interaction: EPS, address: 'ftp://x.example' }),
        /invalid address/,
      );
    });

    it('every staff role may read the directory; a patient may not', async () => {
      for (const role of ['R8000', 'R8003', 'R8004', 'R8008', 'R5080']) {
        const res = await platform.request({
          url: `${DIR}/Organization/A81001`,
          token: await platform.token(role),
        });
        assert.equal(res.statusCode, 200, `${role}: ${res.body.slice(0, 200)}`);
      }
      const patient = await mintPatientToken(platform.key, {
        nhsNumber: '9000000009',
        audience: 'openspine',
      });
      for (const url of [
        '/Organization/A81001',
        '/Organization?name=densham',
        '/Endpoint?organization=A81001',
      ]) {
        const res = await platform.request({ url: DIR + url, token: patient });
        assert.equal(res.statusCode, 403, `${url}: ${res.body.slice(0, 200)}`);
      }
      const anonymous = await platform.request({ url: `${DIR}/Organization/A81001`, token: null });
      assert.equal(anonymous.statusCode, 401);
    });
  });
}
