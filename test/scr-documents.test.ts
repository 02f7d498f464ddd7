/**
 * SCR documents: upload of GP summary document Bundles (validation, every refusal and its code,
 * dissent, atomic versioning under concurrent uploads) and retrieval (DocumentReference list, one
 * version, $summary) with consent filtering, permission to view, emergency access, the patient's
 * own view and merged NHS Numbers. Fixtures: test/fixtures/scr (see SOURCES.md there).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Patient } from 'fhir/r4.js';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { LegitimateRelationships } from '../src/security/relationships.js';
import {
  permissionId,
  SCR_CONSENT_STATE_TYPE,
  SCR_PERMISSION_TYPE,
  type ScrConsentChoice,
} from '../src/services/scr/consent-store.js';
import { ConsentService } from '../src/services/scr/consent-service.js';
import { isSnomedConceptId } from '../src/services/scr/document-codes.js';
import { SCR_DOCUMENT_TYPE, SCR_POINTER_TYPE } from '../src/services/scr/document-model.js';
import { storeNewVersion } from '../src/services/scr/document-store.js';
import { validateScrDocument } from '../src/services/scr/document-rules.js';
import { SCR_BASE } from '../src/services/scr/routes.js';
import { FhirError } from '../src/fhir/errors.js';
import { auditRecord } from '../src/audit/audit-record.js';
import { AuditWriter } from '../src/audit/audit-writer.js';
import type { AuditRecord } from '../src/audit/types.js';
import type { Repository } from '../src/store/repository.js';
import {
  assertOutcome,
  commitPatients,
  currentJane,
  NHS,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

/**
 * The real store, except that the first read of `type` runs `meanwhile` to completion after reading
 * and before answering: whoever made that read goes on with what it read while another writer has
 * committed, the interleaving a race may produce.
 */
function interleaveAfterRead(
  repo: Repository,
  type: string,
  meanwhile: () => Promise<unknown>,
): Repository {
  let done = false;
  return new Proxy(repo, {
    get(target, key) {
      if (key === 'read') {
        return async (t: string, id: string) => {
          const value = await target.read(t, id);
          if (t === type && !done) {
            done = true;
            await meanwhile();
          }
          return value;
        };
      }
      const v = (target as any)[key];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Repository;
}

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/scr/${name}`, import.meta.url), 'utf8'));

/** A fixture document about another patient (the subject Patient entry's NHS Number). */
function documentFor(nhs: string, name = 'gp-summary.Bundle.json'): any {
  const doc = fixture(name);
  doc.entry.find((e: any) => e.resource.resourceType === 'Patient').resource.identifier[0].value =
    nhs;
  return doc;
}
const entryOf = (doc: any, type: string, n = 0) =>
  doc.entry.filter((e: any) => e.resource.resourceType === type)[n].resource;
const typesIn = (bundle: any): string[] => bundle.entry.map((e: any) => e.resource.resourceType);

const P = {
  dissent: SPARE_NHS[0],
  old: SPARE_NHS[1],
  survivor: SPARE_NHS[2],
  race: SPARE_NHS[3],
  empty: SPARE_NHS[4],
  views: SPARE_NHS[5],
  interleaved: SPARE_NHS[6],
  dissentFirst: SPARE_NHS[7],
  uploadFirst: SPARE_NHS[8],
  retried: SPARE_NHS[9],
  mergedAway: SPARE_NHS[10],
  mergedInto: SPARE_NHS[11],
  searched: SPARE_NHS[12],
  coreOnly: SPARE_NHS[13],
  optedOut: SPARE_NHS[14],
};

/** The document with only core content: allergies, reactions, medications and what they need. */
function coreOnly(doc: any): any {
  const core = new Set([
    'Composition',
    'Patient',
    'Organization',
    'Practitioner',
    'PractitionerRole',
    'Encounter',
    'Device',
    'AllergyIntolerance',
    'MedicationStatement',
    'MedicationRequest',
    'Medication',
  ]);
  const kept = doc.entry.filter((e: any) => core.has(e.resource.resourceType));
  const keys = new Set(
    kept.flatMap((e: any) => [e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`]),
  );
  const resolves = (ref: string) =>
    keys.has(ref) || [...keys].some((k) => typeof k === 'string' && ref.endsWith(`/${k}`));
  const composition = kept[0].resource;
  composition.section = (composition.section ?? [])
    .map((s: any) => ({ ...s, entry: (s.entry ?? []).filter((r: any) => resolves(r.reference)) }))
    .filter((s: any) => s.entry.length > 0);
  return { ...doc, entry: kept };
}
const GP = { user: 'gp-sean', org: 'Y12345' };

