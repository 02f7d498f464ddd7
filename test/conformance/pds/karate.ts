/**
 * Helpers for OpenSpine's conformance tests written from NHS England's published Karate features
 * (NHSDigital/personal-demographics-service-api, karate-tests/src/test/java): reading the copied
 * request payloads and expected error bodies, and filling their Karate placeholders.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { FIXTURES } from '../../helpers/pds-fixtures.js';

/** A fixture under test/fixtures/pds/, parsed. */
export function published<T = any>(relative: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, relative), 'utf8')) as T;
}

/**
 * Fills Karate's embedded expressions: a string value "#(name)" becomes vars[name] (a value whose
 * variable is undefined is removed, as Karate removes it); "##(name)" likewise; "#('a' + name + 'b')"
 * is the joined string.
 */
export function fill<T>(template: T, vars: Record<string, unknown>): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = /^##?\((\w+)\)$/.exec(v);
      if (m) return vars[m[1]];
      // "#('text ' + name + ' text')": string literals and variables joined with +
      const concat = /^#\((.*)\)$/.exec(v);
      if (concat) {
        return concat[1]
          .split(/\s*\+\s*(?=(?:[^']*'[^']*')*[^']*$)/)
          .map((part) => {
            const literal = /^'(.*)'$/.exec(part.trim());
            return literal ? literal[1] : String(vars[part.trim()]);
          })
          .join('');
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(walk).filter((x) => x !== undefined);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const w = walk(x);
        if (w !== undefined) out[k] = w;
      }
      return out;
    }
    return v;
  };
  return walk(template) as T;
}

/** The response is exactly the published error body (errorResponses/<name>.json) with its placeholders filled. */
export function assertPublishedError(
  res: LightMyRequestResponse,
  status: number,
  name: string,
  vars: Record<string, unknown> = {},
): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
  assert.deepEqual(res.json(), fill(published(`errorResponses/${name}.json`), vars));
}

/** Karate's utils.validateResponseHeaders: the request and correlation ids come back. */
export function assertEchoedIds(res: LightMyRequestResponse, requestId: string): void {
  assert.equal(res.headers['x-request-id'], requestId);
}

/**
 * A refusal by role or scope: the published error body exactly, except that OpenSpine's diagnostics
 * add, after PDS's sentence, the reason naming the activity refused (the platform's route x role
 * matrix recognises a policy refusal by it: src/services/pds/published-errors.ts refusalDiagnostics).
 */
export function assertPublishedRefusal(
  res: LightMyRequestResponse,
  status: number,
  name: string,
  vars: { display: string; diagnostics: string },
): void {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json();
  const diagnostics: string = body.issue?.[0]?.diagnostics ?? '';
  assert.ok(diagnostics.startsWith(`${vars.diagnostics} (`), diagnostics);
  assert.match(diagnostics, /is not permitted to perform '[a-z.-]+'\)$/);
  const expected = fill(published<any>(`errorResponses/${name}.json`), vars);
  assert.equal(expected.issue[0].diagnostics, vars.diagnostics, 'the published sentence');
  expected.issue[0].diagnostics = diagnostics;
  assert.deepEqual(body, expected);
}
