/**
 * Generated from the route table and the policy table: every protected route is called with a token
 * of every role, and of an application holding each single scope, and each cell must be allowed or
 * denied exactly as the policy says. A route added without an activity cannot start (see
 * access-control.test.ts); a route added with one is covered here without anyone writing a test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { mintApplicationToken, mintPatientToken } from '../src/security/embedded-idp.js';
import type { RouteAccessEntry } from '../src/security/access-control.js';
import {
  ACTIVITIES,
  PATIENT_ROLE,
  ROLES,
  roleAllows,
  type Activity,
} from '../src/security/policy.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import { commitPatients, currentJane, NHS } from './helpers/pds-fixtures.js';

const RBAC_REFUSAL = /is not permitted to perform/;

function urlFor(route: RouteAccessEntry): string {
  const path = route.url.replace(':nhsNumber', NHS.jane).replace(/:[A-Za-z]+/g, randomUUID());
  // the route names its patient where it says it does, so patient tokens are tried on their own record
  const query = new URLSearchParams({ patient: NHS.jane });
  if (route.patientQuery) query.set(route.patientQuery, NHS.jane);
  return `${path}?${query}`;
}

function refusedByPolicy(res: LightMyRequestResponse): boolean {
  if (res.statusCode !== 403) return false;
  const diagnostics = res.json()?.issue?.[0]?.diagnostics ?? '';
  // PDS words a patient's refusal as it publishes (src/services/pds/published-errors.ts PATIENT_ACCESS_DENIED)
  return (
    RBAC_REFUSAL.test(diagnostics) ||
    /Patients may only access their own record|See documentation regarding Patient access restrictions/.test(
      diagnostics,
    )
  );
}

// the matrix does not depend on the store; one store keeps the suite quick
const [kind] = await storesUnderTest();
// HEAD routes are Fastify's mirrors of GET routes (same config and hooks) and carry no body to read
const protectedRoutes = (platform: TestPlatform) =>
  platform.app.routeTable.filter((r) => !r.public && r.method !== 'HEAD');

describe(`route x role matrix (${kind})`, () => {
  let platform: TestPlatform;
  before(async () => {
    platform = await startTestPlatform(kind, {
      config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
    });
    await commitPatients(platform.repo, [currentJane()]);
  });
  after(() => platform.close());

  async function call(route: RouteAccessEntry, token: string): Promise<LightMyRequestResponse> {
    const body =
      route.method === 'POST' || route.method === 'PATCH' || route.method === 'PUT'
        ? {}
        : undefined;
    return platform.request({ method: route.method, url: urlFor(route), token, body });
  }

  it('covers every protected route of the platform', () => {
    const protectedRoutes = platform.app.routeTable.filter((r) => !r.public);
    assert.ok(
      protectedRoutes.length >= 10,
      `expected the PDS and security routes, found ${protectedRoutes.length}`,
    );
    for (const r of protectedRoutes)
      assert.ok(
        r.activity && Object.hasOwn(ACTIVITIES, r.activity),
        `${r.method} ${r.url} has a known activity`,
      );
  });

  it('each role is allowed or denied each route exactly as the policy table says', async () => {
    const failures: string[] = [];
    let cells = 0;
    for (const role of Object.keys(ROLES)) {
      const token =
        role === PATIENT_ROLE
          ? await mintPatientToken(platform.key, { nhsNumber: NHS.jane, audience: 'openspine' })
          : await platform.token(role, { user: `matrix-${role}` });
      for (const route of protectedRoutes(platform)) {
        const activity = route.activity as Activity;
        // patients additionally reach only routes that name the patient (their own record)
        const expected =
          roleAllows(role, activity) && (role !== PATIENT_ROLE || route.patientScoped);
        const res = await call(route, token);
        cells++;
        if (res.statusCode >= 500)
          failures.push(`${role} ${route.method} ${route.url}: ${res.statusCode}`);
        if (refusedByPolicy(res) === expected)
          failures.push(
            `${role} ${route.method} ${route.url} (${activity}): expected ${expected ? 'allowed' : 'denied'}, got ${res.statusCode} ${res.body.slice(0, 160)}`,
          );
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${cells} cells disagree with the policy`);
  });

  it('an application is allowed exactly the routes of its scopes', async () => {
    const failures: string[] = [];
    const grantable = (Object.keys(ACTIVITIES) as Activity[]).filter(
      (a) => ACTIVITIES[a].applicationGrantable,
    );
    for (const scope of grantable) {
      const token = await mintApplicationToken(platform.key, {
        clientId: `matrix-app-${scope}`,
        name: 'Matrix app',
        org: 'Y12345',
        scopes: [scope],
        audience: 'openspine',
      });
      for (const route of protectedRoutes(platform)) {
        const res = await call(route, token);
        if (res.statusCode >= 500)
          failures.push(`${scope} ${route.method} ${route.url}: ${res.statusCode}`);
        if (refusedByPolicy(res) === (route.activity === scope))
          failures.push(
            `app[${scope}] ${route.method} ${route.url}: got ${res.statusCode} ${res.body.slice(0, 160)}`,
          );
      }
    }
    assert.deepEqual(failures, [], failures.join('\n'));
  });
});
