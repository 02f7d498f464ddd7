/**
 * Birth registration (POST /Patient): a new record under a newly allocated, never-used NHS Number,
 * refused with PDS's published demographic-match answer when the person seems to be held already.
 * The refusal is shared with $process-birth-details (birth-details-service.ts), which answers alike.
 */
import type { OperationOutcome, Patient } from 'fhir/r4.js';
import { randomInt } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';
import { randomSyntheticNhsNumber } from '../../fhir/nhs-number.js';
import type { RequestContext } from '../../context.js';
import { writeOnce } from '../write-once.js';
import { VersionConflictError } from '../../store/errors.js';
import type { Repository } from '../../store/repository.js';
import { answerAsBefore, type PatientWriteDeps, type VersionedPatient } from './patient-answers.js';
import { birthEvents } from './patient-events.js';
import { indexPatient } from './patient-index.js';
import { PATIENT, SECURITY_LABEL_SYSTEM } from './patient-model.js';
import { validatePatient } from './patient-rules.js';
import { patientForRead } from './patient-views.js';
import { publishedOutcome, type PublishedIssue } from './published-errors.js';
import { trace } from './trace.js';

/**
 * A new record refused because its demographics are already held (status 200), exactly as NHS England
 * publishes it (karate-tests mocks/stubs/postPatientResponses/SINGLE_MATCH_FOUND.json and
 * MULTIPLE_MATCHES_FOUND.json, answered by POST /Patient and by $process-birth-details alike).
 */
export const DEMOGRAPHIC_MATCH = {
  single: (nhs: string): PublishedIssue => ({
    code: 'SINGLE_MATCH',
    display: 'Single match found',
    issueCode: 'value',
    diagnostics: `Unable to create new patient. NHS number ${nhs} found for supplied demographic data.`,
  }),
  multiple: (): PublishedIssue => ({
    code: 'MULTIPLE_MATCHES',
    display: 'Multiple matches found',
    issueCode: 'value',
    diagnostics:
      'Unable to create new patient. Multiple matches found for supplied demographic data.',
  }),
};

/** A birth registration: the record made, or the demographic match that refused it (status 200). */
export type Registration =
  { created: true; patient: VersionedPatient } | { created: false; outcome: OperationOutcome };

function nhsIdentifier(nhs: string) {
  return [
    {
      system: NHS_NUMBER_SYSTEM,
      value: nhs,
      extension: [
        {
          url: 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus',
          valueCodeableConcept: {
            coding: [
              {
                system: 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-NHSNumberVerificationStatus',
                version: '1.0.0',
                code: '01',
                display: 'Number present and verified',
              },
            ],
          },
        },
      ],
    },
  ];
}

/** Birth registration: a new record under a newly allocated, never-used NHS Number. */
export async function registerPatient(
  { repo, audit }: PatientWriteDeps,
  ctx: RequestContext,
  body: unknown,
): Promise<Registration> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new FhirError(400, 'INVALID_VALUE', 'Invalid value - the body must be a Patient');
  return writeOnce<Registration, Patient>(repo, ctx, {
    answers: PATIENT,
    asBefore: async (earlier) => ({
      created: true,
      patient: await answerAsBefore(audit, ctx, 'pds.create', earlier),
    }),
    write: async ({ record, twin }) => {
      const input = { resourceType: 'Patient', ...(body as Record<string, unknown>) } as Patient;
      for (const forbidden of ['id', 'identifier', 'meta', 'link'] as const) {
        if (input[forbidden] !== undefined)
          throw new FhirError(
            400,
            'INVALID_VALUE',
            `Invalid value - '${forbidden}' is assigned by PDS and must not be supplied`,
          );
      }
      if (input.deceasedDateTime !== undefined)
        throw new FhirError(
          400,
          'INVALID_VALUE',
          "Invalid value - a birth registration cannot carry 'deceasedDateTime'",
        );
      validatePatient(input, { mode: 'create' });
      const duplicates = await likelyDuplicates(repo, input);
      if (duplicates.length > 0) {
        // the "duplicate" may be this very request's record, committed by a twin a moment ago
        const answered = await twin();
        if (answered) return answered;
        await repo.commit({
          audit: [
            auditRecord(
              ctx,
              'pds.create',
              duplicates.length === 1 ? duplicates[0] : null,
              'duplicate',
              { matches: duplicates },
            ),
          ],
        });
        return {
          created: false,
          outcome: publishedOutcome(
            duplicates.length === 1
              ? DEMOGRAPHIC_MATCH.single(duplicates[0])
              : DEMOGRAPHIC_MATCH.multiple(),
          ),
        };
      }
      for (let attempt = 0; attempt < 20; attempt++) {
        const nhs = randomSyntheticNhsNumber(() => randomInt(0, 2 ** 32) / 2 ** 32);
        const patient: Patient = {
          ...input,
          id: nhs,
          identifier: nhsIdentifier(nhs),
          meta: {
            security: [{ system: SECURITY_LABEL_SYSTEM, code: 'U', display: 'unrestricted' }],
          },
          name: input.name!.map((n, i) => ({ id: n.id ?? `N${i + 1}`, ...n })),
          address: input.address?.map((a, i) => ({ ...a, id: a.id ?? `A${i + 1}` })),
          telecom: input.telecom?.map((t, i) => ({ ...t, id: t.id ?? `T${i + 1}` })),
        };
        try {
          const [saved] = await repo.commit({
            resources: [
              {
                type: PATIENT,
                id: nhs,
                expectedVersion: 0,
                resource: patient,
                index: indexPatient(patient),
              },
            ],
            audit: [auditRecord(ctx, 'pds.create', nhs, 'success')],
            messages: birthEvents(patient, new Date().toISOString()),
            request: record({
              status: 201,
              resourceType: PATIENT,
              resourceId: nhs,
              version: 1,
            }),
          });
          // answered as a read shows it
          return {
            created: true,
            patient: { patient: patientForRead(saved.resource), version: saved.version },
          };
        } catch (err) {
          if (!(err instanceof VersionConflictError)) throw err; // the number was taken meanwhile: draw another
        }
      }
      throw new FhirError(
        503,
        'SERVICE_UNAVAILABLE',
        'Could not allocate an NHS Number; retry with the same X-Request-ID',
        { 'retry-after': '1' },
      );
    },
  });
}

/** Same family name, a shared given name, birth date and gender on a current record. */
async function likelyDuplicates(repo: Repository, p: Patient): Promise<string[]> {
  const name = p.name?.[0];
  if (!name?.family || !name.given?.length || !p.birthDate) return [];
  const result = await trace(repo, {
    fuzzy: false,
    exact: true,
    history: false,
    maxResults: 50,
    family: name.family,
    given: [name.given[0]],
    gender: p.gender,
    birthdate: [{ op: 'eq', value: p.birthDate }],
    deathDate: [],
  });
  return result.kind === 'too-many' ? ['many', 'many'] : result.matches.map((m) => m.patient.id!);
}
