/**
 * Conformance: NHS England's
 * karate-tests/src/test/java/patients/healthcareWorker/searchForAPatient/searchParams.feature
 * (NHSDigital/personal-demographics-service-api), scenario by scenario. The suite's test patients
 * (INT NHS Numbers and demographics the scenarios name) are loaded by this test through the repository.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { assertSearchset, commitPatients, PDS, qs } from '../../helpers/pds-fixtures.js';
import { indexPatient } from '../../../src/services/pds/patient-index.js';
import { supersededIndexRows } from '../../../src/services/pds/trace.js';
import {
  assertIdsEchoed,
  email,
  karatePatient,
  phone,
  publishedBody,
} from './read-search-support.js';

const FEATURE = 'searchParams.feature';
const YOUDS = ['9693633679', '9693633687', '9693633695', '9693633709'];

function testPatients() {
  return [
    karatePatient({ id: '5900035697', family: 'Jones', gender: 'male', birthDate: '1995-03-04' }),
    karatePatient({ id: '9693632117', family: 'Capon', gender: 'male', birthDate: '1953-05-29' }),
    karatePatient({
      id: '9693632125',
      family: 'Godsoe',
      gender: 'male',
      birthDate: '1936-02-24',
      label: 'R',
      telecom: [phone('01632960111')],
      gp: 'Y12345',
    }),
    karatePatient({
      id: '9693632966',
      family: 'Massam',
      gender: 'female',
      birthDate: '1920-08-11',
    }),
    ...YOUDS.map((id, i) =>
      karatePatient({
        id,
        family: 'YOUDS',
        given: ['Pat'],
        gender: (['male', 'female', 'unknown', 'other'] as const)[i],
        birthDate: '1970-01-24',
      }),
    ),
    karatePatient({
      id: '9693632109',
      family: 'GARTON',
      given: ['Joe'],
      gender: 'male',
      birthDate: '1955-11-05',
      previousFamilies: ['Bloggs'],
    }),
    karatePatient({
      id: '9693633148',
      family: 'attisón',
      given: ['Pauline'],
      gender: 'female',
      birthDate: '1960-07-14',
    }),
    karatePatient({
      id: '9693633121',
      family: 'attison',
      given: ['Pauline', 'Mary'],
      gender: 'female',
      birthDate: '1960-07-14',
    }),
    // CUFF: a superseded record and the record that replaced it
    karatePatient({
      id: '5900053636',
      family: 'CUFF',
      gender: 'female',
      birthDate: '1926-01-07',
      replacedBy: '5900053644',
    }),
    karatePatient({ id: '5900053644', family: 'CUFF', gender: 'female', birthDate: '1926-01-07' }),
    // the Smiths born 2000-05-05, and Mat Smythe
    karatePatient({
      id: '5900011111',
      family: 'Smith',
      given: ['Sam', 'Bob'],
      gender: 'male',
      birthDate: '2000-05-05',
      postcode: 'DN17 1AB',
      telecom: [email('test@test.com'), phone('01234123123')],
    }),
    karatePatient({
      id: '5900011112',
      family: 'Smith',
      given: ['John'],
      gender: 'male',
      birthDate: '2000-05-05',
      postcode: 'DN17 2CD',
      telecom: [email('test@test.com'), phone('01234123123')],
    }),
    karatePatient({
      id: '5900011113',
      family: 'Smith',
      given: ['Harry'],
      gender: 'male',
      birthDate: '2000-05-05',
      postcode: 'LS2 7AB',
      telecom: [email('Historic@historic.com', '2021-01-01'), email('New@new.com')],
    }),
    karatePatient({
      id: '5900022366',
      family: 'Smythe',
      given: ['Mat'],
      gender: 'male',
      birthDate: '2000-05-05',
      postcode: 'DN17 4AA',
      telecom: [email('test@test.com'), phone('01222111111')],
    }),
    karatePatient({
      id: '5900044444',
      family: 'Muir',
      gender: 'male',
      birthDate: '2017-09-06',
      telecom: [phone('00917855986859')],
    }),
    karatePatient({
      id: '5900055555',
      family: 'Meadows',
      gender: 'female',
      birthDate: '2015-10-22',
      gp: 'A20047',
    }),
    karatePatient({
      id: '5900055556',
      family: 'Meek',
      gender: 'female',
      birthDate: '2015-10-22',
      gp: 'B81001',
    }),
    karatePatient({
      id: '5900066666',
      family: 'TUNNEY',
      gender: 'male',
      birthDate: '1985-06-01',
      deceased: '2019-01-15T10:00:00+00:00',
    }),
    karatePatient({
      id: '9733162450',
      family: 'MED',
      given: ['Casey'],
      gender: 'male',
      birthDate: '1999-09-09',
      previousFamilies: ['HUME'],
    }),
  ];
}

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: ${FEATURE} (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, testPatients());
    });
    after(async () => platform?.close());

    /** Karate's getPatient.feature@searchForAPatient: GET /Patient with the parameters, ids echoed. */
    async function find(params: Record<string, string | string[]>, status = 200) {
      const pairs = Object.entries(params).flatMap(([k, v]) =>
        [v].flat().map((x) => [k, x] as [string, string]),
      );
      const headers = {
        'x-request-id': crypto.randomUUID(),
        'x-correlation-id': crypto.randomUUID(),
      };
      const res = await platform.request({ url: `${PDS}/Patient?${qs(pairs)}`, headers });
      assert.equal(res.statusCode, status, res.body.slice(0, 500));
      assertIdsEchoed(res, headers);
      return res;
    }
    const bundle = async (params: Record<string, string | string[]>) =>
      assertSearchset(await find(params));
    const ids = (b: any): string[] => b.entry.map((e: any) => e.resource.id);

    it(`${FEATURE}: Search for a patient using parameters`, async () => {
      const b = await bundle({ family: 'Jones', gender: 'male', birthdate: 'ge1992-01-01' });
      assert.equal(b.total, 1);
      assert.equal(b.entry[0].resource.id, '5900035697');
    });

    it(`${FEATURE}: Search for a patient using parameters (INT smoke test)`, async () => {
      const b = await bundle({ family: 'Capon', gender: 'male', birthdate: 'eq1953-05-29' });
      assert.equal(b.total, 1);
      assert.equal(b.entry[0].resource.id, '9693632117');
    });

    it(`${FEATURE}: Search for a "restricted" (sensitive) patient`, async () => {
      const b = await bundle({ family: 'Godsoe', gender: 'male', birthdate: '1936-02-24' });
      const r = b.entry[0].resource;
      assert.equal(r.id, '9693632125');
      assert.deepEqual(r.meta.security[0], {
        code: 'R',
        display: 'restricted',
        system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
      });
      for (const hidden of ['address', 'telecom', 'generalPractitioner'])
        assert.equal(r[hidden], undefined, hidden);
    });

    it(`${FEATURE}: Search without specifying gender`, async () => {
      const b = await bundle({ family: 'Massam', birthdate: 'eq1920-08-11' });
      assert.equal(b.entry[0].resource.id, '9693632966');
      assert.equal(b.entry[0].resource.gender, 'female');
    });

    it(`${FEATURE}: Search using a range for date of birth`, async () => {
      const b = await bundle({ family: 'Massam', birthdate: 'le1920-08-11' });
      assert.equal(b.entry[0].resource.id, '9693632966');
      assert.equal(b.entry[0].resource.gender, 'female');
    });

    it(`${FEATURE}: Wide search, multiple results`, async () => {
      const b = await bundle({ family: 'YOUDS', birthdate: '1970-01-24' });
      assert.equal(b.total, 4);
      for (const e of b.entry) {
        assert.ok(e.resource.name.every((n: any) => n.family === 'YOUDS'));
        assert.equal(e.resource.birthDate, '1970-01-24');
      }
      assert.deepEqual(ids(b), YOUDS);
      assert.deepEqual(
        b.entry.map((e: any) => e.resource.gender),
        ['male', 'female', 'unknown', 'other'],
      );
    });

    it(`${FEATURE}: Fuzzy match search - Family name is homophone of actual historic family name`, async () => {
      const b = await bundle({
        '_fuzzy-match': 'true',
        family: 'Blogs',
        given: 'Joe',
        birthdate: '1955-11-05',
      });
      assert.equal(b.total, 1);
      assert.equal(b.entry[0].resource.name[0].family, 'GARTON');
      assert.equal(b.entry[0].resource.birthDate, '1955-11-05');
      assert.equal(b.entry[0].resource.id, '9693632109');
    });

    it(`${FEATURE}: Unicode search (order and records; the exact scores 0.9317/0.9077 are PDS's algorithm, see SET-ASIDE.md)`, async () => {
      const b = await bundle({
        '_fuzzy-match': 'true',
        family: 'ATTSÖN',
        given: 'PÀULINÉ',
        birthdate: '1960-07-14',
      });
      assert.equal(b.total, 2);
      assert.deepEqual(ids(b), ['9693633148', '9693633121']);
      assert.ok(
        b.entry[0].search.score > b.entry[1].search.score && b.entry[0].search.score < 1,
        JSON.stringify(b.entry.map((e: any) => e.search)),
      );
      assert.equal(b.entry[0].resource.name[0].family, 'attisón');
      assert.deepEqual(b.entry[0].resource.name[0].given, ['Pauline']);
      assert.equal(b.entry[1].resource.name[0].family, 'attison');
      assert.deepEqual(b.entry[1].resource.name[0].given, ['Pauline', 'Mary']);
      for (const e of b.entry) {
        assert.equal(e.resource.gender, 'female');
        assert.equal(e.resource.birthDate, '1960-07-14');
      }
    });

    it(`${FEATURE}: Too many matches`, async () => {
      assert.equal((await bundle({ family: 'YOUDS', birthdate: '1970-01-24' })).total, 4);
      const res = await find({ family: 'YOUDS', birthdate: '1970-01-24', '_max-results': '1' });
      assert.deepEqual(res.json(), publishedBody('searchResponses/TOO_MANY_MATCHES.json'));
    });

    it(`${FEATURE}: Search should not return superseded patients record`, async () => {
      const b = await bundle({ family: 'CUFF', birthdate: 'eq1926-01-07', gender: 'female' });
      assert.equal(b.total, 1);
      assert.ok(!ids(b).includes('5900053636'));
    });

    it(`${FEATURE}: Simple search with other given name - Single match`, async () => {
      const b = await bundle({
        family: 'Smith',
        gender: 'male',
        birthdate: 'eq2000-05-05',
        given: ['Sam', 'Bob'],
      });
      assert.equal(b.total, 1);
      const given = b.entry.flatMap((e: any) => e.resource.name.flatMap((n: any) => n.given));
      assert.ok(given.includes('Sam') || given.includes('Bob'));
    });

    const telecomValues = (b: any): string[] =>
      b.entry.flatMap((e: any) => (e.resource.telecom ?? []).map((t: any) => t.value));

    it(`${FEATURE}: Simple and Alphanumeric search with email and phone number - Multi match`, async () => {
      for (const family of ['Smith', 'Sm*']) {
        const b = await bundle({
          family,
          gender: 'male',
          birthdate: 'eq2000-05-05',
          email: 'test@test.com',
          phone: '01234123123',
        });
        assert.ok(b.total > 1, `${family}: ${b.total}`);
        assert.ok(telecomValues(b).some((v) => v === '01234123123' || v === 'test@test.com'));
      }
    });

    it(`${FEATURE}: Simple and Alphanumeric search with email and phone number - no results`, async () => {
      for (const family of ['Smith', 'Sm*']) {
        const b = await bundle({
          family,
          gender: 'male',
          birthdate: 'eq2000-05-05',
          email: 'rubbish@test.com',
          phone: '01234123123',
        });
        assert.equal(b.total, 0);
      }
    });

    it(`${FEATURE}: Simple search with phone number including country code`, async () => {
      const b = await bundle({
        family: 'Muir',
        gender: 'male',
        birthdate: 'eq2017-09-06',
        phone: '00917855986859',
      });
      assert.equal(b.total, 1);
      assert.ok(telecomValues(b).includes('00917855986859'));
    });

    it(`${FEATURE}: Include history flag for non fuzzy search`, async () => {
      const query = {
        family: 'Smith',
        gender: 'male',
        email: 'Historic@historic.com',
        birthdate: 'eq2000-05-05',
      };
      assert.equal((await bundle(query)).total, 0);
      const b = await bundle({ ...query, _history: 'true' });
      const emails = b.entry.flatMap((e: any) =>
        (e.resource.telecom ?? [])
          .filter((t: any) => t.system === 'email')
          .map((t: any) => t.value),
      );
      assert.ok(!emails.includes('Historic@historic.com'), 'the superseded email is not returned');
      assert.ok(emails.includes('New@new.com'), 'the current email is returned');
      assert.equal(b.total, 1);
    });

    it(`${FEATURE}: wildcard search on postcode`, async () => {
      const b = await bundle({
        family: 'Smith',
        birthdate: 'eq2000-05-05',
        gender: 'male',
        'address-postalcode': 'DN17*',
      });
      assert.ok(b.total >= 2, String(b.total));
      const postcodes: string[] = b.entry.flatMap((e: any) =>
        (e.resource.address ?? []).map((a: any) => a.postalCode),
      );
      assert.ok(postcodes.some((p) => p.startsWith('DN17')));
    });

    it(`${FEATURE}: Alphanumeric search with registered GP practice`, async () => {
      const b = await bundle({
        family: 'Me*',
        birthdate: 'eq2015-10-22',
        'general-practitioner': 'A20047',
      });
      assert.equal(b.total, 1);
      assert.ok(
        b.entry
          .flatMap((e: any) => e.resource.generalPractitioner.map((g: any) => g.identifier.value))
          .includes('A20047'),
      );
    });

    it(`${FEATURE}: Simple search with date of death parameter`, async () => {
      const b = await bundle({
        family: 'TUNNEY',
        birthdate: 'ge1980-01-01',
        'death-date': 'le2019-02-28',
      });
      assert.equal(b.total, 1);
      assert.ok(b.entry[0].resource.deceasedDateTime);
    });

    it(`${FEATURE}: Algorithm search with basic(given name, gender, date of birth and postal code) and phone number - no match -> single match -> multi match`, async () => {
      const basic = {
        family: 'Smythe',
        birthdate: 'ge2000-05-03',
        gender: 'male',
        given: 'Mat',
        'address-postalcode': 'DN17 4AA',
        '_fuzzy-match': 'true',
      };
      assert.equal(
        (await bundle({ ...basic, email: 'rubbish@work.com', phone: '01222111111' })).total,
        0,
      );
      const single = await bundle({ ...basic, email: 'test@test.com', phone: '01222111111' });
      assert.equal(single.total, 1);
      assert.equal(single.entry[0].resource.id, '5900022366');
      const multi = await bundle(basic);
      assert.ok(multi.total >= 1);
      assert.ok(
        multi.entry
          .flatMap((e: any) => (e.resource.address ?? []).map((a: any) => a.postalCode))
          .includes('DN17 4AA'),
      );
    });

    it(`${FEATURE}: Search for a PDS record based on historic DOB, family name, gender`, async () => {
      const [historicDob, currentDob] = ['2024-01-12', '1999-09-09'];
      assert.equal(
        (await bundle({ family: 'MED', birthdate: historicDob, gender: 'male' })).total,
        0,
      );
      assert.equal(
        (await bundle({ family: 'MED', birthdate: currentDob, gender: 'female' })).total,
        0,
      );
      assert.equal(
        (await bundle({ family: 'HUME', birthdate: currentDob, gender: 'male' })).total,
        0,
      );
      assert.equal(
        (
          await bundle({
            family: 'MED',
            birthdate: historicDob,
            gender: 'male',
            given: 'Casey',
            '_fuzzy-match': 'true',
          })
        ).total,
        0,
      );
      let b = await bundle({
        family: 'MED',
        birthdate: currentDob,
        gender: 'female',
        given: 'Casey',
        '_fuzzy-match': 'true',
      });
      assert.equal(b.total, 1);
      assert.equal(b.entry[0].resource.id, '9733162450');
      assert.equal(b.entry[0].resource.gender, 'male');
      b = await bundle({
        family: 'HUME',
        birthdate: currentDob,
        gender: 'male',
        given: 'Casey',
        '_fuzzy-match': 'true',
      });
      assert.equal(b.total, 1);
      assert.equal(b.entry[0].resource.id, '9733162450');
      assert.equal(b.entry[0].resource.name[0].family, 'MED');
      assert.equal(
        (await bundle({ family: 'MED', birthdate: historicDob, gender: 'male', _history: 'true' }))
          .total,
        0,
      );
      b = await bundle({ family: 'HUME', birthdate: currentDob, gender: 'male', _history: 'true' });
      assert.equal(b.total, 1);
      assert.equal(b.entry[0].resource.id, '9733162450');
      assert.equal(b.entry[0].resource.name[0].family, 'MED');
    });

    // "Include history flag" and "historic ... family name" with values a later version replaced outright
    // (no ended period left in the document): the record is found by them only with _history, current data returned
    describe('superseded values of earlier versions', () => {
      const ID = '5900077777';
      before(async () => {
        const v1 = karatePatient({
          id: ID,
          family: 'Formerly',
          given: ['Alex'],
          gender: 'male',
          birthDate: '1988-08-08',
          telecom: [email('gone@old.example')],
        });
        const v2 = karatePatient({
          id: ID,
          family: 'Nowadays',
          given: ['Alex'],
          gender: 'male',
          birthDate: '1988-08-08',
          telecom: [email('here@new.example')],
        });
        await platform.repo.commit({
          resources: [
            {
              type: 'Patient',
              id: ID,
              expectedVersion: 0,
              resource: v1 as any,
              index: indexPatient(v1),
            },
          ],
        });
        await platform.repo.commit({
          resources: [
            {
              type: 'Patient',
              id: ID,
              expectedVersion: 1,
              resource: v2 as any,
              index: [...indexPatient(v2), ...supersededIndexRows([v1], v2)],
            },
          ],
        });
      });

      it(`${FEATURE}: Include history flag for non fuzzy search (a superseded family name and email)`, async () => {
        for (const q of [
          { family: 'Formerly' },
          { family: 'Nowadays', email: 'gone@old.example' },
        ] as Record<string, string>[]) {
          assert.equal(
            (await bundle({ ...q, birthdate: 'eq1988-08-08' })).total,
            0,
            JSON.stringify(q),
          );
          const b = await bundle({ ...q, birthdate: 'eq1988-08-08', _history: 'true' });
          assert.deepEqual(ids(b), [ID], JSON.stringify(q));
          assert.equal(b.entry[0].resource.name[0].family, 'Nowadays');
          assert.deepEqual(
            b.entry[0].resource.telecom.map((t: any) => t.value),
            ['here@new.example'],
          );
        }
      });

      it(`${FEATURE}: Include history flag for non fuzzy search (a family name replaced by PATCH)`, async () => {
        const id = '5900077780';
        await commitPatients(platform.repo, [
          karatePatient({
            id,
            family: 'Beforepatch',
            given: ['Alex'],
            gender: 'male',
            birthDate: '1977-07-07',
          }),
        ]);
        const read = await platform.request({ url: `${PDS}/Patient/${id}` });
        const patched = await platform.request({
          method: 'PATCH',
          url: `${PDS}/Patient/${id}`,
          headers: { 'if-match': String(read.headers.etag) },
          contentType: 'application/json-patch+json',
          body: {
            patches: [
              { op: 'test', path: '/name/0/id', value: 'N1' },
              { op: 'replace', path: '/name/0/family', value: 'Afterpatch' },
            ],
          },
        });
        assert.equal(patched.statusCode, 200, patched.body.slice(0, 300));
        const b = await bundle({
          family: 'Beforepatch',
          birthdate: 'eq1977-07-07',
          _history: 'true',
        });
        assert.deepEqual(ids(b), [id]);
      });
    });
  });
}
