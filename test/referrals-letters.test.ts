/**
 * Letters and attachments of the e-Referral Service on both stores, through the whole platform:
 * a020 upload (published types, file name, sizes, content that is not its type, refusals as
 * published), a012 $ers.maintainReferralLetter with the published request bodies (the uploaded
 * files' ids in place of the examples'), a006 retrieve attachment (a party of the referral, never
 * a stranger), a007 $ers.generateCRI (a real PDF), X-Request-ID retries, and bad input of every
 * field answered 4xx in eRS's OperationOutcome.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PDFDocument } from 'pdf-lib';
import { withProvider } from '../src/services/referrals/referral-model.js';
import { referralWrite } from '../src/services/referrals/referral-writes.js';
import {
  assertErs,
  createReferral,
  ers,
  ORG,
  OTHER_ORG,
  pdfText,
  PROVIDER_ORG,
  published,
  publishedBytes,
  seedReferralWorld,
  stateOf,
  STU3,
  upload,
  uploadedId,
} from './helpers/ers-letters.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const PDF = publishedBytes('retrieveAttachment-example_attachment.pdf');
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(64, 1)]);

/** A published maintainReferralLetter body with our uploaded files' ids in its urls, in order. */
function letterBody(example: string, ids: string[]): any {
  const body = published(`maintainReferralLetter-${example}.json`);
  body.parameter.forEach((p: any, i: number) => {
    p.resource.content[0].attachment.url = `Binary/${ids[i]}`;
  });
  return body;
}

