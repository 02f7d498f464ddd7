/**
 * e-RS R4 over referrals, A&G requests and their files, on both stores: a041 (ServiceRequest ids by
 * UBRN: a referral, an A&G request, a converted A&G under one UBRN, a stranger's empty searchset,
 * bad identifiers) and a042 (307 to a temporary location, that location's bytes; refused when the
 * link is expired, tampered with or moved to another file, and to a non-party or an unknown id).
 * Published mocks (sandbox/src/mocks/r4/searchServiceRequest) give the shapes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { buildHealthcareService, indexHealthcareService } from '../src/services/directory/index.js';
import { downloadLinkKey, mintDownloadToken } from '../src/services/referrals/r4-download-links.js';
import {
  createReferral,
  ers,
  ORG,
  OTHER_ORG,
  PATIENT,
  published,
  seedReferralWorld,
  STU3,
  upload,
  uploadedId,
} from './helpers/ers-letters.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const R4 = '/referrals/FHIR/R4';
const UBRN_SYSTEM = 'https://fhir.nhs.uk/Id/UBRN';
const HTTP_CODES = 'https://fhir.nhs.uk/CodeSystem/http-error-codes';
const ERS_CODES = 'https://fhir.nhs.uk/CodeSystem/ers-error-codes';
/** The A&G provider and service the published A&G examples name. */
const ADVICE_PROVIDER = 'R69';
const ADVICE_SERVICE = '11014';
const REFERRER_USER = '021600556514';
const PROVIDER_USER = '103264994981';

/** An R4 refusal: status, NHSDigital-OperationOutcome coding, issue code. */
function assertR4(res: LightMyRequestResponse, status: number, system: string, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /application\/fhir\+json/);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.ok(outcome.meta.lastUpdated);
  assert.deepEqual(outcome.issue[0].details.coding, [{ system, code }]);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

