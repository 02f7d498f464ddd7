import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { directoryCommand } from '../src/cli/directory.js';
import { importOdsExtract } from '../src/services/directory/ods-import.js';
import { spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const DIR = '/spine-directory/FHIR/R4';
const FIXTURES = join(import.meta.dirname, 'fixtures', 'directory');
const EPS = 'urn:nhs:names:services:mm:PORX_IN020101SM31';
const INTERACTION_SYSTEM = 'https://fhir.nhs.uk/Id/nhsServiceInteractionId';
const TYPE_SYSTEM = 'https://openspine.dev/fhir/CodeSystem/service-type';
const USER_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';
const ROLE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode';

const serviceBody = (
  org: string,
  name: string,
  type: string,
  extra: Record<string, unknown> = {},
) => ({
  resourceType: 'HealthcareService',
  providedBy: { reference: `Organization/${org}` },
  name,
  type: [{ coding: [{ system: TYPE_SYSTEM, code: type }] }],
  ...extra,
});
const roleBody = (
  user: string,
  org: string,
  role: string,
  extra: Record<string, unknown> = {},
) => ({
  resourceType: 'PractitionerRole',
  practitioner: { identifier: { system: USER_SYSTEM, value: user } },
  organization: {
    identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: org },
  },
  code: [{ coding: [{ system: ROLE_SYSTEM, code: role }] }],
  ...extra,
});
const endpointBody = (org: string, address: string, interactions: string[]) => ({
  resourceType: 'Endpoint',
  managingOrganization: { reference: `Organization/${org}` },
  address,
  name: 'Test system',
  identifier: interactions.map((value) => ({ system: INTERACTION_SYSTEM, value })),
});

