/** An in-process platform with the EPS actors' tokens and a client bound to it. */
import { randomUUID } from 'node:crypto';
import { startTestPlatform, type TestPlatform } from './platform.js';
import type { StoreKind } from './stores.js';
import { EpsClient, PRESCRIBER_USER, type Send } from './eps-client.js';
import { GP_ORG, OTHER_PHARMACY, PHARMACY } from './eps-prescribing.js';

export interface EpsPlatform {
  platform: TestPlatform;
  eps: EpsClient;
  close(): Promise<void>;
}

export function injectSend(platform: TestPlatform): Send {
  return async ({ method, url, body, token, requestId }) => {
    const headers: Record<string, string> = {
      'x-request-id': requestId ?? randomUUID(),
      authorization: `Bearer ${token}`,
    };
    if (body !== undefined) headers['content-type'] = 'application/fhir+json';
    const res = await platform.app.inject({
      method: method as 'GET',
      url,
      headers,
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.statusCode,
      body: res.body ? JSON.parse(res.body) : undefined,
      headers: res.headers,
    };
  };
}

export async function startEpsPlatform(kind: StoreKind): Promise<EpsPlatform> {
  const platform = await startTestPlatform(kind);
  const tokens = {
    prescriber: await platform.token('R8000', { user: PRESCRIBER_USER, org: GP_ORG }),
    pharmacy: await platform.token('R8003', { user: 'pharmacist-1', org: PHARMACY }),
    otherPharmacy: await platform.token('R8003', { user: 'pharmacist-2', org: OTHER_PHARMACY }),
  };
  const eps = await EpsClient.forRepo(injectSend(platform), platform.repo, tokens);
  return { platform, eps, close: () => platform.close() };
}
