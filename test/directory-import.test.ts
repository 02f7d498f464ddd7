import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryCommand } from '../src/cli/directory.js';
import { decodeExtract, parseCsv, readRow } from '../src/services/directory/ods-csv.js';
import { importOdsExtract } from '../src/services/directory/ods-import.js';
import { openRepository } from '../src/store/open.js';
import { loadConfig } from '../src/config.js';
import type { Repository } from '../src/store/repository.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'directory');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));

describe('ODS extract parsing', () => {
  it('reads quoted fields with commas and doubled quotes, and unquoted fields', () => {
    const [rec] = parseCsv('"FW844","""HEALTHY"" CHEMIST","UNIT 3, MILL LANE"\r\nA,B ,C\n');
    assert.deepEqual(rec.fields, ['FW844', '"HEALTHY" CHEMIST', 'UNIT 3, MILL LANE']);
    assert.deepEqual(parseCsv('x\n\nA,B ,C')[1], { line: 3, fields: ['A', 'B', 'C'] });
  });

  it('decodes UTF-8, and falls back to latin-1 for bytes that are not UTF-8', () => {
    assert.deepEqual(decodeExtract(Buffer.from('Café', 'utf8')), {
      text: 'Café',
      encoding: 'utf-8',
    });
    assert.deepEqual(decodeExtract(Buffer.from([0x43, 0x61, 0x66, 0xe9])), {
      text: 'Café',
      encoding: 'latin-1',
    });
  });

  it('rejects a bad row with its reason', () => {
    const fields = (code: string, open: string) => [
      code,
      'NAME',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      'LS1 1AA',
      open,
      '',
      'A',
      ...Array(14).fill(''),
    ];
    assert.match(
      (readRow('epraccur', fields('A8100', '20000101')) as { reason: string }).reason,
      /invalid ODS code 'A8100'/,
    );
    assert.match(
      (readRow('epraccur', fields('A81001', '20000230')) as { reason: string }).reason,
      /invalid open date '20000230'/,
    );
    assert.match(
      (readRow('etr', fields('A81001', '20000101').slice(1)) as { reason: string }).reason,
      /expected 27 columns for etr, found 26/,
    );
    const ok = readRow('epraccur', fields('a81001', '20000101'));
    assert.ok(
      ok.ok && ok.facts.code === 'A81001' && ok.facts.openDate === '2000-01-01',
      `lower-case code accepted: ${JSON.stringify(ok)}`,
    );
  });
});