for (const kind of await storesUnderTest()) {
  describe(`directory management (${kind})`, () => {
    let platform: TestPlatform;
    let manager: string;
    const created: Record<string, string> = {};
    const write = async (
      method: string,
      url: string,
      body: unknown,
      headers: Record<string, string> = {},
      token = manager,
    ) => platform.request({ method, url: DIR + url, body, headers, token });
    const ids = async (url: string) => {
      const res = await platform.request({ url: DIR + url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
      return (res.json().entry ?? [])
        .filter((e: any) => e.search?.mode !== 'outcome')
        .map((e: any) => e.resource.id)
        .sort();
    };
    const named = (...keys: string[]) => keys.map((k) => created[k]).sort();

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      for (const f of ['epraccur-v1.csv', 'edispensary-quoted.csv', 'etr-latin1.csv'])
        await importOdsExtract(platform.repo, readFileSync(join(FIXTURES, f)));
      manager = await platform.token('R8015', { user: 'sysadmin-1', org: 'X26' });
    });
    after(() => platform.close());

    it('creates Endpoints and HealthcareServices, with Location, ETag and derived category', async () => {
      const ep = await write(
        'POST',
        '/Endpoint',
        endpointBody('FA008', 'https://pharmacy.example.nhs.uk/mhs', [EPS]),
      );
      assert.equal(ep.statusCode, 201, ep.body);
      created.eps = ep.json().id;
      assert.equal(ep.headers.etag, 'W/"1"');
      assert.match(String(ep.headers.location), new RegExp(`${DIR}/Endpoint/${created.eps}$`));

      const gp = await write(
        'POST',
        '/HealthcareService',
        serviceBody('a81001', 'Densham GP Services', 'gp-services'),
      );
      assert.equal(gp.statusCode, 201, gp.body);
      const doc = gp.json();
      created.gp = doc.id;
      assert.equal(doc.providedBy.identifier.value, 'A81001');
      assert.equal(doc.category[0].coding[0].code, 'primary-care');
      assert.equal(
        doc.contained[0].address.postalCode,
        'TS18 1HU',
        "without a location the service is at its provider's address",
      );
      assert.equal(doc.active, true);

      const pharmacy = await write(
        'POST',
        '/HealthcareService',
        serviceBody('FA008', 'Boots EPS dispensing', 'eps-dispensing', {
          endpoint: [{ reference: `Endpoint/${created.eps}` }],
        }),
      );
      assert.equal(pharmacy.statusCode, 201, pharmacy.body);
      created.pharmacy = pharmacy.json().id;

      const ed = await write(
        'POST',
        '/HealthcareService',
        serviceBody('RR8', "St James's Emergency Department", 'emergency-department', {
          contained: [
            {
              resourceType: 'Location',
              id: 'loc',
              address: { line: ['Beckett Street'], city: 'Leeds', postalCode: 'ls97tf' },
            },
          ],
          location: [{ reference: '#loc' }],
        }),
      );
      assert.equal(ed.statusCode, 201, ed.body);
      created.ed = ed.json().id;
      assert.equal(
        ed.json().contained[0].address.postalCode,
        'LS9 7TF',
        'the postcode is normalised',
      );

      const read = await platform.request({ url: `${DIR}/HealthcareService/${created.pharmacy}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.headers.etag, 'W/"1"');
      assert.deepEqual(read.json().endpoint, [{ reference: `Endpoint/${created.eps}` }]);
      const epRead = await platform.request({ url: `${DIR}/Endpoint/${created.eps}` });
      assert.equal(epRead.json().managingOrganization.identifier.value, 'FA008');
    });

    it('searches HealthcareService by organization, name, postcode, type, category and active', async () => {
      assert.deepEqual(await ids('/HealthcareService?organization=A81001'), named('gp'));
      assert.deepEqual(
        await ids(
          '/HealthcareService?organization=https://fhir.nhs.uk/Id/ods-organization-code|FA008,RR8',
        ),
        named('pharmacy', 'ed'),
      );
      assert.deepEqual(await ids('/HealthcareService?name=DENSHAM%20gp'), named('gp'));
      assert.deepEqual(await ids('/HealthcareService?name=emerg'), named('ed'));
      assert.deepEqual(
        await ids('/HealthcareService?location.address-postalcode=LS9'),
        named('ed'),
      );
      assert.deepEqual(
        await ids('/HealthcareService?address-postalcode=nw2%203ab'),
        named('pharmacy'),
      );
      assert.deepEqual(
        await ids(
          `/HealthcareService?service-type=${encodeURIComponent(`${TYPE_SYSTEM}|eps-dispensing`)}`,
        ),
        named('pharmacy'),
      );
      assert.deepEqual(
        await ids('/HealthcareService?service-category=urgent-emergency-care,primary-care'),
        named('gp', 'ed'),
      );
      assert.deepEqual(await ids('/HealthcareService?active=true'), named('gp', 'pharmacy', 'ed'));
      assert.deepEqual(await ids('/HealthcareService?active=false'), []);
      const page = (
        await platform.request({ url: `${DIR}/HealthcareService?active=true&_count=1` })
      ).json();
      assert.equal(page.entry.at(-1).resource.issue[0].details.coding[0].code, 'TOO_MANY_MATCHES');
      for (const [query, code] of [
        ['?service-type=dentist', 'INVALID_VALUE'],
        ['?service-category=x|pharmacy', 'INVALID_VALUE'],
        ['?type=gp-services', 'INVALID_SEARCH_DATA'],
        ['?organization=not%20ods', 'INVALID_VALUE'],
        ['', 'INVALID_SEARCH_DATA'],
      ]) {
        const res = await platform.request({ url: `${DIR}/HealthcareService${query}` });
        assert.deepEqual(
          [res.statusCode, spineCode(res)],
          [400, code],
          `${query}: ${res.body.slice(0, 200)}`,
        );
      }
    });

    it('updates with If-Match; a stale version is 409, a missing If-Match 412, an unknown id 404', async () => {
      const url = `/HealthcareService/${created.gp}`;
      const body = serviceBody('A81001', 'Densham GP Services', 'gp-services', {
        id: created.gp,
        active: false,
      });
      const ok = await write('PUT', url, body, { 'if-match': 'W/"1"' });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.headers.etag, 'W/"2"');
      assert.deepEqual(await ids('/HealthcareService?active=false'), named('gp'));
      const stale = await write('PUT', url, body, { 'if-match': 'W/"1"' });
      assert.deepEqual([stale.statusCode, spineCode(stale)], [409, 'RESOURCE_VERSION_MISMATCH']);
      const noMatch = await write('PUT', url, body);
      assert.deepEqual([noMatch.statusCode, spineCode(noMatch)], [412, 'PRECONDITION_FAILED']);
      const otherId = await write(
        'PUT',
        url,
        { ...body, id: randomUUID() },
        { 'if-match': 'W/"2"' },
      );
      assert.deepEqual([otherId.statusCode, spineCode(otherId)], [400, 'INVALID_VALUE']);
      const unknown = await write(
        'PUT',
        `/HealthcareService/${randomUUID()}`,
        serviceBody('A81001', 'X', 'gp-services'),
        { 'if-match': 'W/"1"' },
      );
      assert.deepEqual([unknown.statusCode, spineCode(unknown)], [404, 'RESOURCE_NOT_FOUND']);
      assert.equal(
        (await platform.repo.read('HealthcareService', created.gp))!.version,
        2,
        'refused updates wrote nothing',
      );
    });

    it('refuses bad bodies and dangling references with an OperationOutcome and writes nothing', async () => {
      const before = await platform.repo.count('HealthcareService');
      const cases: [unknown, number, string][] = [
        [serviceBody('B99999', 'Nowhere', 'gp-services'), 422, 'INVALID_REFERENCE'],
        [
          serviceBody('A81001', 'X', 'gp-services', {
            endpoint: [{ reference: `Endpoint/${randomUUID()}` }],
          }),
          422,
          'INVALID_REFERENCE',
        ],
        [serviceBody('A81001', 'X', 'dentistry'), 400, 'INVALID_CODE'],
        [
          {
            ...serviceBody('A81001', 'X', 'gp-services'),
            type: [{ coding: [{ system: 'http://other', code: 'gp-services' }] }],
          },
          400,
          'INVALID_CODE',
        ],
        [
          serviceBody('A81001', 'X', 'gp-services', {
            category: [
              {
                coding: [
                  {
                    system: 'https://openspine.dev/fhir/CodeSystem/service-category',
                    code: 'pharmacy',
                  },
                ],
              },
            ],
          }),
          400,
          'INVALID_CODE',
        ],
        [{ ...serviceBody('A81001', 'X', 'gp-services'), name: undefined }, 400, 'MISSING_VALUE'],
        [
          serviceBody('A81001', 'X', 'gp-services', { availableTime: [] }),
          400,
          'ADDITIONAL_PROPERTIES',
        ],
        [
          { ...serviceBody('A81001', 'X', 'gp-services'), resourceType: 'Organization' },
          400,
          'INVALID_VALUE',
        ],
        [
          serviceBody('A81001', 'X', 'gp-services', {
            contained: [
              { resourceType: 'Location', id: 'l', address: { postalCode: 'NOT A POSTCODE' } },
            ],
            location: [{ reference: '#l' }],
          }),
          400,
          'INVALID_VALUE',
        ],
        [serviceBody('A81001', 'X', 'gp-services', { active: 'yes' }), 400, 'INVALID_VALUE'],
        [[], 400, 'INVALID_VALUE'],
      ];
      for (const [body, status, code] of cases) {
        const res = await write('POST', '/HealthcareService', body);
        assert.deepEqual(
          [res.statusCode, spineCode(res)],
          [status, code],
          `${JSON.stringify(body).slice(0, 160)}: ${res.body.slice(0, 200)}`,
        );
      }
      assert.equal(
        await platform.repo.count('HealthcareService'),
        before,
        'no refused write was stored',
      );
    });

    it('manages PractitionerRoles: create, duplicate refused, codes checked, search by org, user and role', async () => {
      const res = await write(
        'POST',
        '/PractitionerRole',
        roleBody('555021935107', 'A81001', 'R8000', { period: { start: '2021-04-01' } }),
      );
      assert.equal(res.statusCode, 201, res.body);
      created.role = res.json().id;
      assert.equal(res.json().code[0].coding[0].display, 'Clinical Practitioner Access Role');
      const other = await write(
        'POST',
        '/PractitionerRole',
        roleBody('555021935107', 'FA008', 'R8003'),
      );
      assert.equal(other.statusCode, 201, other.body);
      created.role2 = other.json().id;
      const nurse = await write(
        'POST',
        '/PractitionerRole',
        roleBody('555021935999', 'A81001', 'R8001', { active: false }),
      );
      created.role3 = nurse.json().id;

      const dup = await write(
        'POST',
        '/PractitionerRole',
        roleBody('555021935107', 'A81001', 'R8000'),
      );
      assert.deepEqual([dup.statusCode, spineCode(dup)], [409, 'DUPLICATE_REJECTED']);
      for (const [body, status, code] of [
        [roleBody('555021935107', 'A81001', 'R9999'), 400, 'INVALID_CODE'],
        [roleBody('555021935107', 'A81001', 'patient'), 400, 'INVALID_CODE'],
        [roleBody('555021935107', 'Z99999', 'R8000'), 422, 'INVALID_REFERENCE'],
        [roleBody('not an id!', 'A81001', 'R8000'), 400, 'INVALID_VALUE'],
        [
          roleBody('555021935107', 'A81001', 'R8013', {
            period: { start: '2022-01-01', end: '2021-01-01' },
          }),
          400,
          'INVALID_VALUE',
        ],
        [
          roleBody('555021935107', 'A81001', 'R8013', { period: { start: '2022-02-30' } }),
          400,
          'INVALID_VALUE',
        ],
      ] as const) {
        const r = await write('POST', '/PractitionerRole', body);
        assert.deepEqual(
          [r.statusCode, spineCode(r)],
          [status, code],
          `${JSON.stringify(body).slice(0, 200)}: ${r.body.slice(0, 200)}`,
        );
      }

      assert.deepEqual(await ids('/PractitionerRole?organization=A81001'), named('role', 'role3'));
      assert.deepEqual(
        await ids(
          `/PractitionerRole?practitioner.identifier=${encodeURIComponent(`${USER_SYSTEM}|555021935107`)}`,
        ),
        named('role', 'role2'),
      );
      assert.deepEqual(await ids('/PractitionerRole?role=r8003'), named('role2'));
      assert.deepEqual(
        await ids('/PractitionerRole?organization=A81001&active=true'),
        named('role'),
      );
      const bad = await platform.request({ url: `${DIR}/PractitionerRole?role=R9999` });
      assert.deepEqual([bad.statusCode, spineCode(bad)], [400, 'INVALID_VALUE']);
      const moved = await write(
        'PUT',
        `/PractitionerRole/${created.role3}`,
        roleBody('555021935999', 'A81001', 'R8000'),
        { 'if-match': 'W/"1"' },
      );
      assert.equal(moved.statusCode, 200, moved.body);
      const clash = await write(
        'PUT',
        `/PractitionerRole/${created.role3}`,
        roleBody('555021935107', 'A81001', 'R8000'),
        { 'if-match': 'W/"2"' },
      );
      assert.deepEqual(
        [clash.statusCode, spineCode(clash)],
        [409, 'DUPLICATE_REJECTED'],
        'an update may not duplicate another role either',
      );
    });

    it('manages Endpoints: one per organisation and address; search by organization and interaction', async () => {
      const dup = await write(
        'POST',
        '/Endpoint',
        endpointBody('FA008', 'https://pharmacy.example.nhs.uk/mhs', ['urn:x:y']),
      );
      assert.deepEqual([dup.statusCode, spineCode(dup)], [409, 'DUPLICATE_REJECTED']);
      const more = await write(
        'PUT',
        `/Endpoint/${created.eps}`,
        endpointBody('FA008', 'https://pharmacy.example.nhs.uk/mhs', [
          EPS,
          'urn:nhs:names:services:mm:PORX_IN070101UK31',
        ]),
        { 'if-match': 'W/"1"' },
      );
      assert.equal(more.statusCode, 200, more.body);
      assert.deepEqual(
        await ids(
          '/Endpoint?interaction=urn:nhs:names:services:mm:PORX_IN070101UK31&organization=FA008',
        ),
        named('eps'),
      );
      assert.deepEqual(await ids('/Endpoint?organization=A81001'), []);
      for (const [body, status, code] of [
        [endpointBody('FA008', 'ftp://pharmacy.example.nhs.uk', [EPS]), 400, 'INVALID_VALUE'],
        [endpointBody('FA008', 'https://elsewhere.example', []), 400, 'MISSING_VALUE'],
        [
          {
            ...endpointBody('FA008', 'https://elsewhere.example', [EPS]),
            identifier: [{ system: 'urn:other', value: EPS }],
          },
          400,
          'INVALID_CODE',
        ],
        [endpointBody('Q99999', 'https://elsewhere.example', [EPS]), 422, 'INVALID_REFERENCE'],
      ] as const) {
        const r = await write('POST', '/Endpoint', body);
        assert.deepEqual(
          [r.statusCode, spineCode(r)],
          [status, code],
          `${JSON.stringify(body).slice(0, 200)}: ${r.body.slice(0, 200)}`,
        );
      }
    });

    it('only directory managers (R8015) may write; every write is audited without a patient', async () => {
      for (const role of ['R8000', 'R8008', 'R5080']) {
        const res = await write(
          'POST',
          '/HealthcareService',
          serviceBody('A81001', 'Refused', 'gp-extended-access'),
          {},
          await platform.token(role),
        );
        assert.deepEqual(
          [res.statusCode, spineCode(res)],
          [403, 'ACCESS_DENIED'],
          `${role}: ${res.body.slice(0, 200)}`,
        );
        const put = await write(
          'PUT',
          `/HealthcareService/${created.gp}`,
          serviceBody('A81001', 'Refused', 'gp-services'),
          { 'if-match': 'W/"2"' },
          await platform.token(role),
        );
        assert.equal(put.statusCode, 403, `${role} PUT: ${put.body.slice(0, 200)}`);
      }
      assert.deepEqual(await ids('/HealthcareService?name=refused'), []);
      const writes = (await platform.repo.audit.readAudit(0, 100_000))
        .map((e) => e.record)
        .filter((r) => r.action.startsWith('directory.manage.'));
      assert.ok(writes.length >= 9, `expected an audit entry per write, found ${writes.length}`);
      assert.ok(
        writes.every(
          (r) =>
            r.patient === null &&
            r.userId === 'sysadmin-1' &&
            r.role === 'R8015' &&
            r.outcome === 'success',
        ),
        'audited as the manager, with no patient',
      );
      const update = writes.find(
        (r) => r.action === 'directory.manage.update' && r.detail?.id === created.gp,
      );
      assert.deepEqual(update?.detail, {
        resourceType: 'HealthcareService',
        id: created.gp,
        version: 2,
        org: 'A81001',
      });
    });

    it('a retried POST (same X-Request-ID) gets the original answer instead of a twin', async () => {
      const requestId = randomUUID();
      const body = serviceBody('A81002', 'Queens Park Extended Access', 'gp-extended-access');
      const first = await write('POST', '/HealthcareService', body, { 'x-request-id': requestId });
      const again = await write('POST', '/HealthcareService', body, { 'x-request-id': requestId });
      assert.deepEqual([first.statusCode, again.statusCode], [201, 201]);
      assert.equal(again.json().id, first.json().id);
      assert.equal((await ids('/HealthcareService?organization=A81002')).length, 1);
      const misuse = await write('POST', '/PractitionerRole', roleBody('x1', 'A81002', 'R8000'), {
        'x-request-id': requestId,
      });
      assert.deepEqual([misuse.statusCode, spineCode(misuse)], [400, 'INVALID_VALUE']);
    });

    it('publishes a CapabilityStatement listing the directory resources and their search parameters', async () => {
      const res = await platform.request({ url: `${DIR}/metadata`, token: null });
      assert.equal(res.statusCode, 200, res.body);
      const resources = res.json().rest[0].resource;
      assert.deepEqual(
        resources.map((r: any) => r.type),
        ['Organization', 'Endpoint', 'HealthcareService', 'PractitionerRole'],
      );
      const service = resources.find((r: any) => r.type === 'HealthcareService');
      assert.deepEqual(
        service.interaction.map((i: any) => i.code),
        ['read', 'search-type', 'create', 'update'],
      );
      assert.ok(
        [
          'organization',
          'name',
          'location.address-postalcode',
          'service-type',
          'service-category',
          'active',
        ].every((p) => service.searchParam.some((s: any) => s.name === p)),
        'service search parameters listed',
      );
      assert.equal(resources[0].interaction.length, 2, 'Organizations are read-only over the API');
    });

    it('the CLI registers a PractitionerRole like `directory endpoint add`', async (t) => {
      const c = platform.config;
      const flags = [
        '--data',
        c.dataDir,
        '--store',
        kind,
        '--database-url',
        c.databaseUrl,
        '--database-schema',
        c.databaseSchema,
      ];
      const out: string[] = [];
      t.mock.method(console, 'log', (line: string) => {
        out.push(line);
      });
      t.mock.method(console, 'error', (line: string) => {
        out.push(line);
      });
      const add = [
        'role',
        'add',
        '--user',
        'cli-user-1',
        '--org',
        'a81002',
        '--role',
        'R8008',
        '--start',
        '2024-01-01',
        ...flags,
      ];
      assert.equal(await directoryCommand(add), 0, out.join('\n'));
      assert.match(
        out[0],
        /^registered: PractitionerRole\/[0-9a-f-]{36} cli-user-1 as R8008 at A81002$/,
      );
      assert.equal(await directoryCommand(add), 0);
      assert.match(out[1], /^already registered/);
      assert.equal(
        await directoryCommand([
          'role',
          'add',
          '--user',
          'cli-user-1',
          '--org',
          'B12345',
          '--role',
          'R8008',
          ...flags,
        ]),
        1,
      );
      assert.match(out[2], /organisation B12345 is not in the directory/);
      assert.equal(
        await directoryCommand([
          'role',
          'add',
          '--user',
          'cli-user-1',
          '--org',
          'A81002',
          '--role',
          'R1234',
          ...flags,
        ]),
        1,
      );
      assert.match(out[3], /unknown job role code 'R1234'/);
      assert.equal(await directoryCommand(['role', 'add', '--user', 'cli-user-1', ...flags]), 2);
      const [role] = (
        await platform.request({
          url: `${DIR}/PractitionerRole?practitioner.identifier=cli-user-1`,
        })
      )
        .json()
        .entry.map((e: any) => e.resource);
      assert.deepEqual(
        [role.organization.identifier.value, role.code[0].coding[0].code, role.period],
        ['A81002', 'R8008', { start: '2024-01-01' }],
      );
    });
  });
}
