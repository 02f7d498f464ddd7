/**
 * The published business functions of an endpoint, on top of the shared header check
 * (parseErsCaller: headers present, the function allows the route's activity, the ODS code is the
 * token's organisation). Some endpoints publish a narrower list than the activity's functions (a004
 * names four, a040 one), so each route also names its published list; and the caller's role must
 * grant the function (businessFunctionsOfRole: what a030 lists), so a role that a030 says has no
 * such function cannot act in it. Either refusal is worded as the proxy words it (403, "User does
 * not have the required Business Function at the specified Organisation.").
 */
import type { FastifyRequest } from 'fastify';
import type { Activity } from '../../security/policy.js';
import { ersError } from './ers-errors.js';
import { businessFunctionsOfRole } from './r4-business-functions.js';
import { parseErsCaller, type ErsCaller } from './referral-rules.js';

export const REFERRERS = ['REFERRING_CLINICIAN', 'REFERRING_CLINICIAN_ADMIN'] as const;
export const CLINICAL_FUNCTIONS = [
  ...REFERRERS,
  'SERVICE_PROVIDER_CLINICIAN',
  'SERVICE_PROVIDER_CLINICIAN_ADMIN',
] as const;

export function publishedCaller(
  req: FastifyRequest,
  activity: Activity,
  published: readonly string[],
  oboAllowed: boolean,
): ErsCaller {
  const caller = parseErsCaller(req.headers, activity, req.ctx.principal, oboAllowed);
  const role = req.ctx.principal?.role ?? '';
  if (
    !published.includes(caller.businessFunction) ||
    !businessFunctionsOfRole(role).includes(caller.businessFunction)
  )
    throw ersError(
      403,
      'forbidden',
      'NO_ACCESS',
      'User does not have the required Business Function at the specified Organisation.',
    );
  return caller;
}
