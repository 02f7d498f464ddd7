/** For EPS tests against `openspine serve` child processes: an HTTP client and a store prepared for them. */
import { randomUUID } from 'node:crypto';
import { loadOrCreateSigningKey, mintToken } from '../../src/security/embedded-idp.js';
import { addPrescriberKey } from '../../src/services/eps/prescriber-keys.js';
import { openRepository } from '../../src/store/open.js';
import type { StoreTarget } from './child-server.js';
import { PRESCRIBER_USER, type Actors, type Send } from './eps-client.js';
import {
  addPatient,
  GP_ORG,
  newKeyPair,
  OTHER_PHARMACY,
  PHARMACY,
  type PrescriberKeyPair,
} from './eps-prescribing.js';
import { isolatedStoreConfig, type StoreKind } from './stores.js';

/** Sends EPS requests over HTTP to whichever server `base()` names at the time. */
export function httpSend(base: () => string): Send {
  return async ({ method, url, body, token }) => {
    const headers: Record<string, string> = {
      'x-request-id': randomUUID(),
      authorization: `Bearer ${token}`,
    };
    if (body !== undefined) headers['content-type'] = 'application/fhir+json';
    const res = await fetch(base() + url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : undefined,
      headers: Object.fromEntries(res.headers),
    };
  };
}

export interface EpsStore {
  target: StoreTarget;
  cleanup: () => Promise<void>;
  patients: string[];
  key: PrescriberKeyPair;
  tokens: Actors;
}

/**
 * An isolated store with `patients` unnominated patients and a registered prescriber key, and the
 * actors' tokens for it.
 */
export async function prepareEpsStore(kind: StoreKind, patients: number): Promise<EpsStore> {
  const { config: target, cleanup } = await isolatedStoreConfig(kind);
  const key = await newKeyPair();
  const added: string[] = [];
  const repo = await openRepository(target);
  try {
    for (let i = 0; i < patients; i++) added.push(await addPatient(repo, { nominated: null }));
    await addPrescriberKey(repo, PRESCRIBER_USER, key.publicJwk);
  } finally {
    await repo.close();
  }
  const signing = await loadOrCreateSigningKey(target.dataDir);
  const token = (role: string, user: string, org: string) =>
    mintToken(signing, { userId: user, role, org, audience: 'openspine' });
  const tokens = {
    prescriber: await token('R8000', PRESCRIBER_USER, GP_ORG),
    pharmacy: await token('R8003', 'pharmacist-1', PHARMACY),
    otherPharmacy: await token('R8003', 'pharmacist-2', OTHER_PHARMACY),
  };
  return { target, cleanup, patients: added, key, tokens };
}
