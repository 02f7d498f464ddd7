/**
 * Life events published by PDS and SCR writes: each write commits exactly the right outbox
 * messages (topic, key = NHS Number, body) in the same batch; a refused write and a replayed
 * request (same X-Request-ID) publish nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import type { OutboxMessage } from '../src/messaging/types.js';
import type { PdsPatientEventBody } from '../src/services/pds/index.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import { readFileSync } from 'node:fs';
import { CONSENT_CHOICE_SYSTEM } from '../src/services/scr/consent-codes.js';
import {
  commitPatients,
  current,
  currentJane,
  fixture,
  living,
  mergeBody,
  PDS,
  readPatient,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';

const SCR = '/summary-care-record/FHIR/R4';
const JSON_PATCH = 'application/json-patch+json';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';

function variant(nhs: string, family: string): Patient {
  const p = living(current(withNhsNumber(fixture<Patient>('Patient.json'), nhs)));
  p.name![0].family = family;
  return p;
}

/**
 * The patches, each change within a list item preceded by a test of that item's id, as PDS requires ("no id or url
 * found for path with root /address/0", NHSDigital/personal-demographics-service-api replaceErrors.feature).
 */
function namingItems(record: any, patches: any[]): any[] {
  const roots = [
    ...new Set(
      patches
        .map((p) =>
          /^\/(name|address|telecom|contact|generalPractitioner)\/(\d+)\/./
            .exec(p.path)
            ?.slice(1, 3)
            .join('/'),
        )
        .filter(Boolean),
    ),
  ] as string[];
  return [
    ...roots.map((r) => {
      const [list, i] = r.split('/');
      return { op: 'test', path: `/${list}/${i}/id`, value: record[list][Number(i)].id };
    }),
    ...patches,
  ];
}

