/**
 * The demo's working day is made by calling the platform's own APIs in-process (Fastify inject:
 * real routing, token check, RBAC, relationships, audit) as the demo users, with tokens minted by
 * the platform's signing key, as `openspine token` mints them. Nothing is written around the rules.
 * Each call's X-Request-ID is derived from the step's name, so the same seed sends the same ids.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { mintPatientToken, mintToken, type SigningKey } from '../../security/embedded-idp.js';
import type { DemoStaff } from './demo-cast.js';

export interface ApiAnswer {
  status: number;
  body: any;
  raw: Buffer;
  headers: Record<string, unknown>;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** Statuses that are an answer the step expects (default: any 2xx). */
  expect?: number[];
}

/** A name-based UUID (version 5 layout over SHA-1) for a step of the demo. */
export function demoUuid(name: string): string {
  const h = createHash('sha1').update(`openspine-demo-workday:${name}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class DemoCallError extends Error {}

/** One caller: a staff user's role profile, a patient's NHS login, or a practice system. */
export class DemoCaller {
  constructor(
    private readonly api: DemoApi,
    private readonly token: string,
    readonly name: string,
  ) {}

  async call(step: string, opts: CallOptions): Promise<ApiAnswer> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      'x-request-id': this.api.requestId(`${this.name}:${step}`),
      ...opts.headers,
    };
    const isBuffer = Buffer.isBuffer(opts.body);
    if (opts.body !== undefined)
      headers['content-type'] ??= opts.contentType ?? 'application/fhir+json';
    const res = await this.api.app.inject({
      method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
      url: opts.url,
      headers,
      payload:
        opts.body === undefined
          ? undefined
          : isBuffer
            ? (opts.body as Buffer)
            : JSON.stringify(opts.body),
    });
    let body: any;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    const ok = opts.expect ? opts.expect.includes(res.statusCode) : res.statusCode < 300;
    if (!ok)
      throw new DemoCallError(
        `demo data: ${this.name} ${step} (${opts.method ?? 'GET'} ${opts.url}) answered ${res.statusCode}: ${res.body.slice(0, 500)}`,
      );
    return { status: res.statusCode, body, raw: res.rawPayload, headers: res.headers };
  }
}

export class DemoApi {
  private readonly used = new Map<string, number>();
  constructor(
    readonly app: FastifyInstance,
    private readonly key: SigningKey,
    private readonly audience: string,
    private readonly seed: number,
  ) {}

  /** A distinct id for each step (a step's name used twice gets a counter). */
  requestId(step: string): string {
    const n = (this.used.get(step) ?? 0) + 1;
    this.used.set(step, n);
    return demoUuid(`${this.seed}:${step}:${n}`);
  }

  async staff(user: DemoStaff): Promise<DemoCaller> {
    const token = await mintToken(this.key, {
      userId: user.id,
      role: user.role,
      org: user.org,
      name: user.name,
      audience: this.audience,
      ttlSeconds: 600,
    });
    return new DemoCaller(this, token, user.id);
  }

  /** A system acting for an organisation with no demo user (the old practice's clinical system). */
  async system(id: string, role: string, org: string): Promise<DemoCaller> {
    const token = await mintToken(this.key, {
      userId: id,
      role,
      org,
      audience: this.audience,
      ttlSeconds: 600,
    });
    return new DemoCaller(this, token, id);
  }

  async patient(nhsNumber: string): Promise<DemoCaller> {
    const token = await mintPatientToken(this.key, {
      nhsNumber,
      audience: this.audience,
      ttlSeconds: 600,
    });
    return new DemoCaller(this, token, `patient-${nhsNumber}`);
  }
}