for (const kind of await storesUnderTest()) {
  describe(`SCR documents (${kind})`, () => {
    let platform: TestPlatform;
    let gp: string;
    let outsider: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      const jane = currentJane();
      const others = [
        P.dissent,
        P.survivor,
        P.race,
        P.empty,
        P.views,
        P.interleaved,
        P.dissentFirst,
        P.uploadFirst,
        P.retried,
        P.mergedAway,
        P.mergedInto,
        P.searched,
        P.coreOnly,
        P.optedOut,
      ].map((n) => withNhsNumber(jane, n));
      const superseded: Patient = {
        ...withNhsNumber(jane, P.old),
        link: [
          {
            type: 'replaced-by',
            other: {
              identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: P.survivor },
            },
          } as any,
        ],
      };
      await commitPatients(platform.repo, [jane, ...others, superseded]);
      gp = await platform.token('R8000', GP);
      outsider = await platform.token('R8000', { user: 'dr-elsewhere', org: 'A81001' });
      // the fixture documents carry additional information, which needs the patient's express consent
      for (const nhs of [
        NHS.jane,
        P.dissent,
        P.survivor,
        P.race,
        P.views,
        P.interleaved,
        P.dissentFirst,
        P.uploadFirst,
        P.retried,
        P.mergedAway,
        P.mergedInto,
        P.searched,
      ])
        await setConsent(nhs, 'additional');
    });
    after(() => platform.close());

    const upload = (body: unknown, token = gp) =>
      platform.request({ method: 'POST', url: `${SCR_BASE}/Bundle`, token, body });
    const get = (path: string, token = gp) =>
      platform.request({ url: `${SCR_BASE}${path}`, token });

    async function setVersioned(type: string, id: string, resource: Record<string, unknown>) {
      const stored = await platform.repo.read(type, id);
      await platform.repo.commit({
        resources: [
          {
            type,
            id,
            expectedVersion: stored?.version ?? 0,
            resource: { resourceType: type, id, ...resource },
            index: [],
          },
        ],
      });
    }
    const setConsent = (nhs: string, scr: ScrConsentChoice) =>
      setVersioned(SCR_CONSENT_STATE_TYPE, nhs, { scr, nationalOptOut: false });
    const setPermission = (nhs: string, userId: string, code: 'Yes' | 'No') =>
      setVersioned(SCR_PERMISSION_TYPE, permissionId(nhs, userId), {
        patient: nhs,
        userId,
        org: GP.org,
        code,
        recorded: new Date().toISOString(),
        expires: new Date(Date.now() + 3_600_000).toISOString(),
      });
    const audits = async (filter: (r: AuditRecord) => boolean) =>
      (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record).filter(filter);
    const documentCount = async (nhs: string) =>
      (
        await platform.repo.search({
          type: SCR_DOCUMENT_TYPE,
          criteria: [{ any: [{ param: 'patient', op: 'eq', value: nhs }] }],
          limit: 1000,
        })
      ).length;

    it('stores an uploaded document and returns it whole with express consent and permission', async () => {
      const sent = fixture('gp-summary.Bundle.json');
      const res = await upload(sent);
      assert.equal(res.statusCode, 201, res.body.slice(0, 400));
      const stored = res.json();
      assert.match(
        String(res.headers.location),
        new RegExp(`/Bundle/${stored.id}\\?patient=${NHS.jane}$`),
      );
      assert.ok(stored.id && stored.id !== sent.id, 'the stored document gets its own id');

      await setConsent(NHS.jane, 'additional');
      await setPermission(NHS.jane, GP.user, 'Yes');
      const read = await get(`/Bundle/${stored.id}?patient=${NHS.jane}`);
      assert.equal(read.statusCode, 200, read.body.slice(0, 400));
      const back = read.json();
      assert.deepEqual(back.entry, sent.entry, 'every entry comes back as uploaded');
      assert.equal(back.type, 'document');
      assert.ok(
        back.meta.tag.some((t: any) => t.code === 'permission'),
        `view basis tag: ${JSON.stringify(back.meta)}`,
      );
      assert.ok(
        back.meta.security.some(
          (s: any) =>
            s.system === 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission' && s.code === 'Yes',
        ),
        'ACS permission label',
      );

      const uploadAudit = await audits(
        (r) => r.action === 'scr.upload' && r.patient === NHS.jane && r.outcome === 'success',
      );
      assert.equal(uploadAudit.length, 1, 'one upload audit entry');
      assert.equal(uploadAudit[0].detail?.accessBasis, 'registered-gp');
      assert.equal(uploadAudit[0].detail?.documentId, stored.id);
      const viewAudit = await audits(
        (r) =>
          r.action === 'scr.view' && r.detail?.documentId === stored.id && r.outcome === 'success',
      );
      assert.equal(viewAudit.length, 1, 'the read is audited');
      assert.equal(viewAudit[0].detail?.viewBasis, 'permission');
      assert.equal(viewAudit[0].detail?.accessBasis, 'registered-gp');
    });

    it('refuses additional information the patient has not consented to share; a core summary is stored', async () => {
      const full = documentFor(P.coreOnly);
      const before = await documentCount(P.coreOnly);
      const refused = await upload(full);
      assertOutcome(refused, 403, 'SCR_CONSENT_REQUIRED');
      assert.match(refused.json().issue[0].diagnostics, /Condition/);
      assert.equal(await documentCount(P.coreOnly), before, 'nothing was stored');
      const [attempt] = await audits((r) => r.action === 'scr.upload' && r.patient === P.coreOnly);
      assert.equal(
        attempt?.outcome,
        'refused 403 SCR_CONSENT_REQUIRED',
        'the refused attempt is audited',
      );
      const core = await upload(coreOnly(full));
      assert.equal(core.statusCode, 201, core.body.slice(0, 400));
      assert.ok(
        typesIn(core.json()).every((t) => !['Condition', 'Procedure', 'Observation'].includes(t)),
        'only core content stored',
      );
      await setConsent(P.coreOnly, 'additional');
      assert.equal(
        (await upload(full)).statusCode,
        201,
        'with express consent the whole summary is accepted',
      );
    });

    it('authors named only as people (as in the published example) are taken to act for the uploading practice', async () => {
      const doc = coreOnly(documentFor(P.optedOut));
      const role = entryOf(doc, 'PractitionerRole');
      assert.ok(
        role.organization,
        'the fixture names the organisation through the PractitionerRole',
      );
      delete role.organization;
      const res = await upload(doc);
      assert.equal(res.statusCode, 201, res.body.slice(0, 300));
      const [audit] = await audits(
        (r) => r.action === 'scr.upload' && r.patient === P.optedOut && r.outcome === 'success',
      );
      assert.equal(audit?.detail?.authorOrg, GP.org);
    });

    it('the national data opt-out leaves direct care alone: upload and view work as before', async () => {
      await setVersioned(SCR_CONSENT_STATE_TYPE, P.optedOut, {
        scr: 'additional',
        nationalOptOut: true,
      });
      const stored = await upload(documentFor(P.optedOut));
      assert.equal(stored.statusCode, 201, stored.body.slice(0, 300));
      await setPermission(P.optedOut, GP.user, 'Yes');
      const read = await get(`/Bundle/${stored.json().id}?patient=${P.optedOut}`);
      assert.equal(read.statusCode, 200, read.body.slice(0, 300));
      assert.ok(typesIn(read.json()).includes('Condition'), 'the whole summary, as consented');
      assert.equal((await get(`/$summary?patient=${P.optedOut}`)).statusCode, 200);
    });

    it('keeps earlier versions readable and lists every version with the current one marked', async () => {
      const first = await upload(documentFor(P.views));
      assert.equal(first.statusCode, 201, first.body.slice(0, 300));
      const second = await upload(documentFor(P.views, 'gp-summary-update.Bundle.json'));
      assert.equal(second.statusCode, 201, second.body.slice(0, 300));
      const list = await get(
        `/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|${P.views}`,
      );
      assert.equal(list.statusCode, 200, list.body.slice(0, 300));
      const refs = list
        .json()
        .entry.filter((e: any) => e.resource.resourceType === 'DocumentReference')
        .map((e: any) => e.resource);
      assert.equal(list.json().total, 2);
      assert.deepEqual(
        refs.map((r: any) => [r.id, r.status]),
        [
          [second.json().id, 'current'],
          [first.json().id, 'superseded'],
        ],
      );
      const ref = refs[0];
      assert.equal(ref.masterIdentifier.system, 'https://fhir.nhs.uk/Id/nhsSCRUUID');
      assert.equal(ref.masterIdentifier.value, 'D2F1C0B9-3A4E-4C5D-8E7F-9A0B1C2D3E4F');
      assert.deepEqual(ref.type.coding[0], {
        system: 'http://snomed.info/sct',
        code: '196981000000101',
        display: 'General Practice Summary',
      });
      assert.deepEqual(
        ref.securityLabel,
        [{ coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission', code: 'Ask' }] }],
        'no permission recorded yet: Ask, as published',
      );
      assert.ok(
        ref.content[0].attachment.url.endsWith(
          `/Bundle?composition.identifier=D2F1C0B9-3A4E-4C5D-8E7F-9A0B1C2D3E4F&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${P.views}`,
        ),
        ref.content[0].attachment.url,
      );

      await setPermission(P.views, GP.user, 'Yes');
      const labelled = (await get(`/DocumentReference?patient=${P.views}`)).json().entry[0]
        .resource;
      assert.deepEqual(labelled.securityLabel, [
        { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission', code: 'Yes' }] },
      ]);
      const old = await get(`/Bundle/${first.json().id}?patient=${P.views}`);
      assert.equal(old.statusCode, 200, old.body.slice(0, 300));
      assert.equal(
        entryOf(old.json(), 'Composition').id,
        'BF4180FD-C403-4EF7-A4AB-E07303AF5477',
        'the first version, not the current one',
      );
      const other = await get(`/Bundle/${first.json().id}?patient=${NHS.jane}`);
      assertOutcome(other, 404, 'RESOURCE_NOT_FOUND');
    });

    it('strips additional information without express consent, keeping allergies and medications', async () => {
      await setConsent(P.views, 'core');
      const list = (await get(`/DocumentReference?patient=${P.views}`)).json();
      const firstId = list.entry[1].resource.id;
      const res = await get(`/Bundle/${firstId}?patient=${P.views}`);
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      const types = typesIn(res.json());
      for (const withheld of ['Condition', 'Procedure', 'Observation', 'Encounter'])
        assert.ok(!types.includes(withheld), `${withheld} withheld: ${types}`);
      for (const kept of [
        'Composition',
        'Patient',
        'AllergyIntolerance',
        'MedicationStatement',
        'MedicationRequest',
        'Medication',
        'PractitionerRole',
        'Organization',
      ])
        assert.ok(types.includes(kept), `${kept} kept: ${types}`);
      const sections = entryOf(res.json(), 'Composition').section.map(
        (s: any) => s.code.coding[0].code,
      );
      assert.deepEqual(sections, ['Title', 'AllergiesHeader', 'RepeatMedsHeader']);
      assert.ok(
        !res.body.includes('Asthma') && !res.body.includes('SARS-CoV-2'),
        'no trace of the withheld entries or their narrative',
      );
    });

    it('$summary flattens the current allergies, reactions and medications', async () => {
      await setPermission(NHS.jane, GP.user, 'Yes');
      const res = await get(`/$summary?patient=${NHS.jane}`);
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      const body = res.json();
      assert.equal(body.type, 'searchset');
      const matches = body.entry
        .filter((e: any) => e.search.mode === 'match')
        .map((e: any) => e.resource);
      assert.deepEqual(
        matches.map((r: any) => r.resourceType),
        ['AllergyIntolerance', 'AllergyIntolerance', 'MedicationStatement', 'MedicationRequest'],
        'resolved allergy and stopped medicine left out',
      );
      assert.equal(body.total, 4);
      assert.equal(
        matches[0].reaction[0].manifestation[0].coding[0].code,
        '126485001',
        'reactions travel with their allergy',
      );
      const included = body.entry
        .filter((e: any) => e.search.mode === 'include')
        .map((e: any) => e.resource.resourceType);
      assert.deepEqual(included, ['Medication']);
      assertOutcome(await get(`/$summary?patient=${P.empty}`), 403, 'SCR_PERMISSION_REQUIRED');
      await setPermission(P.empty, GP.user, 'Yes');
      assertOutcome(await get(`/$summary?patient=${P.empty}`), 404, 'NO_SCR');
      assert.equal(
        (await get(`/DocumentReference?patient=${P.empty}`)).json().total,
        0,
        'an empty list, not an error',
      );
    });

    it("needs the patient's permission, honours a refusal, and allows emergency access and the patient's own view", async () => {
      const id = (await get(`/DocumentReference?patient=${NHS.jane}`)).json().entry[0].resource.id;
      const nurse = await platform.token('R8001', { user: 'nurse-ann', org: GP.org });
      assertOutcome(
        await get(`/Bundle/${id}?patient=${NHS.jane}`, nurse),
        403,
        'SCR_PERMISSION_REQUIRED',
      );
      assertOutcome(
        await get(`/$summary?patient=${NHS.jane}`, nurse),
        403,
        'SCR_PERMISSION_REQUIRED',
      );
      await setPermission(NHS.jane, 'nurse-ann', 'No');
      assertOutcome(
        await get(`/Bundle/${id}?patient=${NHS.jane}`, nurse),
        403,
        'SCR_PERMISSION_REFUSED',
      );
      const refusals = await audits(
        (r) => r.action === 'scr.view' && r.userId === 'nurse-ann' && r.patient === NHS.jane,
      );
      assert.deepEqual(
        refusals.map((r) => r.outcome),
        [
          'refused 403 SCR_PERMISSION_REQUIRED',
          'refused 403 SCR_PERMISSION_REQUIRED',
          'refused 403 SCR_PERMISSION_REFUSED',
        ],
      );

      assertOutcome(
        await get(`/Bundle/${id}?patient=${NHS.jane}`, outsider),
        403,
        'NO_LEGITIMATE_RELATIONSHIP',
      );
      assertOutcome(
        await get(`/DocumentReference?patient=${NHS.jane}`, outsider),
        403,
        'NO_LEGITIMATE_RELATIONSHIP',
      );
      const principal = {
        kind: 'user' as const,
        userId: 'dr-elsewhere',
        role: 'R8000',
        org: 'A81001',
        sessionId: 's',
        issuer: 'test',
        expiresAt: Date.now() / 1000 + 600,
      };
      await new LegitimateRelationships(platform.repo).grantEmergencyAccess(
        { requestId: randomUUID(), principal },
        NHS.jane,
        'life-threatening',
        'Unconscious in A&E',
      );
      const glass = await get(`/Bundle/${id}?patient=${NHS.jane}`, outsider);
      assert.equal(glass.statusCode, 200, glass.body.slice(0, 300));
      assert.ok(
        glass.json().meta.tag.some((t: any) => t.code === 'emergency-access'),
        'the basis is stated',
      );
      const [glassAudit] = await audits(
        (r) => r.action === 'scr.view' && r.userId === 'dr-elsewhere' && r.outcome === 'success',
      );
      assert.equal(glassAudit?.purpose, 'emergency-access', JSON.stringify(glassAudit));
      assert.equal(glassAudit?.detail?.viewBasis, 'emergency-access');

      const own = await mintPatientToken(platform.key, {
        nhsNumber: NHS.jane,
        audience: platform.config.audience,
      });
      const mine = await get(`/Bundle/${id}?patient=${NHS.jane}`, own);
      assert.equal(mine.statusCode, 200, mine.body.slice(0, 300));
      assert.ok(
        mine.json().meta.tag.some((t: any) => t.code === 'own-record'),
        'own-record basis',
      );
      assertOutcome(await get(`/Bundle/${id}?patient=${P.views}`, own), 403, 'ACCESS_DENIED');
    });

    it('refuses documents that break the rules, each with its code, storing nothing', async () => {
      const before = await documentCount(NHS.jane);
      const cases: [string, (d: any) => unknown, number, string][] = [
        [
          'not a Bundle',
          () => ({ resourceType: 'Parameters', parameter: [] }),
          400,
          'INVALID_VALUE',
        ],
        ['not a document', (d) => ({ ...d, type: 'collection' }), 400, 'INVALID_VALUE'],
        ['no Composition first', (d) => ({ ...d, entry: d.entry.slice(1) }), 400, 'INVALID_VALUE'],
        [
          'entry without a resource',
          (d) => ({ ...d, entry: [...d.entry, { fullUrl: 'urn:uuid:x' }] }),
          400,
          'MISSING_VALUE',
        ],
        [
          'wrong Composition type',
          (d) => {
            entryOf(d, 'Composition').type.coding[0].code = '371531000';
            return d;
          },
          422,
          'INVALID_CODE',
        ],
        [
          'dangling reference',
          (d) => {
            entryOf(d, 'MedicationRequest').medicationReference.reference = 'Medication/missing';
            return d;
          },
          422,
          'INVALID_REFERENCE',
        ],
        [
          'section entry not in the document',
          (d) => {
            entryOf(d, 'Composition').section[1].entry.push({
              reference: 'AllergyIntolerance/gone',
            });
            return d;
          },
          422,
          'INVALID_REFERENCE',
        ],
        [
          'uncoded allergy',
          (d) => {
            entryOf(d, 'AllergyIntolerance').code = { text: 'penicillin' };
            return d;
          },
          422,
          'INVALID_CODE',
        ],
        [
          'allergy in Read codes',
          (d) => {
            entryOf(d, 'AllergyIntolerance').code.coding[0] = {
              system: 'http://read.info/ctv3',
              code: 'TJ00.',
            };
            return d;
          },
          422,
          'INVALID_CODE',
        ],
        [
          'SNOMED id with a bad check digit',
          (d) => {
            entryOf(d, 'Condition').code.coding[0].code = '195967002';
            return d;
          },
          422,
          'INVALID_CODE',
        ],
        [
          'reaction not coded',
          (d) => {
            entryOf(d, 'AllergyIntolerance').reaction[0].manifestation[0] = { text: 'hives' };
            return d;
          },
          422,
          'INVALID_CODE',
        ],
        [
          'medicine not in dm+d',
          (d) => {
            entryOf(d, 'MedicationStatement').medicationCodeableConcept.coding[0].system =
              'http://example.org/drugs';
            return d;
          },
          422,
          'INVALID_CODE',
        ],
        [
          'entry about another patient',
          (d) => {
            entryOf(d, 'Condition').subject = { reference: 'Patient/other' };
            d.entry.push({ resource: { resourceType: 'Patient', id: 'other' } });
            return d;
          },
          422,
          'INVALID_REFERENCE',
        ],
        [
          'invalid NHS Number',
          (d) => {
            entryOf(d, 'Patient').identifier[0].value = NHS.invalid;
            return d;
          },
          400,
          'INVALID_RESOURCE_ID',
        ],
        // an author Organization without an ODS code is accepted, as the published examples are:
        // the uploader's organisation is the author
        [
          'author not the registered practice',
          (d) => {
            entryOf(d, 'Organization').identifier[0].value = 'B99999';
            return d;
          },
          422,
          'AUTHOR_NOT_REGISTERED_PRACTICE',
        ],
      ];
      for (const [name, edit, status, code] of cases) {
        const res = await upload(edit(fixture('gp-summary.Bundle.json')));
        assert.equal(res.statusCode, status, `${name}: ${res.body.slice(0, 300)}`);
        assertOutcome(res, status, code);
      }
      // PDS's published answer for a number it does not hold, as every service gives it (issue 17)
      assertOutcome(await upload(documentFor(NHS.notFound)), 404, 'RESOURCE_NOT_FOUND');
      assertOutcome(await upload(documentFor(P.old)), 422, 'PATIENT_SUPERSEDED');
      // a user of its own (the outsider has had emergency access to Jane since the test above)
      const stranger = await platform.token('R8000', { user: 'dr-stranger', org: 'A81001' });
      assertOutcome(
        await upload(fixture('gp-summary.Bundle.json'), stranger),
        403,
        'NO_LEGITIMATE_RELATIONSHIP',
      );
      assertOutcome(
        await upload(fixture('gp-summary.Bundle.json'), outsider),
        403,
        'ACCESS_DENIED',
      );
      const patient = await mintPatientToken(platform.key, {
        nhsNumber: NHS.jane,
        audience: platform.config.audience,
      });
      assertOutcome(await upload(fixture('gp-summary.Bundle.json'), patient), 403, 'ACCESS_DENIED');
      assert.equal(await documentCount(NHS.jane), before, 'no refused document was stored');
    });

    it('refuses uploads for a dissenting patient (audited) and shows no SCR for them', async () => {
      assert.equal((await upload(documentFor(P.dissent))).statusCode, 201);
      await setConsent(P.dissent, 'dissent');
      await setPermission(P.dissent, GP.user, 'Yes');
      assertOutcome(await upload(documentFor(P.dissent)), 403, 'SCR_DISSENT');
      const [attempt] = await audits(
        (r) =>
          r.action === 'scr.upload' && r.patient === P.dissent && r.outcome.startsWith('refused'),
      );
      assert.equal(
        attempt?.outcome,
        'refused 403 SCR_DISSENT',
        'the refused attempt is audited against the patient',
      );
      assert.equal(await documentCount(P.dissent), 1, 'nothing stored');
      const id = (await platform.repo.read(SCR_POINTER_TYPE, P.dissent))!.resource.current!;
      for (const path of [
        `/DocumentReference?patient=${P.dissent}`,
        `/Bundle/${id}?patient=${P.dissent}`,
        `/$summary?patient=${P.dissent}`,
      ]) {
        const res = await get(path);
        assertOutcome(res, 403, 'SCR_DISSENT');
        assert.ok(
          !res.body.includes('penicillin') && !res.body.includes(id),
          `no content leaks from ${path}`,
        );
      }
    });

    it('resolves a superseded NHS Number to the surviving record for retrieval', async () => {
      const up = await upload(documentFor(P.survivor));
      assert.equal(up.statusCode, 201, up.body.slice(0, 300));
      await setPermission(P.survivor, GP.user, 'Yes');
      const list = await get(`/DocumentReference?patient=${P.old}`);
      assert.equal(list.statusCode, 200, list.body.slice(0, 300));
      assert.equal(list.json().entry[0].resource.id, up.json().id);
      assert.equal(list.json().entry[0].resource.subject.identifier.value, P.survivor);
      const read = await get(`/Bundle/${up.json().id}?patient=${P.old}`);
      assert.equal(read.statusCode, 200, read.body.slice(0, 300));
      const [entry] = await audits(
        (r) => r.action === 'scr.view' && r.detail?.documentId === up.json().id,
      );
      assert.equal(entry?.patient, P.survivor, 'audited against the survivor');
      assert.equal(entry?.detail?.requested, P.old, 'with the number that was asked for');
    });

    it('never interleaves concurrent uploads for one patient: each is stored whole or refused whole', async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          upload(
            documentFor(P.race, i % 2 ? 'gp-summary.Bundle.json' : 'gp-summary-update.Bundle.json'),
          ),
        ),
      );
      const statuses = results.map((r) => r.statusCode);
      assert.ok(
        statuses.every((s) => s === 201 || s === 409),
        `only 201 or 409: ${statuses}`,
      );
      for (const r of results.filter((x) => x.statusCode === 409))
        assertOutcome(r, 409, 'RESOURCE_VERSION_MISMATCH');
      const won = results.filter((r) => r.statusCode === 201).map((r) => r.json().id);
      assert.ok(won.length >= 1, 'at least one upload succeeds');
      assert.equal(
        await documentCount(P.race),
        won.length,
        'a document for every success and none for a refusal',
      );
      const history = await platform.repo.history(SCR_POINTER_TYPE, P.race);
      assert.deepEqual(
        history.map((h) => h.resource.sequence),
        Array.from({ length: won.length }, (_, i) => won.length - i),
        'versions 1..n, no gaps or repeats',
      );
      assert.deepEqual(
        new Set(history.map((h) => h.resource.current)),
        new Set(won),
        'each version points to one successful upload',
      );
      for (const h of history) {
        const doc = (await platform.repo.read(SCR_DOCUMENT_TYPE, h.resource.current!))!.resource;
        assert.equal(doc.sequence, h.resource.sequence, 'document and pointer agree');
        const expected = fixture(
          doc.bundle.entry!.length === 5
            ? 'gp-summary-update.Bundle.json'
            : 'gp-summary.Bundle.json',
        ).entry.length;
        assert.equal(doc.bundle.entry!.length, expected, 'whole documents only');
      }
      const retry = await upload(documentFor(P.race));
      assert.equal(
        retry.statusCode,
        201,
        `a retry after the race succeeds: ${retry.body.slice(0, 200)}`,
      );
    });

    it('refuses the whole of an upload that read the pointer before a rival committed (forced interleaving)', async () => {
      // both uploads read the pointer before either commits: the real store, with reads held at a barrier
      let arrived = 0;
      let release!: () => void;
      const barrier = new Promise<void>((r) => {
        release = r;
      });
      const repo = new Proxy(platform.repo, {
        get(target, key) {
          if (key === 'read') {
            return async (type: string, id: string) => {
              const value = await target.read(type, id);
              if (type === SCR_POINTER_TYPE) {
                if (++arrived === 2) release();
                await barrier;
              }
              return value;
            };
          }
          const v = (target as any)[key];
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }) as Repository;
      const ids: string[] = [randomUUID(), randomUUID()];
      const attempt = (requestId: string, name: string) =>
        storeNewVersion(
          repo,
          validateScrDocument(documentFor(P.interleaved, name)),
          { uploadedBy: GP.user, authorOrg: GP.org },
          () => auditRecord({ requestId }, 'scr.upload', P.interleaved, 'success'),
        );
      const results = await Promise.allSettled([
        attempt(ids[0], 'gp-summary.Bundle.json'),
        attempt(ids[1], 'gp-summary-update.Bundle.json'),
      ]);
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(lost.length, 1, `exactly one upload loses: ${results.map((r) => r.status)}`);
      const err = (lost[0] as PromiseRejectedResult).reason;
      assert.ok(
        err instanceof FhirError &&
          err.status === 409 &&
          err.spineCode === 'RESOURCE_VERSION_MISMATCH',
        `409 for the loser: ${err}`,
      );
      assert.equal(await documentCount(P.interleaved), 1, "the loser's document is not stored");
      assert.equal(
        (await audits((r) => ids.includes(r.requestId))).length,
        1,
        "nor is the loser's audit entry",
      );
      assert.equal(
        (await platform.repo.read(SCR_POINTER_TYPE, P.interleaved))!.resource.sequence,
        1,
      );
    });

    const gpContext = () => ({
      requestId: randomUUID(),
      principal: {
        kind: 'user' as const,
        userId: GP.user,
        role: 'R8000',
        org: GP.org,
        sessionId: 's',
        issuer: 'test',
        expiresAt: Date.now() / 1000 + 600,
      },
    });
    const dissent = (repo: Repository, nhs: string) =>
      new ConsentService(repo, new AuditWriter(repo)).record(gpContext(), {
        nhsNumber: nhs,
        code: 'scr-dissent',
      });
    const uploadDirect = (repo: Repository, nhs: string) =>
      storeNewVersion(
        repo,
        validateScrDocument(documentFor(nhs)),
        { uploadedBy: GP.user, authorOrg: GP.org },
        () => auditRecord(gpContext(), 'scr.upload', nhs, 'success'),
      );

    it('refuses an upload that checked consent before a dissent committed (forced interleaving)', async () => {
      // the upload reads the pointer and the consent state ('core'); the dissent commits before it goes on
      const repo = interleaveAfterRead(platform.repo, SCR_CONSENT_STATE_TYPE, () =>
        dissent(platform.repo, P.dissentFirst),
      );
      await assert.rejects(
        uploadDirect(repo, P.dissentFirst),
        (err) => err instanceof FhirError && err.status === 403 && err.spineCode === 'SCR_DISSENT',
      );
      assert.equal(await documentCount(P.dissentFirst), 0, 'no document stored after the dissent');
      const state = await platform.repo.read(SCR_CONSENT_STATE_TYPE, P.dissentFirst);
      assert.equal(state?.resource.scr, 'dissent', 'the dissent stands');
      const pointer = await platform.repo.read(SCR_POINTER_TYPE, P.dissentFirst);
      assert.equal(pointer?.resource.current, null, 'no current document');
      assert.equal(
        pointer?.resource.dissentConsentId,
        state?.resource.scrConsentId,
        'the pointer was moved by the dissent',
      );
      // and through the API: refused, and the refusal audited
      assertOutcome(await upload(documentFor(P.dissentFirst)), 403, 'SCR_DISSENT');
      assert.equal(await documentCount(P.dissentFirst), 0, 'still nothing stored');
    });

    it('a dissent that read the pointer before an upload committed is re-applied after it (forced interleaving)', async () => {
      let stored: { id: string } | undefined;
      const repo = interleaveAfterRead(platform.repo, SCR_POINTER_TYPE, async () => {
        stored = await uploadDirect(platform.repo, P.uploadFirst);
      });
      const recorded = await dissent(repo, P.uploadFirst);
      assert.ok(stored, 'the upload committed while the dissent was in flight');
      assert.equal(await documentCount(P.uploadFirst), 1, 'the upload that committed first stands');
      const pointer = (await platform.repo.read(SCR_POINTER_TYPE, P.uploadFirst))!;
      assert.deepEqual(
        [pointer.resource.current, pointer.resource.dissentConsentId, pointer.version],
        [stored!.id, recorded.consent.id, 2],
        'the dissent was applied on top of the upload',
      );
      assert.equal(
        (await platform.repo.read(SCR_CONSENT_STATE_TYPE, P.uploadFirst))?.resource.scr,
        'dissent',
      );
      assertOutcome(await get(`/$summary?patient=${P.uploadFirst}`), 403, 'SCR_DISSENT');
      await assert.rejects(
        uploadDirect(platform.repo, P.uploadFirst),
        (err) => err instanceof FhirError && err.spineCode === 'SCR_DISSENT',
        'later uploads are refused',
      );
    });

    it('applies an upload retried with the same X-Request-ID once, also when the copies race', async () => {
      const send = (requestId: string, token = gp, name = 'gp-summary.Bundle.json') =>
        platform.request({
          method: 'POST',
          url: `${SCR_BASE}/Bundle`,
          token,
          headers: { 'x-request-id': requestId },
          body: documentFor(P.retried, name),
        });
      const requestId = randomUUID();
      const first = await send(requestId);
      assert.equal(first.statusCode, 201, first.body.slice(0, 300));
      const again = await send(requestId);
      assert.equal(again.statusCode, 201, again.body.slice(0, 300));
      assert.equal(again.json().id, first.json().id, 'the retry answers with the stored document');
      assert.equal(again.headers.location, first.headers.location);
      assert.deepEqual(again.json(), first.json());
      assert.equal(await documentCount(P.retried), 1, 'stored once');
      assert.equal(
        (await platform.repo.read(SCR_POINTER_TYPE, P.retried))!.version,
        1,
        'the pointer moved once',
      );
      assert.equal(
        (await audits((r) => r.requestId === requestId && r.action === 'scr.upload')).length,
        1,
        'one upload audit entry',
      );

      const twinId = randomUUID();
      const [a, b] = await Promise.all([
        send(twinId, gp, 'gp-summary-update.Bundle.json'),
        send(twinId, gp, 'gp-summary-update.Bundle.json'),
      ]);
      assert.deepEqual(
        [a.statusCode, b.statusCode],
        [201, 201],
        a.body.slice(0, 200) + b.body.slice(0, 200),
      );
      assert.equal(a.json().id, b.json().id, 'both copies answer with the one stored document');
      assert.equal(await documentCount(P.retried), 2, 'the racing copies stored one document');
      assert.equal((await platform.repo.read(SCR_POINTER_TYPE, P.retried))!.resource.sequence, 2);

      // the same X-Request-ID from a colleague, or on another request, is refused and stores nothing
      const colleague = await platform.token('R8000', { user: 'gp-colleague', org: GP.org });
      const reused = await send(requestId, colleague);
      assertOutcome(reused, 400, 'INVALID_VALUE');
      assert.match(reused.json().issue[0].diagnostics, /already been used/);
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
        patient: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: P.retried } },
        policyRule: {
          coding: [
            { system: 'https://openspine.dev/CodeSystem/scr-consent-choice', code: 'scr-dissent' },
          ],
        },
      };
      assertOutcome(
        await platform.request({
          method: 'POST',
          url: `${SCR_BASE}/Consent`,
          token: gp,
          headers: { 'x-request-id': requestId },
          body: consent,
        }),
        400,
        'INVALID_VALUE',
      );
      assert.equal(
        (await platform.repo.read(SCR_CONSENT_STATE_TYPE, P.retried))?.resource.scr,
        'additional',
        'the dissent with a reused X-Request-ID was not recorded',
      );
      assert.equal(await documentCount(P.retried), 2);
    });

    it('shows documents filed under a number merged into the survivor, the newest current one as the summary', async () => {
      const survivorDoc = await upload(documentFor(P.mergedInto, 'gp-summary-update.Bundle.json'));
      assert.equal(survivorDoc.statusCode, 201, survivorDoc.body.slice(0, 300));
      const oldDoc = await upload(documentFor(P.mergedAway));
      assert.equal(oldDoc.statusCode, 201, oldDoc.body.slice(0, 300));
      const merge = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient/$merge`,
        token: await platform.token('R8013'),
        body: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'source-patient-identifier', valueIdentifier: { value: P.mergedAway } },
            { name: 'target-patient-identifier', valueIdentifier: { value: P.mergedInto } },
          ],
        },
      });
      assert.equal(merge.statusCode, 200, merge.body.slice(0, 300));
      await setPermission(P.mergedInto, GP.user, 'Yes');

      const listed = async (nhs: string) => {
        const res = await get(`/DocumentReference?patient=${nhs}`);
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        return res
          .json()
          .entry.filter((e: any) => e.resource.resourceType === 'DocumentReference')
          .map((e: any) => [e.resource.id, e.resource.status]);
      };
      assert.deepEqual(
        await listed(P.mergedInto),
        [
          [oldDoc.json().id, 'current'],
          [survivorDoc.json().id, 'superseded'],
        ],
        "the merged number's newer document is the current one",
      );
      assert.deepEqual(
        await listed(P.mergedAway),
        await listed(P.mergedInto),
        'the same list under either number',
      );
      const summaryTotal = async () => {
        const res = await get(`/$summary?patient=${P.mergedInto}`);
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        return res.json().total;
      };
      assert.equal(await summaryTotal(), 4, "the summary is the merged number's (newer) document");
      const ref = (await get(`/DocumentReference?patient=${P.mergedInto}`)).json().entry[0]
        .resource;
      assert.equal(ref.subject.identifier.value, P.mergedInto, "listed as the survivor's");
      const url = new URL(ref.content[0].attachment.url);
      const read = await get(url.pathname.slice(url.pathname.indexOf('/Bundle')) + url.search);
      assert.equal(
        read.statusCode,
        200,
        `the attachment URL reads the document: ${read.body.slice(0, 300)}`,
      );
      assert.equal(
        read.json().entry[0].resource.id,
        oldDoc.json().entry[0].resource.id,
        'the document as one searchset, its Composition first',
      );
      assert.equal(read.json().total, oldDoc.json().entry.length);
      assertOutcome(
        await get(`/Bundle/${oldDoc.json().id}?patient=${P.views}`),
        404,
        'RESOURCE_NOT_FOUND',
      );

      const newer = await upload(documentFor(P.mergedInto, 'gp-summary-update.Bundle.json'));
      assert.equal(newer.statusCode, 201, newer.body.slice(0, 300));
      assert.deepEqual(
        (await listed(P.mergedInto)).map(([, status]: string[]) => status),
        ['current', 'superseded', 'superseded'],
      );
      assert.equal(
        (await listed(P.mergedInto))[0][0],
        newer.json().id,
        "the survivor's new upload is current",
      );
      assert.equal(await summaryTotal(), 2, "the summary follows the survivor's newer upload");
    });

    it('finds a document by the search form of the published API, with the same checks as a read', async () => {
      const up = await upload(documentFor(P.searched));
      assert.equal(up.statusCode, 201, up.body.slice(0, 300));
      const id = up.json().id;
      const search = (
        identifier: string,
        nhs = `https://fhir.nhs.uk/Id/nhs-number|${P.searched}`,
        token = gp,
      ) =>
        get(
          `/Bundle?composition.identifier=${encodeURIComponent(identifier)}&composition.subject:Patient.identifier=${encodeURIComponent(nhs)}`,
          token,
        );
      assertOutcome(await search(id), 403, 'SCR_PERMISSION_REQUIRED');
      await setPermission(P.searched, GP.user, 'Yes');
      await setConsent(P.searched, 'core'); // consent withdrawn after the upload: reads are filtered
      const found = await search(id);
      assert.equal(found.statusCode, 200, found.body.slice(0, 300));
      const body = found.json();
      // the published form: the document's resources as one searchset, not a Bundle inside a Bundle
      assert.equal(body.type, 'searchset');
      assert.equal(body.total, body.entry.length);
      assert.equal(body.entry[0].resource.resourceType, 'Composition');
      assert.ok(!body.entry.some((e: any) => e.resource.resourceType === 'Bundle'));
      assert.ok(
        !body.entry.some((e: any) => e.resource.resourceType === 'Condition'),
        'filtered for core consent like a read',
      );
      const master = (await get(`/DocumentReference?patient=${P.searched}`)).json().entry[0]
        .resource.masterIdentifier;
      const byMaster = await search(`${master.system}|${master.value}`);
      assert.deepEqual(
        byMaster.json().entry.map((e: any) => e.resource.id),
        body.entry.map((e: any) => e.resource.id),
        'also found by the masterIdentifier',
      );
      const [audit] = await audits(
        (r) =>
          r.action === 'scr.view' &&
          r.patient === P.searched &&
          Array.isArray(r.detail?.documentIds) &&
          r.outcome === 'success',
      );
      assert.deepEqual(audit?.detail?.documentIds, [id], 'the read is audited with the document');
      await setPermission(P.views, GP.user, 'Yes');
      const other = await search(id, P.views);
      assert.equal(other.statusCode, 200, other.body.slice(0, 300));
      assert.equal(other.json().total, 0, "another patient's document is not found");
      assertOutcome(await search(id, P.searched, outsider), 403, 'NO_LEGITIMATE_RELATIONSHIP');
      assertOutcome(
        await get(`/Bundle?composition.subject:Patient.identifier=${P.searched}`),
        400,
        'MISSING_VALUE',
      );
      assertOutcome(await search('not an id!'), 400, 'INVALID_SEARCH_DATA');
    });

    it('recognises SNOMED CT concept ids by partition and Verhoeff check digit', () => {
      for (const ok of ['22298006', '196981000000101', '1240581000000104', '138875005'])
        assert.ok(isSnomedConceptId(ok), `${ok} is a concept id`);
      for (const bad of ['22298007', '12345', '0123456', '196981000000111', 'abc', ''])
        assert.ok(!isSnomedConceptId(bad), `${bad} is not a concept id`);
    });
  });
}
