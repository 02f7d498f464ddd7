/**
 * GET /security/FHIR/R4/AuditEvent: the audit trail as FHIR AuditEvents, exact (every entry
 * committed before the search), by patient, user, organisation, activity, type and date, paged;
 * a patient's own access log; refusals; and the audit of reading the audit trail.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent, Bundle } from 'fhir/r4.js';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { roleName } from '../src/security/policy.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import type { AuditRecord } from '../src/audit/types.js';
import { PDS, spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
const AE = '/security/FHIR/R4/AuditEvent';
const P = '9000000009';
const Q = '9000000017';
const SECRET_TEXT = 'partner 9000000017 says he fell';

const base = { actorKind: 'user', outcome: 'success' } as const;
/** Hand-made history: who did what to whom, when and why. */
const HISTORY: Omit<AuditRecord, 'requestId'>[] = [
  {
    ...base,
    time: '2026-01-02T10:00:00.000Z',
    userId: 'u-alice',
    userName: 'Dr Alice Able',
    role: 'R8000',
    org: 'A81001',
    patient: P,
    action: 'pds.read',
  },
  {
    ...base,
    time: '2025-12-31T23:30:00.000Z',
    userId: 'u-bob',
    userName: 'Nurse Bob Baker',
    role: 'R8001',
    org: 'B82002',
    patient: P,
    action: 'emergency.access',
    outcome: 'granted',
    type: 'emergency-access',
    purpose: 'emergency-access',
    detail: { reasonCode: 'life-threatening', reasonText: SECRET_TEXT },
  },
  {
    ...base,
    time: '2026-01-02T08:00:00.000Z',
    userId: 'u-bob',
    userName: 'Nurse Bob Baker',
    role: 'R8001',
    org: 'B82002',
    patient: P,
    action: 'emergency.access',
    outcome: 'granted',
    type: 'emergency-access',
    purpose: 'emergency-access',
    detail: { reasonCode: 'unable-to-consent', reasonText: SECRET_TEXT },
  },
  {
    time: '2026-01-03T12:00:00.000Z',
    userId: Q,
    userName: 'Quentin Other',
    actorKind: 'patient',
    role: 'patient',
    org: '',
    patient: P,
    action: 'pds.read',
    outcome: 'refused 403 ACCESS_DENIED',
  },
  {
    ...base,
    time: '2026-01-04T09:15:00.000Z',
    userId: 'u-carol',
    userName: 'Carol Records',
    role: 'R8013',
    org: 'A81001',
    patient: P,
    action: 'pds.merge',
    detail: { superseded: Q },
  },
  {
    ...base,
    time: '2026-01-02T11:00:00.000Z',
    userId: 'u-alice',
    userName: 'Dr Alice Able',
    role: 'R8000',
    org: 'A81001',
    patient: Q,
    action: 'pds.read',
  },
  {
    ...base,
    time: '2026-02-01T00:00:00.000Z',
    userId: 'u-carol',
    userName: 'Carol Records',
    role: 'R8013',
    org: 'A81001',
    patient: Q,
    action: 'pds.update',
  },
  {
    time: '2026-01-05T00:00:00.000Z',
    userId: 'unauthenticated',
    role: '',
    org: '',
    patient: null,
    action: 'pds.read',
    outcome: 'refused 401 UNAUTHORISED',
    type: 'security',
  },
  {
    ...base,
    time: '2026-03-01T00:00:00.000Z',
    userId: 'u-dan',
    userName: 'Dr Dan Dee',
    role: 'R8000',
    org: 'C83003',
    patient: Q,
    action: 'relationship.claim',
    outcome: 'granted',
    type: 'self-claimed-relationship',
    purpose: 'self-claimed-relationship',
    detail: { reason: 'seen in clinic' },
  },
  {
    ...base,
    time: '2026-01-02T09:00:00.000Z',
    userId: 'u-alice',
    userName: 'Dr Alice Able',
    role: 'R8000',
    org: 'A81001',
    patient: null,
    action: 'pds.search',
    detail: { params: { family: 'smith' } },
  },
];

