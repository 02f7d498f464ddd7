/**
 * Merge: one NHS Number superseded by another when two records turn out to be one person. Both
 * histories stay; the superseded record carries a replaced-by link, so reads of it lead to the survivor.
 */
import type { Parameters, Patient } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';
import type { RequestContext } from '../../context.js';
import { writeOnce } from '../write-once.js';
import {
  answerAsBefore,
  checkNhsNumber,
  type PatientWriteDeps,
  type VersionedPatient,
} from './patient-answers.js';
import { mergeEvents } from './patient-events.js';
import { indexPatient } from './patient-index.js';
import { PATIENT, replacedBy } from './patient-model.js';
import { patientForRead } from './patient-views.js';

/** Supersedes the source number by the target; both histories stay, reads of the source lead to the target. */
export async function mergePatients(
  { repo, audit }: PatientWriteDeps,
  ctx: RequestContext,
  body: unknown,
): Promise<VersionedPatient> {
  const params = body as Parameters;
  if (params?.resourceType !== 'Parameters' || !Array.isArray(params.parameter)) {
    throw new FhirError(
      400,
      'INVALID_VALUE',
      "Invalid value - the body must be a Parameters resource with 'source-patient-identifier' and 'target-patient-identifier'",
    );
  }
  const pick = (name: string) => {
    // the body is untrusted JSON: every level is checked before it is used
    const p = params.parameter!.find(
      (x) =>
        !!x &&
        typeof x === 'object' &&
        (x.name === `${name}-patient-identifier` || x.name === `${name}-patient`),
    );
    const reference = p?.valueReference?.reference;
    const value: unknown =
      p?.valueIdentifier?.value ??
      (typeof reference === 'string' ? reference.split('/').pop() : reference);
    if (value === undefined || value === null || value === '')
      throw new FhirError(400, 'MISSING_VALUE', `Missing value - '${name}-patient-identifier'`);
    if (typeof value !== 'string')
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - '${name}-patient-identifier' must be an NHS Number`,
      );
    return checkNhsNumber(value);
  };
  const sourceId = pick('source'),
    targetId = pick('target');
  return writeOnce(repo, ctx, {
    answers: PATIENT,
    asBefore: (earlier) => answerAsBefore(audit, ctx, 'pds.merge', earlier),
    write: async ({ record, twin }) => {
      if (sourceId === targetId)
        throw new FhirError(
          400,
          'INVALID_UPDATE',
          'Invalid update with error - a record cannot be merged into itself',
        );
      const [source, target] = await Promise.all([
        repo.read(PATIENT, sourceId),
        repo.read(PATIENT, targetId),
      ]);
      if (!source)
        throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Patient '${sourceId}' not found`);
      if (!target)
        throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Patient '${targetId}' not found`);
      const sourceSurvivor = replacedBy(source.resource);
      if (sourceSurvivor) {
        // superseded a moment ago by a twin of this very request: answer as it did
        const answered = await twin();
        if (answered) return answered;
        throw new FhirError(
          400,
          'INVALID_UPDATE',
          `Invalid update with error - '${sourceId}' is already superseded by '${sourceSurvivor}'`,
        );
      }
      if (replacedBy(target.resource))
        throw new FhirError(
          400,
          'INVALID_UPDATE',
          `Invalid update with error - '${targetId}' is superseded and cannot survive a merge`,
        );
      const ref = (id: string) => ({
        reference: `Patient/${id}`,
        identifier: { system: NHS_NUMBER_SYSTEM, value: id },
      });
      const superseded: Patient = {
        ...source.resource,
        link: [{ type: 'replaced-by', other: ref(targetId) }],
      };
      // the survivor also answers to every number the source had absorbed before
      const absorbed = (source.resource.link ?? []).filter(
        (l: { type?: string }) => l.type === 'replaces',
      );
      const survivor: Patient = {
        ...target.resource,
        link: [
          ...(target.resource.link ?? []),
          { type: 'replaces', other: ref(sourceId) },
          ...absorbed,
        ],
      };
      const saved = await repo.commit({
        resources: [
          {
            type: PATIENT,
            id: sourceId,
            expectedVersion: source.version,
            resource: superseded,
            index: indexPatient(superseded),
          },
          {
            type: PATIENT,
            id: targetId,
            expectedVersion: target.version,
            resource: survivor,
            index: indexPatient(survivor),
          },
        ],
        audit: [
          auditRecord(ctx, 'pds.merge', targetId, 'success', { superseded: sourceId }),
          auditRecord(ctx, 'pds.merge', sourceId, 'superseded', { survivor: targetId }),
        ],
        request: record({
          status: 200,
          resourceType: PATIENT,
          resourceId: targetId,
          version: target.version + 1,
        }),
        messages: mergeEvents(targetId, sourceId, target.version + 1, new Date().toISOString()),
      });
      return { patient: patientForRead(saved[1].resource), version: saved[1].version };
    },
  });
}