for (const kind of await storesUnderTest()) {
  describe(`e-RS letters and attachments (${kind})`, () => {
    let platform: TestPlatform;
    let strangerToken: string;
    let providerToken: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await seedReferralWorld(platform);
      strangerToken = await platform.token('R8000', { org: OTHER_ORG, user: 'stranger' });
      providerToken = await platform.token('R8000', { org: PROVIDER_ORG, user: 'provider' });
    });
    after(() => platform.close());

    const maintain = (ubrn: string, version: number, body: unknown, extra: object = {}) =>
      ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.maintainReferralLetter`,
        body,
        headers: { 'if-match': `W/"${version}"` },
        ...extra,
      });
    const attachment = (id: string, extra: object = {}) =>
      ers(platform, { url: `${STU3}/Binary/${id}`, ...extra });

    /** Makes PROVIDER_ORG a provider of the referral, as a booking would (the booking part's job). */
    async function sendToProvider(ubrn: string): Promise<void> {
      const stored = (await platform.repo.read('ReferralRequest', ubrn))!;
      await platform.repo.commit({
        resources: [referralWrite(withProvider(stored.resource, PROVIDER_ORG), stored.version)],
      });
    }

    it('a020 stores each published file type as sent, with its digest, and answers 201 with Location Binary/{id}', async () => {
      const ubrn = await createReferral(platform);
      const files: [string, string, Buffer][] = [
        ['text/plain', 'notes.txt', Buffer.from('Blood results: normal\n')],
        ['application/pdf', 'example_attachment.pdf', PDF],
        ['image/png', 'scan.png', PNG],
        ['image/jpeg', 'photo.JPEG', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])],
        ['text/xml', 'results.xml', Buffer.from('<results><hb>140</hb></results>')],
        [
          'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
          'letter.docx',
          Buffer.from([0x50, 0x4b, 0x03, 0x04, 9, 9, 9]),
        ],
      ];
      for (const [contentType, fileName, data] of files) {
        const res = await upload(platform, { data, contentType, fileName, ubrn });
        const id = uploadedId(res);
        assert.equal(res.body, '');
        const stored = (await platform.repo.read('ErsAttachment', id))!.resource;
        assert.equal(stored.contentType, contentType);
        assert.equal(stored.fileName, fileName);
        assert.equal(stored.size, data.length);
        assert.equal(stored.referralId, ubrn);
        assert.equal(
          stored.sha256,
          (await import('node:crypto')).createHash('sha256').update(data).digest('hex'),
        );
        assert.deepEqual(Buffer.from(stored.data, 'base64'), data);
      }
      // without NHSD-eRS-Referral-ID too (it cannot be attached later: a012)
      uploadedId(await upload(platform, { data: 'free text' }));
    });

    it('a020 refuses what e-RS does not take, each in its published words', async () => {
      const ubrn = await createReferral(platform);
      const cases: [string, Parameters<typeof upload>[1], number, string][] = [
        [
          'unsupported type',
          { data: 'PK', contentType: 'application/zip', fileName: 'a.zip' },
          415,
          'INVALID_VALUE',
        ],
        [
          'JSON',
          { data: '{"a":1}', contentType: 'application/json', fileName: 'a.txt' },
          415,
          'INVALID_VALUE',
        ],
        ['no Content-Type', { data: 'text', contentType: null }, 415, 'INVALID_VALUE'],
        ['no file name', { data: 'text', fileName: null }, 422, 'MISSING_VALUE'],
        ['empty file name', { data: 'text', fileName: ' ' }, 422, 'MISSING_VALUE'],
        [
          'a path as file name',
          { data: 'text', fileName: '../etc/passwd.txt' },
          422,
          'INVALID_VALUE',
        ],
        ['no extension', { data: 'text', fileName: 'letter' }, 422, 'INVALID_VALUE'],
        ['a quote in the name', { data: 'text', fileName: 'a".txt' }, 422, 'INVALID_VALUE'],
        [
          'a 300-character name',
          { data: 'text', fileName: 'a'.repeat(296) + '.txt' },
          422,
          'INVALID_VALUE',
        ],
        [
          'extension not of the type',
          { data: PDF, contentType: 'application/pdf', fileName: 'a.txt' },
          422,
          'CONFLICTING_VALUES',
        ],
        [
          'text sent as a PDF',
          { data: 'not a pdf', contentType: 'application/pdf', fileName: 'a.pdf' },
          422,
          'CONFLICTING_VALUES',
        ],
        [
          'text sent as a PNG',
          { data: 'not a png', contentType: 'image/png', fileName: 'a.png' },
          422,
          'CONFLICTING_VALUES',
        ],
        [
          'binary sent as text',
          { data: Buffer.from([0, 1, 2, 0xff]), fileName: 'a.txt' },
          422,
          'CONFLICTING_VALUES',
        ],
        [
          'invalid UTF-8 text',
          { data: Buffer.from([0x41, 0xc3, 0x28]), fileName: 'a.txt' },
          422,
          'CONFLICTING_VALUES',
        ],
        ['an empty file', { data: Buffer.alloc(0) }, 422, 'FILE_SIZE_ERROR'],
        ['a referral id that is no UBRN', { data: 'text', ubrn: '12345' }, 422, 'INVALID_VALUE'],
        ['an unknown referral', { data: 'text', ubrn: '000000000001' }, 404, 'REC_NOT_FOUND'],
        [
          "another organisation's referral",
          { data: 'text', ubrn, token: strangerToken, ods: OTHER_ORG },
          403,
          'NO_ACCESS',
        ],
        ['no business function', { data: 'text', businessFunction: null }, 400, 'MISSING_HEADER'],
        ['no ODS code', { data: 'text', ods: null }, 400, 'MISSING_HEADER'],
        [
          'a function a020 is not for',
          { data: 'text', businessFunction: 'SERVICE_PROVIDER_ADMIN' },
          403,
          'NO_ACCESS',
        ],
        ['another organisation in the header', { data: 'text', ods: OTHER_ORG }, 403, 'NO_ACCESS'],
      ];
      const before = await platform.repo.count('ErsAttachment');
      for (const [what, opts, status, code] of cases) {
        const res = await upload(platform, opts);
        assert.equal(res.statusCode, status, `${what}: ${res.body}`);
        assertErs(res, status, code);
      }
      assert.equal(await platform.repo.count('ErsAttachment'), before, 'nothing stored');
    });

    it('a020 takes 5MB and refuses a byte more with FILE_SIZE_ERROR', async () => {
      const max = Buffer.alloc(5_242_880, 0x41);
      uploadedId(await upload(platform, { data: max, fileName: 'max.txt' }));
      const over = Buffer.alloc(5_242_881, 0x41);
      assertErs(
        await upload(platform, { data: over, fileName: 'over.txt' }),
        422,
        'FILE_SIZE_ERROR',
      );
    });

    it('a020 answers an X-Request-ID retry with the same Location and stores the file once', async () => {
      const requestId = randomUUID();
      const opts = { data: 'retried', headers: { 'x-request-id': requestId } };
      const first = uploadedId(await upload(platform, opts));
      const count = await platform.repo.count('ErsAttachment');
      assert.equal(uploadedId(await upload(platform, opts)), first);
      assert.equal(await platform.repo.count('ErsAttachment'), count);
      // the same id for another file is refused, nothing stored
      const reuse = await upload(platform, { ...opts, data: 'other content' });
      assert.equal(reuse.statusCode, 400, reuse.body);
      assert.equal(await platform.repo.count('ErsAttachment'), count);
    });

    it('a012 attaches the uploaded files as the referral letter, as the published examples do', async () => {
      const ubrn = await createReferral(platform);
      const first = uploadedId(
        await upload(platform, {
          data: PDF,
          contentType: 'application/pdf',
          fileName: 'testResult1.pdf',
          ubrn,
        }),
      );
      const second = uploadedId(
        await upload(platform, {
          data: PNG,
          contentType: 'image/png',
          fileName: 'testResult2.png',
          ubrn,
        }),
      );

      const single = await maintain(ubrn, 1, letterBody('SingleDocumentReference', [first]));
      assert.equal(single.statusCode, 200, single.body);
      assert.equal(single.headers.etag, 'W/"2"');
      let referral = single.json();
      assert.equal(referral.meta.versionId, '2');
      assert.equal(stateOf(referral), 'NOT_BOOKED');
      const docs = referral.contained.filter((c: any) => c.resourceType === 'DocumentReference');
      assert.equal(docs.length, 1);
      const att = docs[0].content[0].attachment;
      assert.equal(att.url, `Binary/${first}`);
      assert.equal(att.contentType, 'application/pdf');
      assert.equal(att.size, PDF.length);
      assert.equal(att.title, 'testResult1.pdf');
      assert.equal(docs[0].type.coding[0].code, 'REFERRER');
      const ext = (url: string) => att.extension.find((e: any) => e.url.endsWith(url));
      assert.equal(ext('AvailabilityStatus-1').valueCoding.code, 'AVAILABLE');
      assert.equal(ext('AttachedByOrganisation-1').valueReference.identifier.value, ORG);
      assert.deepEqual(referral.supportingInfo, [{ reference: `#${docs[0].id}` }]);
      const firstSubmitted = referral.extension.find((e: any) =>
        e.url.endsWith('ClinicalInfoFirstSubmitted-1'),
      ).valueDateTime;
      assert.ok(referral.extension.some((e: any) => e.url.endsWith('ClinicalInfoLastUpdated-1')));
      assert.ok(
        referral.contained.some((c: any) => c.id === 'shortlist'),
        'the shortlist stays',
      );

      const two = await maintain(
        ubrn,
        2,
        letterBody('MultipleDocumentReferences', [first, second]),
      );
      assert.equal(two.statusCode, 200, two.body);
      referral = two.json();
      const descriptions = referral.contained
        .filter((c: any) => c.resourceType === 'DocumentReference')
        .map((d: any) => d.description);
      assert.deepEqual(descriptions, [
        'First blood test results showing an anomaly in the values of xxxx',
        'Second blood test results showing an anomaly in the values of xxxx',
      ]);
      assert.equal(referral.supportingInfo.length, 2);
      assert.equal(
        referral.extension.find((e: any) => e.url.endsWith('ClinicalInfoFirstSubmitted-1'))
          .valueDateTime,
        firstSubmitted,
        'first submitted is kept',
      );
      // the referral as read (a005) carries the letter too
      const read = await ers(platform, { url: `${STU3}/ReferralRequest/${ubrn}` });
      assert.equal(read.json().supportingInfo.length, 2);

      // the published update keeps only the second file: the first is no longer the letter's
      const update = await maintain(ubrn, 3, letterBody('UpdateClinicalInfo', [second]));
      assert.equal(update.statusCode, 200, update.body);
      assert.deepEqual(update.json().supportingInfo, [
        { reference: `#DocumentReference-${second}` },
      ]);
      assertErs(await attachment(first), 403, 'NO_ACCESS');
      assert.equal((await attachment(second)).statusCode, 200);
    });

    it('a012 refuses bad letters, each field in its published words, and changes nothing', async () => {
      const ubrn = await createReferral(platform);
      const mine = uploadedId(await upload(platform, { data: 'letter', fileName: 'a.txt', ubrn }));
      const same = uploadedId(
        await upload(platform, { data: 'letter 2', fileName: 'a.txt', ubrn }),
      );
      const loose = uploadedId(await upload(platform, { data: 'loose', fileName: 'b.txt' }));
      const otherUbrn = await createReferral(platform);
      const elsewhere = uploadedId(
        await upload(platform, { data: 'other', fileName: 'c.txt', ubrn: otherUbrn }),
      );
      const ok = () => letterBody('SingleDocumentReference', [mine]);
      const edit = (f: (b: any) => void) => {
        const b = ok();
        f(b);
        return b;
      };
      const doc = (b: any) => b.parameter[0].resource;
      const cases: [string, unknown, number, string][] = [
        ['not Parameters', { resourceType: 'Bundle' }, 422, 'INVALID_FHIR_STRUCTURE'],
        [
          'parameter not an array',
          { resourceType: 'Parameters', parameter: {} },
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        ['no files', { resourceType: 'Parameters', parameter: [] }, 422, 'MISSING_VALUE'],
        [
          'an unknown parameter',
          edit((b) => (b.parameter[0].name = 'letter')),
          422,
          'UNEXPECTED_FIELD',
        ],
        [
          'a parameter that is no object',
          { resourceType: 'Parameters', parameter: [7] },
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'no DocumentReference',
          edit((b) => delete b.parameter[0].resource),
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        ['another profile', edit((b) => (doc(b).meta.profile = ['x'])), 422, 'INVALID_VALUE'],
        [
          'type not REFERRER',
          edit((b) => (doc(b).type.coding[0].code = 'PROVIDER')),
          422,
          'INVALID_CODE',
        ],
        ['no type', edit((b) => delete doc(b).type), 422, 'INVALID_CODE'],
        ['status not current', edit((b) => (doc(b).status = 'superseded')), 422, 'INVALID_VALUE'],
        [
          'indexed not a date-time',
          edit((b) => (doc(b).indexed = 'yesterday')),
          422,
          'INVALID_VALUE',
        ],
        ['indexed a date only', edit((b) => (doc(b).indexed = '2021-06-24')), 422, 'INVALID_VALUE'],
        ['description a number', edit((b) => (doc(b).description = 7)), 422, 'INVALID_VALUE'],
        [
          'description too long',
          edit((b) => (doc(b).description = 'x'.repeat(2001))),
          422,
          'INVALID_VALUE',
        ],
        ['no content', edit((b) => (doc(b).content = [])), 422, 'INVALID_FHIR_STRUCTURE'],
        [
          'two attachments',
          edit((b) => doc(b).content.push(doc(b).content[0])),
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'url not Binary/{id}',
          edit((b) => (doc(b).content[0].attachment.url = 'http://x/y')),
          422,
          'INVALID_VALUE',
        ],
        [
          'url no uuid',
          edit((b) => (doc(b).content[0].attachment.url = 'Binary/att-1')),
          422,
          'INVALID_VALUE',
        ],
        [
          'a file never uploaded',
          letterBody('SingleDocumentReference', [randomUUID()]),
          422,
          'REFERENCE_NOT_FOUND',
        ],
        [
          'a file uploaded for no referral',
          letterBody('SingleDocumentReference', [loose]),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'a file of another referral',
          letterBody('SingleDocumentReference', [elsewhere]),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'one file twice',
          letterBody('MultipleDocumentReferences', [mine, mine]),
          422,
          'DUPLICATE_FILENAME',
        ],
        [
          'two files of one name',
          letterBody('MultipleDocumentReferences', [mine, same]),
          422,
          'DUPLICATE_FILENAME',
        ],
      ];
      for (const [what, body, status, code] of cases) {
        const res = await maintain(ubrn, 1, body);
        assert.equal(res.statusCode, status, `${what}: ${res.body}`);
        assertErs(res, status, code);
      }
      assert.equal((await platform.repo.read('ReferralRequest', ubrn))!.version, 1, 'unchanged');

      // If-Match: missing 412, stale 409
      const noMatch = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.maintainReferralLetter`,
        body: ok(),
      });
      assertErs(noMatch, 412, 'MISSING_VALUE');
      assertErs(await maintain(ubrn, 7, ok()), 409, 'VERSION_MISMATCH');
      // another organisation, a provider function, a bad or unknown UBRN
      assertErs(
        await maintain(ubrn, 1, ok(), { token: strangerToken, ods: OTHER_ORG }),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await maintain(ubrn, 1, ok(), { businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await maintain('12345', 1, ok()), 400, 'INVALID_VALUE');
      assertErs(await maintain('000000000001', 1, ok()), 404, 'REC_NOT_FOUND');

      // the same letter twice: NO_CHANGES_DETECTED
      assert.equal((await maintain(ubrn, 1, ok())).statusCode, 200);
      assertErs(await maintain(ubrn, 2, ok()), 422, 'NO_CHANGES_DETECTED');

      // a cancelled referral takes no letter
      const cancelled = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${otherUbrn}/$ers.cancelReferral`,
        body: published('cancelReferral-RaisedInError.json'),
        headers: { 'if-match': 'W/"1"' },
      });
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assertErs(
        await maintain(otherUbrn, 2, letterBody('SingleDocumentReference', [elsewhere])),
        422,
        'INVALID_REQUEST_STATE',
      );
    });

    it('a012 answers an X-Request-ID retry as before without a second change', async () => {
      const ubrn = await createReferral(platform);
      const id = uploadedId(await upload(platform, { data: 'letter', ubrn }));
      const headers = { 'if-match': 'W/"1"', 'x-request-id': randomUUID() };
      const body = letterBody('SingleDocumentReference', [id]);
      const first = await maintain(ubrn, 1, body, { headers });
      const again = await maintain(ubrn, 1, body, { headers });
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(again.json(), first.json());
      assert.equal((await platform.repo.read('ReferralRequest', ubrn))!.version, 2);
    });

    it('a006 gives a letter file to the referrer and a provider of the referral, never to a stranger', async () => {
      const ubrn = await createReferral(platform);
      const id = uploadedId(
        await upload(platform, {
          data: PDF,
          contentType: 'application/pdf',
          fileName: 'example_attachment.pdf',
          ubrn,
        }),
      );
      // uploaded but not attached: nobody reads it
      assertErs(await attachment(id), 403, 'NO_ACCESS');
      assert.equal(
        (await maintain(ubrn, 1, letterBody('SingleDocumentReference', [id]))).statusCode,
        200,
      );

      const mine = await attachment(id);
      assert.equal(mine.statusCode, 200, mine.body);
      assert.equal(mine.headers['content-type'], 'application/pdf');
      assert.equal(
        mine.headers['content-disposition'],
        'attachment; filename="example_attachment.pdf"',
      );
      assert.equal(Number(mine.headers['content-length']), PDF.length);
      assert.deepEqual(mine.rawPayload, PDF);

      const stranger = {
        token: strangerToken,
        ods: OTHER_ORG,
        businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
      };
      assertErs(await attachment(id, stranger), 403, 'NO_ACCESS');
      const provider = {
        token: providerToken,
        ods: PROVIDER_ORG,
        businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
      };
      assertErs(await attachment(id, provider), 403, 'NO_ACCESS');
      await sendToProvider(ubrn);
      const theirs = await attachment(id, provider);
      assert.equal(theirs.statusCode, 200, theirs.body);
      assert.deepEqual(theirs.rawPayload, PDF);

      // a function a006 is not published for, an unknown or malformed id
      assertErs(
        await attachment(id, { businessFunction: 'SERVICE_PROVIDER_ADMIN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await attachment(randomUUID()), 404, 'REC_NOT_FOUND');
      assertErs(await attachment('att-70000-70001'), 404, 'REC_NOT_FOUND');

      // the stranger's refused look is audited against the patient
      const head = await platform.repo.audit.auditHead();
      const entries = await platform.repo.audit.readAuditEntries(
        Array.from({ length: head.seq }, (_, i) => i + 1),
      );
      assert.ok(
        entries.some(
          (e) =>
            e.record.action === 'ers.attachment.read' &&
            e.record.outcome === 'refused' &&
            e.record.org === OTHER_ORG,
        ),
        'the refusal is audited',
      );
    });

    it('a007 prints the clinical information summary of the referral and its letter as a PDF', async () => {
      const ubrn = await createReferral(platform);
      const id = uploadedId(
        await upload(platform, {
          data: PDF,
          contentType: 'application/pdf',
          fileName: 'testResult1.pdf',
          ubrn,
        }),
      );
      assert.equal(
        (await maintain(ubrn, 1, letterBody('SingleDocumentReference', [id]))).statusCode,
        200,
      );
      const cri = (extra: object = {}) =>
        ers(platform, {
          method: 'POST',
          url: `${STU3}/ReferralRequest/${ubrn}/$ers.generateCRI`,
          ...extra,
        });
      const res = await cri();
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/pdf');
      assert.match(
        String(res.headers['content-disposition']),
        new RegExp(`^attachment; filename="${ubrn}_Clinical_Information_Summary_\\d{14}\\.pdf"$`),
      );
      const pdf = res.rawPayload;
      assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
      const doc = await PDFDocument.load(pdf);
      assert.ok(doc.getPageCount() >= 1);
      const text = pdfText(pdf);
      assert.match(text, new RegExp(ubrn));
      assert.match(text, /testResult1\.pdf/);
      assert.match(text, /Blood test results showing an anomaly/);
      assert.match(text, /912 003 888|9912003888|991 200 3888/);

      assertErs(await cri({ token: strangerToken, ods: OTHER_ORG }), 403, 'NO_ACCESS');
      assertErs(await cri({ businessFunction: 'SERVICE_PROVIDER_ADMIN' }), 403, 'NO_ACCESS');
      assertErs(
        await ers(platform, {
          method: 'POST',
          url: `${STU3}/ReferralRequest/000000000001/$ers.generateCRI`,
        }),
        404,
        'REC_NOT_FOUND',
      );
      assertErs(
        await ers(platform, {
          method: 'POST',
          url: `${STU3}/ReferralRequest/abc/$ers.generateCRI`,
        }),
        400,
        'INVALID_VALUE',
      );
    });
  });
}