for (const kind of stores) {
  describe(`AuditEvent search (${kind})`, () => {
    let platform: TestPlatform;
    let officer: string;
    let seqOf: number[] = []; // seq of HISTORY[i]

    /** Seqs of the entries committed so far that satisfy the predicate, newest first. */
    const expected = async (pred: (r: AuditRecord) => boolean) =>
      (await platform.repo.audit.readAudit(0, 1e6))
        .filter((e) => pred(e.record))
        .map((e) => String(e.seq))
        .reverse();
    const search = (qs: string, token: string | null = officer) =>
      platform.request({ url: `${AE}?${qs}`, token });
    const ids = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource!.id!);

    before(async () => {
      platform = await startTestPlatform(kind, { config: { auditCheckpointSeconds: 0 } });
      officer = await platform.token('R5080', { user: 'privacy-officer-1', org: 'X26' });
      await seedPatients(platform.repo, { patients: 12, seed: 5 });
      const before = (await platform.repo.audit.auditHead()).seq;
      await platform.repo.commit({
        audit: HISTORY.map((r, i) => ({ ...r, requestId: `history-${i}` })),
      });
      seqOf = HISTORY.map((_, i) => before + 1 + i);
    });
    after(async () => platform.close());

    it('a privacy officer lists emergency access alerts since a date', async () => {
      const nhs = (
        await platform.repo.search({
          type: 'Patient',
          criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '' }] }],
          limit: 1,
        })
      )[0];
      const granted = await platform.request({
        method: 'POST',
        url: '/security/FHIR/R4/$emergency-access',
        body: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'patient', valueString: nhs },
            { name: 'reasonCode', valueCode: 'urgent-care' },
            { name: 'reasonText', valueString: 'collapsed in clinic' },
          ],
        },
      });
      assert.equal(granted.statusCode, 201, granted.body);
      const res = await search('type=emergency-access&date=ge2026-01-01');
      assert.equal(res.statusCode, 200, res.body);
      const bundle = res.json() as Bundle;
      const want = await expected((r) => r.type === 'emergency-access' && r.time >= '2026-01-01');
      assert.deepEqual(ids(bundle), want);
      assert.equal(
        want.length,
        2,
        'the real grant and the one in January; not the one of December 2025',
      );
      assert.equal(bundle.total, 2);
      const real = bundle.entry![0].resource as AuditEvent;
      assert.equal(real.entity?.[0]?.what?.identifier?.value, nhs);
      assert.equal(real.agent[0].who?.identifier?.value, 'user-R8000');
      assert.deepEqual(real.type, {
        system: 'https://openspine.dev/CodeSystem/audit-event-type',
        code: 'emergency-access',
        display: 'Emergency (break-glass) access',
      });
      assert.ok(
        real.purposeOfEvent?.[0].coding?.some((c) => c.code === 'ETREAT'),
        'emergency treatment purpose',
      );
      assert.equal(res.headers['content-type'], 'application/fhir+json; charset=utf-8');
    });

    it('finds entries by each search parameter', async () => {
      const cases: [string, (r: AuditRecord) => boolean][] = [
        [`patient=${P}`, (r) => r.patient === P],
        [`patient=Patient/${Q}`, (r) => r.patient === Q],
        [
          `patient=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${P}`)}`,
          (r) => r.patient === P,
        ],
        ['agent=u-bob', (r) => r.userId === 'u-bob'],
        ['user=u-alice', (r) => r.userId === 'u-alice'],
        ['org=b82002', (r) => r.org === 'B82002'],
        ['action=pds.merge', (r) => r.action === 'pds.merge'],
        ['action=pds.read', (r) => r.action === 'pds.read'],
        ['type=security', (r) => r.type === 'security'],
        ['type=self-claimed-relationship', (r) => r.type === 'self-claimed-relationship'],
        ['type=patient-record', (r) => (r.type ?? 'patient-record') === 'patient-record'],
        [`patient=${Q}&agent=u-alice`, (r) => r.patient === Q && r.userId === 'u-alice'],
        [
          'org=A81001&action=pds.read&type=patient-record',
          (r) =>
            r.org === 'A81001' &&
            r.action === 'pds.read' &&
            (r.type ?? 'patient-record') === 'patient-record',
        ],
        ['agent=nobody-at-all', () => false],
      ];
      for (const [qs, pred] of cases) {
        const want = await expected(pred);
        const res = await search(`${qs}&_count=1000`);
        assert.equal(res.statusCode, 200, `${qs}: ${res.body}`);
        const bundle = res.json() as Bundle;
        assert.deepEqual(ids(bundle), want, qs);
        assert.equal(bundle.total, want.length, qs);
      }
      // the hand-made entries are where they should be
      assert.deepEqual(ids((await search('agent=u-bob')).json()), [seqOf[2], seqOf[1]].map(String));
    });

    it('narrows by date: a day, a month, ranges with every prefix, minutes and offsets', async () => {
      const cases: [string, string, string][] = [
        ['date=2026-01-02', '2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z'],
        ['date=eq2026-01', '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
        [
          'date=ge2026-01-02&date=lt2026-01-03',
          '2026-01-02T00:00:00.000Z',
          '2026-01-03T00:00:00.000Z',
        ],
        [
          'date=gt2026-01-02&date=le2026-01-04',
          '2026-01-03T00:00:00.000Z',
          '2026-01-05T00:00:00.000Z',
        ],
        [
          'date=ge2026-01-02T09:00Z&date=le2026-01-02T10:00Z',
          '2026-01-02T09:00:00.000Z',
          '2026-01-02T10:01:00.000Z',
        ],
        [
          `date=${encodeURIComponent('le2026-01-02T11:00:00+01:00')}`,
          '0',
          '2026-01-02T10:00:01.000Z',
        ],
        ['date=lt2025', '0', '2025-01-01T00:00:00.000Z'],
        [
          'date=gt2025-12-31T23:30:00.000Z&date=lt2026-01-02T09:00:00Z',
          '2025-12-31T23:30:00.001Z',
          '2026-01-02T09:00:00.000Z',
        ],
      ];
      for (const [qs, from, before] of cases) {
        const want = await expected((r) => r.time !== '' && r.time >= from && r.time < before);
        const res = await search(`${qs}&_count=1000`);
        assert.equal(res.statusCode, 200, `${qs}: ${res.body}`);
        assert.deepEqual(ids(res.json()), want, qs);
      }
      assert.deepEqual(
        ids((await search('date=2026-01-02&agent=u-alice')).json()),
        [seqOf[9], seqOf[5], seqOf[0]].map(String),
      );
      assert.deepEqual(ids((await search('date=lt2026-01-01&patient=' + P)).json()), [
        String(seqOf[1]),
      ]);
    });

    it('pages newest first through a fixed snapshot: no entry skipped or repeated while new ones arrive', async () => {
      const want = await expected((r) => (r.type ?? 'patient-record') === 'patient-record');
      assert.ok(want.length > 5, `enough entries to page: ${want.length}`);
      let url: string | undefined = `${AE}?type=patient-record&_count=2`;
      const seen: string[] = [];
      let pages = 0;
      while (url) {
        const res = await platform.request({ url, token: officer });
        assert.equal(res.statusCode, 200, res.body);
        const bundle = res.json() as Bundle;
        assert.equal(bundle.total, want.length, 'total is that of the snapshot on every page');
        assert.ok((bundle.entry ?? []).length <= 2, 'page size');
        seen.push(...ids(bundle));
        // more matching entries arrive between pages; they belong to the next search, not this one
        await platform.repo.commit({
          audit: [{ ...HISTORY[0], requestId: `late-${pages}`, time: new Date().toISOString() }],
        });
        const next = bundle.link?.find((l) => l.relation === 'next')?.url;
        url = next ? next.slice(next.indexOf(AE)) : undefined;
        if (next) assert.match(next, /_cursor=/);
        pages++;
      }
      assert.deepEqual(seen, want);
      assert.equal(pages, Math.ceil(want.length / 2));
      const fresh = (await search('type=patient-record&_count=0')).json() as Bundle;
      assert.equal(fresh.total, want.length + pages, 'a new search sees the late entries');
      assert.equal(fresh.entry, undefined);
      const capped = await search('type=patient-record&_count=5000');
      assert.equal(capped.statusCode, 200, 'a page size above the cap is capped, not refused');
      assert.deepEqual(
        ids(capped.json()),
        await expected((r) => (r.type ?? 'patient-record') === 'patient-record'),
      );
    });

    it('refuses unknown or malformed parameters with 400 INVALID_SEARCH_DATA', async () => {
      for (const qs of [
        'foo=bar',
        'patient=9000000000',
        'patient=12',
        `patient=${P}&patient=${Q}`,
        'org=not%20ods',
        'type=nope',
        'action=drop%20table',
        'date=2026-13-01',
        'date=2026-02-30',
        'date=ne2026-01-01',
        'date=sa2026-01-01',
        'date=2026-01-02T10:00',
        'date=yesterday',
        'date=ge2026&date=le2027&date=eq2026',
        '_count=ten',
        '_count=-1',
        '_cursor=abc',
        '_cursor=9.1',
        '_cursor=5.99999999',
        'agent=a&user=b',
        'user=',
        'agent=a&agent=b',
      ]) {
        const res = await search(qs);
        assert.equal(res.statusCode, 400, `${qs}: ${res.body}`);
        assert.equal(spineCode(res), 'INVALID_SEARCH_DATA', qs);
        assert.equal(res.json().resourceType, 'OperationOutcome');
      }
    });

    it('a patient sees who looked at their record, when and why, and nothing about anyone else', async () => {
      const token = await mintPatientToken(platform.key, {
        nhsNumber: P,
        name: 'Jane Smith',
        audience: platform.config.audience,
      });
      const want = await expected((r) => r.patient === P);
      const res = await search(`patient=${P}`, token);
      assert.equal(res.statusCode, 200, res.body);
      const bundle = res.json() as Bundle;
      assert.deepEqual(ids(bundle), want);
      const events = bundle.entry!.map((e) => e.resource as AuditEvent);
      for (const ev of events) {
        assert.equal(
          ev.entity?.[0]?.what?.identifier?.value,
          P,
          'every entry is about this patient',
        );
        assert.ok(ev.recorded && ev.purposeOfEvent?.[0]?.text, 'when and why');
      }
      const bob = events.find((e) => e.id === String(seqOf[2]))!;
      assert.equal(bob.agent[0].who?.display, 'Nurse Bob Baker');
      assert.equal(bob.agent[0].role?.[0]?.coding?.[0]?.code, 'R8001');
      assert.equal(bob.agent[0].role?.[0]?.coding?.[0]?.display, roleName('R8001'));
      assert.equal(bob.agent[1].who?.identifier?.value, 'B82002');
      assert.equal(bob.recorded, '2026-01-02T08:00:00.000Z');
      assert.equal(bob.purposeOfEvent?.[0]?.text, 'Emergency access');
      assert.ok(
        bob.entity?.[1]?.detail?.some(
          (d) => d.type === 'reasonCode' && d.valueString === 'unable-to-consent',
        ),
        'the coded reason is shown',
      );
      const text = res.body;
      for (const other of [Q, 'Quentin', SECRET_TEXT])
        assert.ok(!text.includes(other), `the patient's view does not contain ${other}`);
      const refused = events.find((e) => e.id === String(seqOf[3]))!;
      assert.equal(refused.outcome, '4');
      assert.equal(refused.agent[0].who?.display, 'Another NHS login user');

      for (const qs of [`patient=${Q}`, '', 'type=emergency-access', `patient=${P}&patient=${Q}`]) {
        const denied = await search(qs, token);
        assert.ok([400, 403].includes(denied.statusCode), `${qs}: ${denied.statusCode}`);
        if (qs !== `patient=${P}&patient=${Q}`)
          assert.equal(spineCode(denied), 'ACCESS_DENIED', qs);
      }
      for (const op of ['$verify', '$export', String(seqOf[0])]) {
        const denied = await platform.request({ url: `${AE}/${op}`, token });
        assert.equal(denied.statusCode, 403, `${op}: ${denied.body}`);
      }
      // the patient's own look at the log is in the log
      const again = (await search(`patient=${P}&action=audit.read`, token)).json() as Bundle;
      assert.ok(
        (again.entry ?? []).some(
          (e) => (e.resource as AuditEvent).agent[0].who?.identifier?.value === P,
        ),
        'own audit.read is listed',
      );
    });

    it('a clinician without audit.read is refused; the privacy officer is allowed', async () => {
      const clinician = await platform.token('R8000');
      for (const url of [
        `${AE}?patient=${P}`,
        `${AE}/$verify`,
        `${AE}/$export`,
        `${AE}/${seqOf[0]}`,
      ]) {
        const res = await platform.request({ url, token: clinician });
        assert.equal(res.statusCode, 403, `${url}: ${res.body}`);
        assert.equal(spineCode(res), 'ACCESS_DENIED');
      }
      assert.equal((await search(`patient=${P}`, null)).statusCode, 401);
      assert.equal((await search(`patient=${P}`)).statusCode, 200);
    });

    it('reading the audit trail is itself audited', async () => {
      const res = await search(`patient=${Q}&type=patient-record`);
      assert.equal(res.statusCode, 200);
      const last = (
        await platform.repo.audit.readAudit((await platform.repo.audit.auditHead()).seq - 1, 1)
      )[0].record;
      assert.equal(last.action, 'audit.read');
      assert.equal(last.userId, 'privacy-officer-1');
      assert.equal(last.role, 'R5080');
      assert.equal(last.patient, Q);
      assert.equal(last.type, 'security');
      assert.equal(last.outcome, 'read');
    });

    it('maps an entry to a FHIR AuditEvent: type, subtype, action, outcome, purpose, agents, source, entities', async () => {
      const res = await platform.request({ url: `${AE}/${seqOf[0]}`, token: officer });
      assert.equal(res.statusCode, 200, res.body);
      const ev = res.json() as AuditEvent;
      assert.equal(ev.resourceType, 'AuditEvent');
      assert.equal(ev.id, String(seqOf[0]));
      assert.deepEqual(ev.type, {
        system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
        code: 'rest',
        display: 'RESTful Operation',
      });
      assert.equal(ev.subtype?.[0].code, 'pds.read');
      assert.equal(ev.subtype?.[0].display, 'View patient demographics');
      assert.equal(ev.action, 'R');
      assert.equal(ev.recorded, '2026-01-02T10:00:00.000Z');
      assert.equal(ev.outcome, '0');
      assert.equal(ev.outcomeDesc, 'success');
      assert.ok(
        ev.purposeOfEvent?.[0].coding?.some(
          (c) =>
            c.system === 'http://terminology.hl7.org/CodeSystem/v3-ActReason' && c.code === 'TREAT',
        ),
        'direct care',
      );
      assert.deepEqual(ev.agent[0].who, {
        identifier: { system: 'https://fhir.nhs.uk/Id/sds-user-id', value: 'u-alice' },
        display: 'Dr Alice Able',
      });
      assert.deepEqual(ev.agent[0].role?.[0].coding?.[0], {
        system: 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode',
        code: 'R8000',
        display: roleName('R8000'),
      });
      assert.equal(ev.agent[0].requestor, true);
      assert.deepEqual(ev.agent[1].who, {
        identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' },
      });
      assert.equal(ev.agent[1].requestor, false);
      assert.equal(ev.source.observer.display, 'OpenSpine');
      assert.deepEqual(ev.entity?.[0].what?.identifier, {
        system: 'https://fhir.nhs.uk/Id/nhs-number',
        value: P,
      });
      assert.deepEqual(ev.entity?.[1].what?.identifier, {
        system: 'https://openspine.dev/Id/request-id',
        value: 'history-0',
      });

      const actions = await Promise.all(
        [seqOf[4], seqOf[9], seqOf[6], seqOf[8], seqOf[3], seqOf[7]].map(
          async (s) =>
            (await platform.request({ url: `${AE}/${s}`, token: officer })).json() as AuditEvent,
        ),
      );
      assert.deepEqual(
        actions.map((e) => e.action),
        ['U', 'E', 'U', 'E', 'R', 'R'],
      );
      assert.deepEqual(
        actions.map((e) => e.outcome),
        ['0', '0', '0', '0', '4', '4'],
      );
      assert.equal(actions[0].entity?.[1].detail?.[0].type, 'superseded', 'staff see the detail');
      assert.equal(actions[3].type?.code, 'self-claimed-relationship');
      assert.equal(actions[5].type?.code, 'security');
      assert.equal(actions[5].entity?.length, 1, 'no patient entity when the entry names none');
      assert.equal(actions[5].agent.length, 1, 'no organisation agent when there is none');

      assert.equal(
        (await platform.request({ url: `${AE}/999999`, token: officer })).statusCode,
        404,
      );
      assert.equal((await platform.request({ url: `${AE}/abc`, token: officer })).statusCode, 400);
    });

    it('results are exact right after a burst of reads, with no waiting', async () => {
      const nhsNumbers = await platform.repo.search({
        type: 'Patient',
        criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '' }] }],
        limit: 10,
      });
      const reads = Array.from({ length: 120 }, (_, i) => nhsNumbers[i % nhsNumbers.length]);
      const results = await Promise.all(
        reads.map((nhs) => platform.request({ url: `${PDS}/Patient/${nhs}` })),
      );
      assert.ok(
        results.every((r) => r.statusCode === 200),
        'every read served',
      );
      const want = await expected((r) => r.action === 'pds.read' && r.userId === 'user-R8000');
      assert.equal(want.length, 120);
      const res = await search('action=pds.read&agent=user-R8000&_count=1000');
      assert.deepEqual(ids(res.json()), want);
      for (const nhs of nhsNumbers.slice(0, 3)) {
        const one = (await search(`patient=${nhs}&action=pds.read&_count=1000`)).json() as Bundle;
        assert.equal(one.total, reads.filter((n) => n === nhs).length, nhs);
      }
    });

    it('the background indexer catches up on its own while the server runs', async () => {
      await platform.repo.commit({ audit: [{ ...HISTORY[0], requestId: 'background' }] });
      const head = (await platform.repo.audit.auditHead()).seq;
      const deadline = Date.now() + 5000;
      while ((await platform.repo.audit.auditIndexCheckpoint()) < head && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      assert.ok(
        (await platform.repo.audit.auditIndexCheckpoint()) >= head,
        'indexed without a search',
      );
    });
  });
}
