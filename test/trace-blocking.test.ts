/**
 * PDS blocking keys (src/services/pds/patient-blocking.ts): a trace that gives a birth date drives
 * its search from keys joining that date to a family name, a Soundex key or a postcode. They must
 * never change an answer, only how it is found: every trace below runs twice, once as built and once
 * with the blocking criteria taken out of its store searches, and the two answers must be the same,
 * on both stores, for current and superseded names and postcodes. The store migration that adds the
 * keys to patients indexed before them must leave exactly the index indexPatient() writes today.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { patientWrites } from '../src/seed/seed-patients.js';
import { seedAudit } from '../src/seed/seed-report.js';
import { indexPatient, PATIENT } from '../src/services/pds/index.js';
import { supersededIndexRows, trace, type TraceResult } from '../src/services/pds/trace.js';
import type { TraceRequest } from '../src/services/pds/trace-request.js';
import { BLOCKING_PARAMS } from '../src/services/pds/patient-blocking.js';
import { openRepository } from '../src/store/open.js';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite/schema.js';
import type { Repository } from '../src/store/repository.js';
import type { IndexEntry, SearchQuery } from '../src/store/resource-store.js';
import { isolatedStoreConfig, storesUnderTest, TEST_DATABASE_URL } from './helpers/stores.js';

const PATIENTS = 2_000;
const MOVED = 150;
const SEED = 21;
const BLOCKING = new Set<string>(Object.values(BLOCKING_PARAMS));
const isBlocking = (e: { param: string }) => BLOCKING.has(e.param);

/** The store with its search() passed through `search` first (the rest as it is). */
function withSearch(repo: Repository, search: (q: SearchQuery) => Promise<string[]>): Repository {
  return new Proxy(repo, {
    get(target, key) {
      if (key === 'search') return search;
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The same store with the blocking criteria removed from every search: the unblocked answer. */
const unblocked = (repo: Repository) =>
  withSearch(repo, (q) =>
    repo.search({ ...q, criteria: q.criteria.filter((c) => !c.any.some(isBlocking)) }),
  );

/** The store as it is, noting the params of every search criterion it is asked for. */
const recording = (repo: Repository, params: Set<string>) =>
  withSearch(repo, (q) => {
    for (const c of q.criteria) for (const e of c.any) params.add(e.param);
    return repo.search(q);
  });

const answer = (r: TraceResult) =>
  r.kind === 'too-many'
    ? 'too-many'
    : r.matches.map((m) => `${m.patient.id}@${m.version}:${m.score.toFixed(4)}`);

function request(fields: Partial<TraceRequest>): TraceRequest {
  return {
    fuzzy: false,
    exact: false,
    history: false,
    maxResults: 50,
    given: [],
    birthdate: [],
    deathDate: [],
    ...fields,
  };
}

/** A family name misspelt by swapping its second and third letters (as bench/scale.mjs does). */
const misspell = (s: string) => (s.length > 3 ? s[0] + s[2] + s[1] + s.slice(3) : s + 'e');

/** The traces asked about one patient: algorithmic, wildcard, postcode, history and fuzzy. */
function requestsFor(p: Patient, previous?: { family: string; postcode: string }): TraceRequest[] {
  const name = p.name![0];
  const family = name.family!;
  const birthdate = [{ op: 'eq' as const, value: p.birthDate! }];
  const postcode = p.address?.[0]?.postalCode;
  const given = name.given?.[0] ? [name.given[0]] : [];
  const list = [
    request({ family, birthdate, gender: p.gender }),
    request({ family: family.slice(0, 2) + '*', birthdate }),
    request({ family: misspell(family), given, birthdate, fuzzy: true }),
    request({ family: 'Zzyzx', given, birthdate, postcode, fuzzy: true }),
  ];
  if (postcode) list.push(request({ birthdate, postcode, gender: p.gender }));
  if (previous)
    list.push(
      request({ family: previous.family, birthdate, history: true }),
      request({ family: previous.family, birthdate }),
      request({ family: 'Zzyzx', birthdate, postcode: previous.postcode, fuzzy: true }),
      request({ family, birthdate, postcode: previous.postcode, history: true }),
    );
  return list;
}

for (const kind of await storesUnderTest()) {
  describe(`trace blocking keys (${kind})`, () => {
    let repo: Repository;
    let cleanup: () => Promise<void>;
    let dataDir: string;
    let schema: string;
    const patients: Patient[] = [];
    const previous = new Map<string, { family: string; postcode: string }>();

    before(async () => {
      const isolated = await isolatedStoreConfig(kind);
      cleanup = isolated.cleanup;
      dataDir = isolated.config.dataDir;
      schema = isolated.config.databaseSchema;
      repo = await openRepository(isolated.config);
      const generator = createPatientGenerator(SEED);
      const generated = Array.from({ length: PATIENTS }, (_, i) => generator.generate(i));
      await repo.commit({
        resources: generated.flatMap(patientWrites),
        audit: [seedAudit(SEED, 0, PATIENTS)],
      });
      // some patients change family name and move, as a PATCH does (patient-update.ts)
      for (const [i, g] of generated.entries()) {
        // a merged record answers with its survivor: the patients who move are not merged
        const merged = g.patient.link?.some((l) => l.type === 'replaced-by');
        if (
          i % Math.floor(PATIENTS / MOVED) !== 0 ||
          merged ||
          !g.patient.address?.[0]?.postalCode
        ) {
          patients.push(g.patient);
          continue;
        }
        const old = g.patient;
        const moved: Patient = structuredClone(old);
        moved.name![0].family = 'Moved' + i;
        moved.address![0].postalCode = 'ZZ9 9ZZ';
        const [stored] = await repo.commit({
          resources: [
            {
              type: PATIENT,
              id: old.id!,
              expectedVersion: 1,
              resource: moved,
              index: [...indexPatient(moved), ...supersededIndexRows([old], moved)],
            },
          ],
        });
        patients.push(stored.resource as Patient);
        previous.set(old.id!, {
          family: old.name![0].family!,
          postcode: old.address![0].postalCode!,
        });
      }
    });
    after(async () => {
      await repo.close();
      await cleanup();
    });

    it('answers every trace exactly as the unblocked search would, and drives from the keys', async () => {
      const asked = new Set<string>();
      const blocked = recording(repo, asked);
      const plain = unblocked(repo);
      let traces = 0;
      let found = 0;
      for (const p of patients.filter((_, i) => i % 7 === 0 || previous.has(patients[i].id!))) {
        for (const req of requestsFor(p, previous.get(p.id!))) {
          const got = answer(await trace(blocked, req));
          assert.deepEqual(got, answer(await trace(plain, req)), JSON.stringify(req));
          traces++;
          if (Array.isArray(got) && got.some((m) => m.startsWith(p.id! + '@'))) found++;
        }
      }
      assert.ok(traces > 1_500, `${traces} traces`);
      // the comparison means something only if the traces find their patients
      assert.ok(found / traces > 0.6, `${found} of ${traces} traces found their patient`);
      for (const param of Object.values(BLOCKING_PARAMS)) assert.ok(asked.has(param), param);
    });

    it('finds a patient by a superseded family name or postcode only through history', async () => {
      assert.ok(previous.size >= 100, `${previous.size} patients moved`);
      for (const [id, old] of previous) {
        const p = patients.find((x) => x.id === id)!;
        const birthdate = [{ op: 'eq' as const, value: p.birthDate! }];
        const ids = async (req: TraceRequest) => {
          const r = await trace(repo, req);
          return r.kind === 'matches' ? r.matches.map((m) => m.patient.id) : [];
        };
        assert.ok(
          (await ids(request({ family: old.family, birthdate, history: true }))).includes(id),
        );
        assert.ok(!(await ids(request({ family: old.family, birthdate }))).includes(id));
        assert.ok(
          (await ids(request({ birthdate, postcode: old.postcode, history: true }))).includes(id),
        );
      }
    });

    it('the migration gives patients indexed before the keys exactly the rows indexPatient writes', async () => {
      const rowsOf = async (): Promise<Map<string, string[]>> => {
        const rows = kind === 'sqlite' ? sqliteIndex(dataDir) : await postgresIndex(schema);
        const byId = new Map<string, string[]>();
        for (const r of rows)
          byId.set(r.rid, [...(byId.get(r.rid) ?? []), `${r.param}=${r.value}`]);
        for (const list of byId.values()) list.sort();
        return byId;
      };
      const before = await rowsOf();
      // take the keys out, as a store written before them holds its patients, then migrate again
      await repo.close();
      await stripBlockingKeys(kind, dataDir, schema);
      const reopened = await openRepository({
        store: kind,
        dataDir,
        databaseUrl: TEST_DATABASE_URL,
        databaseSchema: schema,
      });
      repo = reopened;
      const after = await rowsOf();
      assert.equal(after.size, before.size);
      let keys = 0;
      for (const [rid, list] of before) {
        assert.deepEqual(after.get(rid), list, rid);
        keys += list.filter((r) => BLOCKING.has(r.split('=')[0])).length;
      }
      assert.ok(keys > PATIENTS * 3, `${keys} blocking keys`);
      if (kind === 'sqlite') {
        // resources.index_rows lists the same rows, which an update deletes by
        for (const [rid, list] of sqliteIndexRows(dataDir))
          assert.deepEqual(list, before.get(rid), rid);
      }
    });
  });
}

type IndexRow = IndexEntry & { rid: string };

function sqliteIndex(dataDir: string): IndexRow[] {
  const db = new Database(join(dataDir, 'openspine.db'), { readonly: true });
  try {
    return db
      .prepare(`SELECT param, value, rid FROM search_index WHERE rtype = 'Patient'`)
      .all() as IndexRow[];
  } finally {
    db.close();
  }
}

function sqliteIndexRows(dataDir: string): Map<string, string[]> {
  const db = new Database(join(dataDir, 'openspine.db'), { readonly: true });
  try {
    const rows = db
      .prepare(`SELECT rid, index_rows FROM resources WHERE rtype = 'Patient'`)
      .all() as { rid: string; index_rows: string }[];
    return new Map(
      rows.map((r) => [
        r.rid,
        (JSON.parse(r.index_rows) as [string, string][]).map(([p, v]) => `${p}=${v}`).sort(),
      ]),
    );
  } finally {
    db.close();
  }
}

async function postgresIndex(schema: string): Promise<IndexRow[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<IndexRow>(
      `SELECT param, value, rid FROM ${schema}.search_index WHERE rtype = 'Patient'`,
    );
    return rows;
  } finally {
    await client.end();
  }
}

/** Deletes the blocking keys and the record of the migration that added them. */
async function stripBlockingKeys(kind: string, dataDir: string, schema: string): Promise<void> {
  const params = [...BLOCKING];
  if (kind === 'sqlite') {
    const db = new Database(join(dataDir, 'openspine.db'));
    try {
      db.transaction(() => {
        const marks = params.map(() => '?').join(', ');
        db.prepare(`DELETE FROM search_index WHERE param IN (${marks})`).run(...params);
        const update = db.prepare(
          'UPDATE resources SET index_rows = ? WHERE rtype = ? AND rid = ?',
        );
        for (const [rid, list] of sqliteIndexRows(dataDir)) {
          const kept = list.map((r) => r.split('=')).filter(([p]) => !BLOCKING.has(p));
          update.run(JSON.stringify(kept.map(([p, ...v]) => [p, v.join('=')])), PATIENT, rid);
        }
        db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(
          SQLITE_MIGRATIONS.findIndex((sql) => sql.includes('birthdate-')) + 1,
        );
      })();
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DELETE FROM ${schema}.search_index WHERE param = ANY($1)`, [params]);
    await client.query(
      `DELETE FROM ${schema}.schema_migrations WHERE version = (SELECT max(version) FROM ${schema}.schema_migrations)`,
    );
  } finally {
    await client.end();
  }
}