for (const kind of await storesUnderTest()) {
  describe(`PDS and SCR life events (${kind})`, () => {
    let platform: TestPlatform;
    let lastSeq = 0;
    const P = {
      death: SPARE_NHS[0],
      address: SPARE_NHS[1],
      gp: SPARE_NHS[2],
      other: SPARE_NHS[3],
      source: SPARE_NHS[4],
      target: SPARE_NHS[5],
      scr: SPARE_NHS[6],
    };

    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [
        variant(P.death, 'Deathevent'),
        variant(P.address, 'Addressevent'),
        variant(P.gp, 'Gpevent'),
        variant(P.other, 'Otherevent'),
        variant(P.source, 'Sourceevent'),
        variant(P.target, 'Targetevent'),
        {
          ...withNhsNumber(currentJane(), P.scr),
          name: [{ id: '123', use: 'usual', given: ['Jane'], family: 'Screvent' }],
        },
      ]);
      lastSeq = (await platform.repo.messaging.readOutbox(0, 1000)).at(-1)?.seq ?? 0;
    });
    after(() => platform.close());

    /** Runs a write and returns the life events it put in the outbox (read from the store's outbox itself). */
    async function published(write: () => Promise<unknown>): Promise<OutboxMessage[]> {
      await write();
      const rows = await platform.repo.messaging.readOutbox(lastSeq, 1000);
      lastSeq = rows.at(-1)?.seq ?? lastSeq;
      // the notifications router reacts to these events with messages of its own: only the events count here
      return rows
        .filter((m) => /^(pds|scr)\./.test(m.topic))
        .map(({ id, topic, key, body }) => ({ id, topic, key, body }));
    }

    async function patch(nhs: string, patches: unknown[], requestId?: string) {
      const { version, patient } = await readPatient(platform, nhs);
      const res = await platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${nhs}`,
        body: { patches: namingItems(patient, patches as any[]) },
        contentType: JSON_PATCH,
        headers: {
          'if-match': `W/"${version}"`,
          ...(requestId ? { 'x-request-id': requestId } : {}),
        },
      });
      assert.equal(res.statusCode, 200, res.body.slice(0, 400));
      return res;
    }

    const body = (m: OutboxMessage) => m.body as PdsPatientEventBody;

    it('a birth publishes one pds.patient.birth keyed by the new NHS Number', async () => {
      let nhs = '';
      const out = await published(async () => {
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient`,
          body: fixture('requests/PatientCreate/create-patient.json'),
        });
        assert.equal(res.statusCode, 201, res.body.slice(0, 400));
        nhs = res.json().id;
      });
      assert.deepEqual(
        out.map((m) => m.topic),
        ['pds.patient.birth'],
      );
      assert.equal(out[0].key, nhs);
      assert.equal(body(out[0]).nhsNumber, nhs);
      assert.equal(body(out[0]).version, 1);
      assert.equal(body(out[0]).event, 'birth');
      assert.match(out[0].id, /^[0-9a-f-]{36}$/, 'message id is a UUID');
    });

    it('recording a death publishes pds.patient.death with the date', async () => {
      const out = await published(() =>
        patch(P.death, fixture('requests/PatientPatch/add-deceased-date-time.json').patches),
      );
      assert.deepEqual(
        out.map((m) => m.topic),
        ['pds.patient.death'],
      );
      assert.equal(out[0].key, P.death);
      assert.equal(body(out[0]).version, 2);
      assert.equal(body(out[0]).current?.deceasedDateTime, '2010-10-22T00:00:00+00:00');
    });

    it('a home address change publishes pds.patient.address-change with before and after', async () => {
      const out = await published(() =>
        patch(P.address, [
          { op: 'replace', path: '/address/0/line/0', value: '2 Whitehall Quay' },
          { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
        ]),
      );
      assert.deepEqual(
        out.map((m) => m.topic),
        ['pds.patient.address-change'],
      );
      const b = body(out[0]);
      assert.equal(out[0].key, P.address);
      assert.equal((b.previous?.address as any).postalCode, 'LS1 6AE');
      assert.equal((b.current?.address as any).postalCode, 'LS1 4BU');
    });

    it('a change of GP publishes pds.patient.gp-change with both practices; a replay publishes nothing more', async () => {
      const requestId = crypto.randomUUID();
      const patches = [
        {
          op: 'replace',
          path: '/generalPractitioner/0',
          value: {
            id: '254406A3',
            type: 'Organization',
            identifier: { system: ODS, value: 'A81002' },
          },
        },
      ];
      const out = await published(() => patch(P.gp, patches, requestId));
      assert.deepEqual(
        out.map((m) => m.topic),
        ['pds.patient.gp-change'],
      );
      assert.equal(body(out[0]).previousPractice, 'Y12345');
      assert.equal(body(out[0]).practice, 'A81002');
      assert.equal(out[0].key, P.gp);
      const replay = await published(async () => {
        const res = await platform.request({
          method: 'PATCH',
          url: `${PDS}/Patient/${P.gp}`,
          body: { patches },
          contentType: JSON_PATCH,
          headers: { 'if-match': 'W/"1"', 'x-request-id': requestId },
        });
        assert.equal(res.statusCode, 200, res.body.slice(0, 400));
      });
      assert.deepEqual(replay, [], 'a replayed request publishes nothing');
    });

    it('a change that is none of the life events publishes nothing; a refused write publishes nothing', async () => {
      const out = await published(() =>
        patch(P.other, [{ op: 'replace', path: '/name/0/given/0', value: 'Janet' }]),
      );
      assert.deepEqual(out, []);
      const refused = await published(async () => {
        const res = await platform.request({
          method: 'PATCH',
          url: `${PDS}/Patient/${P.other}`,
          contentType: JSON_PATCH,
          headers: { 'if-match': 'W/"1"' },
          body: {
            patches: [{ op: 'add', path: '/deceasedDateTime', value: '2020-01-01T00:00:00+00:00' }],
          },
        });
        assert.equal(res.statusCode, 409, res.body.slice(0, 400));
      });
      assert.deepEqual(refused, [], 'a stale write publishes nothing');
    });

    it('a merge publishes pds.patient.merge keyed by the survivor', async () => {
      const out = await published(async () => {
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$merge`,
          token: await platform.token('R8013'),
          body: mergeBody(P.source, P.target),
        });
        assert.equal(res.statusCode, 200, res.body.slice(0, 400));
      });
      assert.deepEqual(
        out.map((m) => m.topic),
        ['pds.patient.merge'],
      );
      assert.equal(out[0].key, P.target);
      assert.equal(body(out[0]).supersededNhsNumber, P.source);
    });

    it('an SCR consent change and an SCR upload publish scr.consent.changed and scr.document.uploaded', async () => {
      const gp = await platform.token('R8000', { user: 'gp-events', org: 'Y12345' });
      const consent = {
        resourceType: 'Consent',
        status: 'active',
        scope: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/consentscope',
              code: 'patient-privacy',
            },
          ],
        },
        patient: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: P.scr } },
        policyRule: { coding: [{ system: CONSENT_CHOICE_SYSTEM, code: 'scr-additional' }] },
      };
      const consented = await published(async () => {
        const res = await platform.request({
          method: 'POST',
          url: `${SCR}/Consent`,
          token: gp,
          body: consent,
        });
        assert.equal(res.statusCode, 201, res.body.slice(0, 400));
      });
      assert.deepEqual(
        consented.map((m) => m.topic),
        ['scr.consent.changed'],
      );
      assert.equal(consented[0].key, P.scr);
      assert.equal((consented[0].body as any).to, 'scr-additional');
      const doc = JSON.parse(
        readFileSync(new URL('./fixtures/scr/gp-summary.Bundle.json', import.meta.url), 'utf8'),
      );
      doc.entry.find(
        (e: any) => e.resource.resourceType === 'Patient',
      ).resource.identifier[0].value = P.scr;
      let documentId = '';
      const uploaded = await published(async () => {
        const res = await platform.request({
          method: 'POST',
          url: `${SCR}/Bundle`,
          token: gp,
          body: doc,
        });
        assert.equal(res.statusCode, 201, res.body.slice(0, 400));
        documentId = res.json().id;
      });
      assert.deepEqual(
        uploaded.map((m) => m.topic),
        ['scr.document.uploaded'],
      );
      assert.equal(uploaded[0].key, P.scr);
      assert.equal((uploaded[0].body as any).documentId, documentId);
      assert.equal((uploaded[0].body as any).authorOrg, 'Y12345');
    });
  });
}