for (const kind of await storesUnderTest()) {
  describe(`directory import (${kind})`, () => {
    let repo: Repository;
    let cleanup: () => Promise<void>;
    let storeFlags: string[];
    before(async () => {
      const store = await isolatedStoreConfig(kind);
      cleanup = store.cleanup;
      repo = await openRepository({ ...loadConfig({}, {}), ...store.config });
      storeFlags = [
        '--data',
        store.config.dataDir,
        '--store',
        kind,
        '--database-url',
        store.config.databaseUrl,
        '--database-schema',
        store.config.databaseSchema,
      ];
    });
    after(async () => {
      await repo.close();
      await cleanup();
    });

    it('loads an unquoted epraccur file, rejecting bad rows with their line and reason', async () => {
      const report = await importOdsExtract(repo, fixture('epraccur-v1.csv'));
      assert.equal(report.layout, 'epraccur');
      assert.deepEqual(
        [report.added, report.changed, report.closed, report.unchanged],
        [4, 0, 0, 0],
      );
      assert.deepEqual(
        report.rejected.map((r) => r.line),
        [3, 6, 8],
      );
      assert.match(report.rejected[0].reason, /expected 27 columns for epraccur, found 20/);
      assert.match(report.rejected[1].reason, /invalid ODS code '8A1006'/);
      assert.match(report.rejected[2].reason, /invalid open date '19741301'/);
      const org = (await repo.read('Organization', 'A81001'))!.resource;
      assert.equal(org.name, 'The Densham Surgery');
      assert.deepEqual(org.address[0], {
        use: 'work',
        line: ['The Health Centre', 'Lawson Street'],
        city: 'Stockton-On-Tees',
        district: 'Cleveland',
        postalCode: 'TS18 1HU',
      });
      assert.equal(org.partOf.identifier.value, '16C');
      assert.equal(org.type[0].coding[0].code, 'RO76');
      assert.equal(org.active, true);
      const closed = (await repo.read('Organization', 'A81003'))!.resource;
      assert.equal(closed.active, false);
      assert.deepEqual(closed.extension[0].valuePeriod, { start: '1974-04-01', end: '2012-12-31' });
    });

    it('a re-import of the same file changes nothing', async () => {
      const before = await repo.read('Organization', 'A81001');
      const report = await importOdsExtract(repo, fixture('epraccur-v1.csv'));
      assert.deepEqual(
        [report.added, report.changed, report.closed, report.unchanged, report.rejected.length],
        [0, 0, 0, 4, 3],
      );
      assert.equal((await repo.read('Organization', 'A81001'))!.version, before!.version);
    });

    it('a later extract updates changed rows, closes closed ones and adds new ones', async () => {
      const report = await importOdsExtract(repo, fixture('epraccur-v2.csv'), {
        layout: 'epraccur',
      });
      assert.deepEqual(
        [report.added, report.changed, report.closed, report.unchanged, report.rejected.length],
        [1, 1, 1, 2, 0],
      );
      const renamed = await repo.read('Organization', 'A81002');
      assert.equal(renamed!.version, 2);
      assert.equal(renamed!.resource.name, 'Queens Park Medical Centre And Branch');
      const closed = (await repo.read('Organization', 'A81004'))!.resource;
      assert.equal(closed.active, false);
      assert.deepEqual(
        await repo.search({
          type: 'Organization',
          criteria: [{ any: [{ param: 'active', op: 'eq', value: 'false' }] }],
          limit: 10,
        }),
        ['A81003', 'A81004'],
      );
    });

    it('loads a quoted edispensary file (layout inferred from its codes)', async () => {
      const report = await importOdsExtract(repo, fixture('edispensary-quoted.csv'));
      assert.equal(report.layout, 'edispensary');
      assert.deepEqual([report.added, report.rejected.length], [3, 1]);
      assert.match(report.rejected[0].reason, /invalid ODS code 'A81001' for edispensary/);
      assert.equal(report.rejected[0].line, 4);
      const fw = (await repo.read('Organization', 'FW844'))!.resource;
      assert.equal(fw.name, '"Healthy" Chemist');
      assert.deepEqual(fw.address[0].line, ['Unit 3, Mill Lane']);
      assert.equal(fw.type[0].coding[0].code, 'RO182');
      assert.equal(
        (await repo.read('Organization', 'FA008'))!.resource.partOf.identifier.value,
        'P1A',
      );
      assert.equal((await repo.read('Organization', 'FX123'))!.resource.active, false);
    });

    it('loads a latin-1 etr file with accented names', async () => {
      const bytes = fixture('etr-latin1.csv');
      assert.ok(
        bytes.includes(Buffer.from([0x43, 0x61, 0x66, 0xe9])),
        'the fixture holds Café as latin-1 bytes',
      );
      const report = await importOdsExtract(repo, bytes);
      assert.deepEqual([report.layout, report.encoding, report.added], ['etr', 'latin-1', 2]);
      assert.match(
        report.rejected[0]?.reason ?? '',
        /close date 1999-01-01 is before open date 2000-01-01/,
      );
      assert.equal(
        (await repo.read('Organization', 'RQ1'))!.resource.name,
        'Pen-y-Bont Ffordd Café Trust',
      );
      assert.equal(
        (await repo.read('Organization', 'RR8'))!.resource.address[0].line[0],
        "St. James's University Hospital",
      );
    });

    it('the CLI prints the one-line report and the rejected lines, and exits 1 on an unreadable file', async (t) => {
      const out: string[] = [];
      t.mock.method(console, 'log', (line: string) => {
        out.push(line);
      });
      t.mock.method(console, 'error', (line: string) => {
        out.push(line);
      });
      const code = await directoryCommand([
        'import',
        join(FIXTURES, 'epraccur-v2.csv'),
        ...storeFlags,
      ]);
      assert.equal(code, 0, out.join('\n'));
      assert.equal(
        out.join('\n').split('\n')[0],
        'added 0, changed 0, closed 0, unchanged 5, rejected 0',
      );
      const missing = await directoryCommand([
        'import',
        join(FIXTURES, 'no-such-file.csv'),
        ...storeFlags,
      ]);
      assert.equal(missing, 1);
      assert.match(out.at(-1)!, /cannot read .*no-such-file\.csv: ENOENT/);
      out.length = 0;
      assert.equal(
        await directoryCommand([
          'import',
          join(FIXTURES, 'epraccur-v1.csv'),
          '--type',
          'etr',
          ...storeFlags,
        ]),
        0,
      );
      const lines = out.join('\n').split('\n');
      assert.equal(lines[0], 'added 0, changed 0, closed 0, unchanged 0, rejected 7');
      assert.match(lines[1], /^ {2}line 1: invalid ODS code 'A81001' for etr/);
      out.length = 0;
      const add = [
        'endpoint',
        'add',
        '--org',
        'A81001',
        '--interaction',
        'urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1',
        '--address',
        'https://gp.example/fhir',
        ...storeFlags,
      ];
      assert.equal(await directoryCommand(add), 0, out.join('\n'));
      assert.match(out[0], /^registered: Endpoint\/[0-9a-f-]{36} .* for A81001$/);
      assert.equal(await directoryCommand(add), 0);
      assert.match(out[1], /^already registered/);
      assert.equal(
        await directoryCommand([
          'endpoint',
          'add',
          '--org',
          'B12345',
          '--interaction',
          'x:y:z',
          '--address',
          'https://x.example',
          ...storeFlags,
        ]),
        1,
      );
      assert.match(out[2], /organisation B12345 is not in the directory/);
    });

    it('imports 20,000 rows in batches, every row searchable afterwards', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ods-'));
      try {
        const rows = Array.from({ length: 20_000 }, (_, i) => {
          const code = 'Y' + String(i).padStart(5, '0');
          return [
            code,
            `PRACTICE ${i}`,
            'Y63',
            'QHM',
            `${i} HIGH STREET`,
            '',
            '',
            'LEEDS',
            '',
            `LS${i % 20} 1AA`,
            '20000101',
            '',
            'A',
            'B',
            '15F',
            '',
            '',
            '',
            '',
            '',
            '',
            '0',
            '',
            '',
            '4',
            '',
            '',
          ].join(',');
        });
        writeFileSync(join(dir, 'big.csv'), rows.join('\n'));
        const report = await importOdsExtract(repo, readFileSync(join(dir, 'big.csv')));
        assert.equal(report.added, 20_000);
        // the first, a middle and the last row of the file all landed (no batch was dropped)
        for (const code of ['Y00000', 'Y09999', 'Y19999'])
          assert.ok(await repo.read('Organization', code), `${code} was imported`);
        assert.equal(
          (await repo.count('Organization')) >= 20_000,
          true,
          'all 20,000 organisations are stored',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
