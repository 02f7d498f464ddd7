/**
 * A simulated GP practice clinical system: a real HTTP client of a listening platform (fetch over
 * TCP, its own bearer token for its ODS code, a fresh X-Request-ID per call), doing what a practice
 * does in GP2GP: update the registration on PDS, find transfers, send a record with chunked
 * attachments, download and verify one, acknowledge it. Nothing in it reaches into the platform.
 */
import { createHash, randomUUID } from 'node:crypto';

export const GP2GP = '/gp2gp/FHIR/R4';
export const PDS_PATH = '/personal-demographics/FHIR/R4';
export const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
export const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** An attachment as the sending system holds it. */
export interface LocalAttachment {
  id: string;
  contentType: string;
  data: Buffer;
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

export class PracticeSystem {
  constructor(
    readonly ods: string,
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call(
    method: string,
    path: string,
    opts: {
      body?: unknown;
      raw?: Buffer;
      contentType?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      'x-request-id': randomUUID(),
      ...opts.headers,
    };
    let body: BodyInit | undefined;
    if (opts.raw) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      body = opts.raw as unknown as BodyInit;
    } else if (opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/fhir+json';
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  /** PDS: registers the patient with this practice (the new practice updates the GP on PDS). */
  async registerOnPds(nhsNumber: string): Promise<Reply> {
    const read = await this.call('GET', `${PDS_PATH}/Patient/${nhsNumber}`);
    if (read.status !== 200) return read;
    return this.call('PATCH', `${PDS_PATH}/Patient/${nhsNumber}`, {
      // the GP entry's id first, as PDS requires ("no id or url found for path with root ...",
      // NHSDigital/personal-demographics-service-api replaceErrors.feature)
      body: {
        patches: [
          {
            op: 'test',
            path: '/generalPractitioner/0/id',
            value: read.body?.generalPractitioner?.[0]?.id,
          },
          { op: 'replace', path: '/generalPractitioner/0/identifier/value', value: this.ods },
        ],
      },
      contentType: 'application/json-patch+json',
      headers: { 'if-match': read.headers.get('etag')! },
    });
  }

  /** Transfers matching the query (always restricted by the platform to this practice's own). */
  async findTransfers(query: Record<string, string>): Promise<any[]> {
    const res = await this.call('GET', `${GP2GP}/Task?${new URLSearchParams(query)}`);
    if (res.status !== 200)
      throw new Error(`search failed ${res.status}: ${res.text.slice(0, 300)}`);
    return (res.body.entry ?? []).map((e: any) => e.resource);
  }

  /** The old practice's work queue: transfers it owns that wait for it to send. */
  workQueue(): Promise<any[]> {
    return this.findTransfers({ owner: this.ods, status: 'requested' });
  }

  task(id: string): Promise<Reply> {
    return this.call('GET', `${GP2GP}/Task/${id}`);
  }

  requestRecord(nhsNumber: string, oldPractice: string): Promise<Reply> {
    return this.call('POST', `${GP2GP}/Task`, {
      body: {
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        for: { identifier: { system: NHS_SYSTEM, value: nhsNumber } },
        owner: { identifier: { system: ODS, value: oldPractice } },
      },
    });
  }

  /** $send: the EHR Bundle and the manifest of the attachments that will follow in chunks of chunkSize. */
  sendRecord(
    taskId: string,
    ehr: unknown,
    attachments: LocalAttachment[],
    chunkSize: number,
    manifestOverride: Partial<Record<'size' | 'sha256', number | string>> = {},
  ): Promise<Reply> {
    return this.call('POST', `${GP2GP}/Task/${taskId}/$send`, {
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'ehr', resource: ehr },
          ...attachments.map((a) => ({
            name: 'attachment',
            part: [
              { name: 'id', valueString: a.id },
              { name: 'contentType', valueCode: a.contentType },
              { name: 'size', valueInteger: manifestOverride.size ?? a.data.length },
              { name: 'sha256', valueString: manifestOverride.sha256 ?? sha256(a.data) },
              { name: 'chunkSize', valueInteger: chunkSize },
            ],
          })),
        ],
      },
    });
  }

  putChunk(
    taskId: string,
    attachmentId: string,
    index: number,
    data: Buffer,
    checksum = sha256(data),
  ): Promise<Reply> {
    return this.call('PUT', `${GP2GP}/Task/${taskId}/attachment/${attachmentId}/${index}`, {
      raw: data,
      headers: { 'x-chunk-sha256': checksum },
    });
  }

  /** Uploads every chunk of an attachment (except those in `skip`); returns the last reply. */
  async uploadAttachment(
    taskId: string,
    a: LocalAttachment,
    chunkSize: number,
    skip: number[] = [],
  ): Promise<Reply> {
    let last: Reply | undefined;
    for (let i = 0, at = 0; at < a.data.length; i++, at += chunkSize) {
      if (skip.includes(i)) continue;
      last = await this.putChunk(taskId, a.id, i, a.data.subarray(at, at + chunkSize));
      if (last.status !== 200) return last;
    }
    return last!;
  }

  getEhr(taskId: string): Promise<Reply> {
    return this.call('GET', `${GP2GP}/Task/${taskId}/$ehr`);
  }

  /** Streams an attachment down, hashing as it goes (never holds the whole file). */
  async download(
    taskId: string,
    attachmentId: string,
  ): Promise<{ status: number; size: number; sha256: string; headers: Headers; text?: string }> {
    const res = await fetch(`${this.baseUrl}${GP2GP}/Task/${taskId}/attachment/${attachmentId}`, {
      headers: { authorization: `Bearer ${this.token}`, 'x-request-id': randomUUID() },
    });
    if (res.status !== 200)
      return {
        status: res.status,
        size: 0,
        sha256: '',
        headers: res.headers,
        text: await res.text(),
      };
    const hash = createHash('sha256');
    let size = 0;
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(piece);
      size += piece.length;
    }
    return { status: res.status, size, sha256: hash.digest('hex'), headers: res.headers };
  }

  acknowledge(taskId: string, outcome: 'accepted' | 'rejected', reason?: string): Promise<Reply> {
    return this.call('POST', `${GP2GP}/Task/${taskId}/$acknowledge`, {
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'outcome', valueCode: outcome },
          ...(reason ? [{ name: 'reason', valueCode: reason }] : []),
        ],
      },
    });
  }
}

/** A small GP2GP EHR Bundle about a patient, with a DocumentReference per attachment. */
export function ehrBundle(nhsNumber: string, attachments: LocalAttachment[] = []): any {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: 'urn:uuid:' + randomUUID(),
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: NHS_SYSTEM, value: nhsNumber }],
          name: [{ family: 'Smith' }],
        },
      },
      {
        fullUrl: 'urn:uuid:' + randomUUID(),
        resource: {
          resourceType: 'Condition',
          code: { text: 'Asthma' },
          subject: { identifier: { system: NHS_SYSTEM, value: nhsNumber } },
        },
      },
      ...attachments.map((a) => ({
        fullUrl: 'urn:uuid:' + randomUUID(),
        resource: {
          resourceType: 'DocumentReference',
          status: 'current',
          content: [{ attachment: { id: a.id, contentType: a.contentType, size: a.data.length } }],
        },
      })),
    ],
  };
}