for (const kind of await storesUnderTest()) {
  describe(`e-RS R4 service requests and attachments (${kind})`, () => {
    let platform: TestPlatform;
    let referrer: string;
    let provider: string;
    let stranger: string;
    let referralOnly: string;
    let adviceOnly: string;
    let converted: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await seedReferralWorld(platform);
      const service = buildHealthcareService({
        id: ADVICE_SERVICE,
        org: ADVICE_PROVIDER,
        name: 'Cardiology Advice Service',
        types: ['outpatients'],
        active: true,
        endpoints: [],
        ers: {
          specialty: 'CARDIOLOGY',
          clinicTypes: ['HEART_FAILURE'],
          flow: 'TRIAGE',
          priorities: ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'],
          adviceAndGuidance: true,
        },
      });
      await platform.repo.commit({
        resources: [
          {
            type: 'HealthcareService',
            id: ADVICE_SERVICE,
            expectedVersion: 0,
            resource: service,
            index: indexHealthcareService(service),
          },
        ],
      });
      referrer = await platform.token('R8000', { org: ORG, user: REFERRER_USER });
      provider = await platform.token('R8000', { org: ADVICE_PROVIDER, user: PROVIDER_USER });
      stranger = await platform.token('R8000', { org: OTHER_ORG, user: 'stranger' });

      referralOnly = await createReferral(platform);
      const createAdvice = async (body: any) => {
        const res = await ers(platform, {
          method: 'POST',
          url: `${STU3}/CommunicationRequest/$ers.createAdviceAndGuidance`,
          body,
          token: referrer,
        });
        assert.equal(res.statusCode, 200, res.body);
        return res.json().parameter[0].resource.id as string;
      };
      adviceOnly = await createAdvice(
        published('createAdviceAndGuidance-ExampleRCWithoutAttachments.json'),
      );
      // the RCA example is authorised to convert; its referringClinician and file left out
      const authorised = published('createAdviceAndGuidance-ExampleRCAWithAttachments.json');
      authorised.parameter = authorised.parameter.filter(
        (p: any) => p.name !== 'referringClinician' && p.name !== 'requestAttachmentFile',
      );
      converted = await createAdvice(authorised);
      const convertBody = published('convertAdviceAndGuidanceToReferral-NoAttachments.json');
      convertBody.parameter.find((p: any) => p.name === 'createFrom').valueReference.reference =
        `CommunicationRequest/${converted}/_history/1`;
      const conv = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/$ers.createFromCommunicationRequestActionLater`,
        body: convertBody,
        token: provider,
        ods: ADVICE_PROVIDER,
        businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
      });
      assert.equal(conv.statusCode, 201, conv.body);
    });
    after(() => platform.close());

    const search = (identifier: string | null, extra: Parameters<typeof ers>[1] | object = {}) =>
      ers(platform, {
        url:
          identifier === null
            ? `${R4}/ServiceRequest`
            : `${R4}/ServiceRequest?identifier=${encodeURIComponent(identifier)}`,
        token: referrer,
        ...extra,
      });
    const entries = async (res: LightMyRequestResponse) => {
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /application\/fhir\+json/);
      const bundle = res.json();
      assert.equal(bundle.resourceType, 'Bundle');
      assert.equal(bundle.type, 'searchset');
      assert.equal(bundle.total, (bundle.entry ?? []).length);
      return bundle;
    };

    it('a041 lists the referral of a UBRN as the published referral mock shows it', async () => {
      const bundle = await entries(await search(`${UBRN_SYSTEM}|${referralOnly}`));
      const example = published('r4-searchServiceRequest-ResponseExampleReferral.json');
      assert.deepEqual(Object.keys(bundle).sort(), Object.keys(example).sort());
      assert.equal(bundle.total, 1);
      const [entry] = bundle.entry;
      assert.deepEqual(Object.keys(entry).sort(), Object.keys(example.entry[0]).sort());
      assert.deepEqual(
        Object.keys(entry.resource).sort(),
        Object.keys(example.entry[0].resource).sort(),
      );
      assert.equal(entry.resource.id, `r.${referralOnly}`);
      assert.ok(entry.fullUrl.endsWith(`${R4}/ServiceRequest/r.${referralOnly}`));
      assert.deepEqual(entry.resource.identifier, [{ system: UBRN_SYSTEM, value: referralOnly }]);
      assert.deepEqual(entry.resource.category, example.entry[0].resource.category);
      assert.equal(entry.resource.intent, 'order');
      assert.equal(entry.resource.status, 'active');
      assert.deepEqual(entry.resource.subject, example.entry[0].resource.subject);
      assert.equal(entry.resource.subject.identifier.value, PATIENT);
      assert.equal(entry.resource.meta.versionId, '1');
      assert.deepEqual(entry.search, { mode: 'match' });
      assert.ok(
        bundle.link[0].url.endsWith(
          `${R4}/ServiceRequest?identifier=${encodeURIComponent(`${UBRN_SYSTEM}|${referralOnly}`)}`,
        ),
      );
      // the UBRN alone (no system) is the same search
      const bare = await entries(await search(referralOnly));
      assert.equal(bare.entry[0].resource.id, `r.${referralOnly}`);
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) =>
            r.action === 'ers.serviceRequest.search' &&
            (r.detail as any)?.ubrn === referralOnly &&
            (r.detail as any)?.listed?.[0] === `r.${referralOnly}`,
        ),
        'the search is audited with what it listed',
      );
    });

    it('a041 lists an A&G request with category request and code advice-and-guidance', async () => {
      const bundle = await entries(await search(`${UBRN_SYSTEM}|${adviceOnly}`));
      const example = published('r4-searchServiceRequest-ResponseExampleAdvice.json');
      assert.equal(bundle.total, 1);
      const r = bundle.entry[0].resource;
      assert.equal(r.id, `a.${adviceOnly}`);
      assert.deepEqual(r.category, example.entry[0].resource.category);
      assert.deepEqual(r.code, example.entry[0].resource.code);
      assert.deepEqual(r.subject, { ...example.entry[0].resource.subject });
      // the provider it was sent to sees it too
      const asProvider = await entries(
        await search(adviceOnly, {
          token: provider,
          ods: ADVICE_PROVIDER,
          businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
        }),
      );
      assert.deepEqual(
        asProvider.entry.map((e: any) => e.resource.id),
        [`a.${adviceOnly}`],
      );
    });

    it('a041 lists both ids of an A&G request converted to a referral (one UBRN)', async () => {
      const bundle = await entries(await search(`${UBRN_SYSTEM}|${converted}`));
      assert.equal(bundle.total, 2);
      assert.deepEqual(
        bundle.entry.map((e: any) => [e.resource.id, e.resource.category[0].coding[0].code]),
        [
          [`r.${converted}`, 'referral'],
          [`a.${converted}`, 'request'],
        ],
      );
      assert.equal(bundle.entry[1].resource.status, 'completed');
      // the same ids each time: stable per (kind, UBRN)
      const again = await entries(await search(converted));
      assert.deepEqual(
        again.entry.map((e: any) => e.resource.id),
        bundle.entry.map((e: any) => e.resource.id),
      );
    });

    it('a041 gives a stranger, and an unknown UBRN, the published empty searchset', async () => {
      const example = published('r4-searchServiceRequest-ResponseExampleEmpty.json');
      for (const ubrn of [referralOnly, adviceOnly, converted]) {
        const bundle = await entries(await search(ubrn, { token: stranger, ods: OTHER_ORG }));
        assert.deepEqual(Object.keys(bundle).sort(), Object.keys(example).sort());
        assert.equal(bundle.total, 0);
        assert.equal(bundle.entry, undefined);
      }
      const unknown = await entries(await search('999999999999'));
      assert.equal(unknown.total, 0);
    });

    it('a041 refuses a bad identifier with the published 400 and a function it does not serve', async () => {
      for (const bad of [
        null,
        '',
        '12345',
        '1234567890123',
        'abcdefghijkl',
        `https://fhir.nhs.uk/Id/nhs-number|${referralOnly}`,
        `${UBRN_SYSTEM}|`,
      ]) {
        const out = assertR4(await search(bad), 400, HTTP_CODES, 'REC_BAD_REQUEST');
        assert.equal(out.issue[0].code, 'required', String(bad));
      }
      assertR4(
        await ers(platform, {
          url: `${R4}/ServiceRequest?identifier=${referralOnly}&_count=5`,
          token: referrer,
        }),
        400,
        HTTP_CODES,
        'REC_BAD_REQUEST',
      );
      const res = await search(referralOnly, { businessFunction: 'NOT_A_FUNCTION' });
      assert.equal(res.statusCode, 403, res.body);
    });

    /** A file uploaded for the referral and attached to it as its letter (a020, a012). */
    async function attachedFile(ubrn: string, data: Buffer, version: number): Promise<string> {
      const id = uploadedId(
        await upload(platform, {
          data,
          contentType: 'application/pdf',
          fileName: 'letter.pdf',
          ubrn,
        }),
      );
      const body = published('maintainReferralLetter-SingleDocumentReference.json');
      body.parameter[0].resource.content[0].attachment.url = `Binary/${id}`;
      const res = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.maintainReferralLetter`,
        body,
        headers: { 'if-match': `W/"${version}"` },
      });
      assert.equal(res.statusCode, 200, res.body);
      return id;
    }
    let fileId = '';
    let otherFileId = '';
    const bytes = Buffer.from('%PDF-1.4\n% a referral letter\n%%EOF\n');
    const downloadPath = (id: string, token: string) =>
      `${R4}/Binary/${id}/$download?token=${encodeURIComponent(token)}`;
    const get = (url: string) => platform.app.inject({ method: 'GET', url });

    it('a042 answers 307 to a temporary location that serves the bytes with their type', async () => {
      const referral = await createReferral(platform);
      fileId = await attachedFile(referral, bytes, 1);
      // a second file for the same referral (not attached: a link for the first must not open it)
      otherFileId = uploadedId(await upload(platform, { data: 'another', ubrn: referral }));
      const res = await ers(platform, { url: `${R4}/Binary/${fileId}`, token: referrer });
      assert.equal(res.statusCode, 307, res.body);
      assert.equal(res.body, '');
      const location = String(res.headers.location);
      assert.ok(
        location.startsWith(`${platform.config.publicUrl}${R4}/Binary/${fileId}/$download?token=`),
      );
      // followed without a token or e-RS headers, as a redirect is
      const file = await get(location.slice(platform.config.publicUrl.length));
      assert.equal(file.statusCode, 200, file.body);
      assert.equal(file.headers['content-type'], 'application/pdf');
      assert.deepEqual(file.rawPayload, bytes);
      // each call makes a link of its own; the provider's functions may ask too
      const again = await ers(platform, {
        url: `${R4}/Binary/${fileId}`,
        token: referrer,
        businessFunction: 'REFERRING_CLINICIAN_ADMIN',
      });
      assert.equal(again.statusCode, 307, again.body);
    });

    it('the download is refused when expired, tampered with or for another file', async () => {
      const key = downloadLinkKey(platform.key);
      const past = mintDownloadToken(key, fileId, new Date(Date.now() - 1000));
      assertR4(await get(downloadPath(fileId, past)), 403, HTTP_CODES, 'REC_FORBIDDEN');
      const good = mintDownloadToken(key, fileId, new Date(Date.now() + 60_000));
      assert.equal((await get(downloadPath(fileId, good))).statusCode, 200);
      // a later expiry under the same signature, a changed signature, another file's id, none
      const [exp, sig] = good.split('.');
      const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
      for (const [what, url] of [
        ['lengthened', downloadPath(fileId, `${Number(exp) + 3600}.${sig}`)],
        ['signature changed', downloadPath(fileId, `${exp}.${flipped}`)],
        ['another file', downloadPath(otherFileId, good)],
        ['garbage', downloadPath(fileId, 'x')],
        ['no token', `${R4}/Binary/${fileId}/$download`],
      ]) {
        const res = await get(url);
        assert.equal(res.statusCode, 403, `${what}: ${res.body}`);
        assert.ok(!res.rawPayload.includes(bytes), what);
      }
      // a well-signed link to a file that does not exist
      const ghost = 'c0ffee00-0000-4000-8000-00000000dead';
      assertR4(
        await get(
          downloadPath(ghost, mintDownloadToken(key, ghost, new Date(Date.now() + 60_000))),
        ),
        404,
        HTTP_CODES,
        'REC_NOT_FOUND',
      );
    });

    it('a042 refuses a non-party (NO_RELATIONSHIP), an unknown id, and a file nobody attached', async () => {
      const out = await ers(platform, {
        url: `${R4}/Binary/${fileId}`,
        token: stranger,
        ods: OTHER_ORG,
      });
      assertR4(out, 403, ERS_CODES, 'NO_RELATIONSHIP');
      assert.equal(out.headers.location, undefined);
      assertR4(
        await ers(platform, {
          url: `${R4}/Binary/c0ffee00-0000-4000-8000-00000000beef`,
          token: referrer,
        }),
        404,
        HTTP_CODES,
        'REC_NOT_FOUND',
      );
      assertR4(
        await ers(platform, { url: `${R4}/Binary/att-70000-70001`, token: referrer }),
        404,
        HTTP_CODES,
        'REC_NOT_FOUND',
      );
      const loose = uploadedId(
        await upload(platform, { data: 'not attached', ubrn: referralOnly }),
      );
      assertR4(
        await ers(platform, { url: `${R4}/Binary/${loose}`, token: referrer }),
        403,
        ERS_CODES,
        'NO_RELATIONSHIP',
      );
    });
  });
}
