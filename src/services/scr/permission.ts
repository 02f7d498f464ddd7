import type { Parameters } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { requireNhsNumber } from '../../fhir/nhs-number.js';
import { parametersOf } from '../../fhir/parameters.js';
import type { RequestContext } from '../../context.js';
import { writeOnce } from '../write-once.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { resolvePatient } from './consent-patient.js';
import { permissionId, SCR_PERMISSION_TYPE, type ScrPermission } from './consent-store.js';

/**
 * NHS England's SCR-ACSPermission code system, as the published SCR API uses it
 * (SetPermission.json, DocumentReference.securityLabel).
 */
export const PERMISSION_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission';
/** Yes: the patient allowed this view; No: refused it; Ask: ask the patient each time (no standing permission). */
export type PermissionCode = 'Yes' | 'No' | 'Ask';
const PERMISSION_CODES: readonly PermissionCode[] = ['Yes', 'No', 'Ask'];

type Part = { name?: unknown; [value: string]: unknown };

export interface PermissionRequest {
  nhsNumber: string;
  code: PermissionCode;
}

/**
 * The published SCR API's $setPermission body: one 'setPermissions' parameter with the parts
 * 'nhsNumber' (valueString) and 'permissionCode' (valueCoding in the SCR-ACSPermission system).
 */
export function parseSetPermission(body: unknown): PermissionRequest {
  const sets = parametersOf(body).filter((p) => p.name === 'setPermissions');
  if (sets.length === 0)
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - parameter 'setPermissions' is required",
    );
  if (sets.length > 1)
    throw new FhirError(
      400,
      'TOO_MANY_VALUES_SUBMITTED',
      "Too many values submitted - give one 'setPermissions' parameter",
    );
  const parts = (Array.isArray(sets[0].part) ? sets[0].part : []).filter(
    (p): p is Part => !!p && typeof p === 'object',
  );
  const nhsPart = parts.find((p) => p.name === 'nhsNumber');
  const nhs =
    nhsPart?.valueString ?? (nhsPart?.valueIdentifier as { value?: unknown } | undefined)?.value;
  // the published answer to a missing NHS Number is an 'value' issue, not 'required'
  if (nhs === undefined)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      "Missing value for Parameter.Part 'nhsNumber' of 'setPermissions'",
    );
  requireNhsNumber(nhs);
  const codings = parts.filter((p) => p.name === 'permissionCode');
  if (codings.length > 1)
    throw new FhirError(
      400,
      'TOO_MANY_VALUES_SUBMITTED',
      `Exactly 1 Parameter.Part named 'permissionCode' with valueCoding.system ${PERMISSION_SYSTEM} expected`,
    );
  const coding = codings[0]?.valueCoding as { system?: unknown; code?: unknown } | undefined;
  if (!coding)
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - part 'permissionCode' (valueCoding) of 'setPermissions' is required",
    );
  if (
    coding.system !== PERMISSION_SYSTEM ||
    !PERMISSION_CODES.includes(coding.code as PermissionCode)
  ) {
    throw new FhirError(
      400,
      'UNSUPPORTED_VALUE',
      `Unsupported value - 'permissionCode' must be ${PERMISSION_SYSTEM} ${PERMISSION_CODES.join(', ')}`,
    );
  }
  return { nhsNumber: nhs as string, code: coding.code as PermissionCode };
}

/** The route's patient extractor, so the platform makes the legitimate-relationship check before the handler. */
export const permissionPatient = (body: unknown): string => parseSetPermission(body).nhsNumber;

/**
 * Records that the patient allowed ('Yes'), refused ('No') or must be asked each time ('Ask') about
 * this user's view of their SCR, for the
 * rest of the user's session (the token's expiry), on the access basis the platform established.
 * Only a staff user in a session gives it: a patient needs no permission to see their own record,
 * and an application has no clinician present to ask. A retry (same X-Request-ID, same request)
 * gets the permission it recorded, and records nothing again.
 */
export async function recordPermission(
  repo: ResourceStore,
  ctx: RequestContext,
  request: PermissionRequest,
): Promise<ScrPermission> {
  const principal = ctx.principal!;
  if (principal.kind !== 'user') {
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      'Permission to view is recorded by a clinician for their own session; patients and applications cannot record it',
    );
  }
  return writeOnce(repo, ctx, {
    answers: SCR_PERMISSION_TYPE,
    asBefore: ({ stored }) => stored.resource,
    write: async ({ record, twin }) => {
      const nhs = await resolvePatient(repo, request.nhsNumber);
      const id = permissionId(nhs, principal.userId);
      const now = new Date();
      const permission: ScrPermission = {
        resourceType: SCR_PERMISSION_TYPE,
        id,
        patient: nhs,
        userId: principal.userId,
        org: principal.org,
        code: request.code,
        recorded: now.toISOString(),
        expires: new Date(principal.expiresAt * 1000).toISOString(),
      };
      const detail = {
        code: request.code,
        basis: ctx.accessBasis ?? null,
        expires: permission.expires,
        ...(nhs !== request.nhsNumber ? { requested: request.nhsNumber } : {}),
      };
      for (let attempt = 1; ; attempt++) {
        const existing = await repo.read(SCR_PERMISSION_TYPE, id);
        const version = (existing?.version ?? 0) + 1;
        try {
          await repo.commit({
            resources: [
              {
                type: SCR_PERMISSION_TYPE,
                id,
                expectedVersion: version - 1,
                resource: permission as unknown as Record<string, any>,
                index: [{ param: 'patient', value: nhs }],
              },
            ],
            audit: [auditRecord(ctx, 'scr.view', nhs, 'permission-recorded', detail)],
            request: record({
              status: 200,
              resourceType: SCR_PERMISSION_TYPE,
              resourceId: id,
              version,
            }),
          });
          return permission;
        } catch (err) {
          // any other refusal, or the last, goes to writeOnce (which answers a twin that won)
          if (!(err instanceof VersionConflictError) || attempt >= 3) throw err;
          // a twin of this request (same X-Request-ID) may have committed first: answer as it did
          const answered = await twin();
          if (answered) return answered;
          // else the same user recorded one at the same moment (two windows): the later answer stands
        }
      }
    },
  });
}

export function permissionResponse(p: ScrPermission, basis: string | undefined): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      {
        name: 'setPermissions',
        part: [
          { name: 'nhsNumber', valueString: p.patient },
          { name: 'permissionCode', valueCoding: { system: PERMISSION_SYSTEM, code: p.code } },
          { name: 'expires', valueDateTime: p.expires },
          ...(basis ? [{ name: 'accessBasis', valueCode: basis }] : []),
        ],
      },
    ],
  };
}
