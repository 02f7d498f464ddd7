import type { Patient, RelatedPerson } from 'fhir/r4.js';
import { createHash, randomInt } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { FhirError } from '../../fhir/errors.js';
import { randomSyntheticNhsNumber } from '../../fhir/nhs-number.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer } from '../write-once.js';
import { VersionConflictError } from '../../store/errors.js';
import type { Repository } from '../../store/repository.js';
import type { StoredResource } from '../../store/resource-store.js';
import {
  BIRTH_PLACE_URL,
  DEATH_NOTIFICATION_URLS,
  parseBirthDetails,
  type BirthDetails,
} from './birth-details-rules.js';
import { birthEvents } from './patient-events.js';
import { indexPatient } from './patient-index.js';
import { currentUsualName, isInvalidated, PATIENT, RELATED_PERSON } from './patient-model.js';
import { DEMOGRAPHIC_MATCH } from './patient-registration.js';
import { currentPatient } from './patients.js';
import { PublishedError } from './published-errors.js';
import { trace } from './trace.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

/** The record created, and the id of the birth notification PDS sends on (response header notification-id). */
export interface BirthAnswer {
  patient: Patient;
  version: number;
  notificationId: string;
}
export type BirthOutcome =
  { created: true; answer: BirthAnswer } | { created: false; error: PublishedError };

const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const VERIFICATION_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus';
const VERIFICATION_SYSTEM = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus';
const ROLE_CODES = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
/** Relationships that make a RelatedPerson the baby's mother, for matching. */
const MOTHER_CODES = new Set(['GESTM', 'MTH', 'NMTH', 'BIRTHMTH']);
const MAX_CANDIDATES = 50;

// answered as POST /Patient answers the same refusal (patient-registration.ts)
const singleMatch = (nhs: string) =>
  new PublishedError(200, 'SINGLE_MATCH_FOUND', DEMOGRAPHIC_MATCH.single(nhs));
const multipleMatches = () =>
  new PublishedError(200, 'MULTIPLE_MATCHES_FOUND', DEMOGRAPHIC_MATCH.multiple());

/** The id of the birth notification of a record (a UUID derived from its NHS Number: one birth per number). */
export function birthNotificationId(nhs: string): string {
  const h = createHash('sha256').update(`openspine:pds-birth:${nhs}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/**
 * The baby's record as the birth answer shows it: its identity, demographics, place of birth and
 * any stillbirth notice.
 */
export function birthRecordForResponse(patient: Patient): Patient {
  const extension = patient.extension?.filter(
    (e) => e.url === BIRTH_PLACE_URL || DEATH_NOTIFICATION_URLS.has(e.url),
  );
  const { extension: _all, meta, ...rest } = patient;
  // as PDS answers a birth: the version and the confidentiality label
  const shownMeta = {
    ...(meta?.security ? { security: meta.security } : {}),
    ...(meta?.versionId ? { versionId: meta.versionId } : {}),
  };
  return { ...rest, meta: shownMeta, ...(extension?.length ? { extension } : {}) };
}

/**
 * Birth notification from a maternity system: the baby's demographics are matched against PDS as a
 * birth registration is (same family name, first given name, gender and birth date on a current
 * record: src/services/pds/trace.ts), and when nobody matches, a new record is created under a
 * newly allocated NHS Number, with the mother as a related person, in one commit with its audit entry
 * and the birth event.
 *
 * Matching has PDS's two strengths: a match that also has the same mother is the same baby and always
 * refuses the create; a match with another mother is only a potential duplicate, which the caller may
 * overrule with ignore_potential_matches=true (twins' and namesakes' records are real).
 */
export class BirthDetailsService {
  private readonly readAudit: AuditWriter;

  constructor(
    private readonly repo: Repository,
    audit: AuditWriter,
    private readonly baseUrl: string,
  ) {
    this.readAudit = audit;
  }

  async process(
    ctx: RequestContext,
    body: unknown,
    ignorePotentialMatches: boolean,
  ): Promise<BirthOutcome> {
    const details = parseBirthDetails(body);
    return writeOnce<BirthOutcome, Patient>(this.repo, ctx, {
      answers: PATIENT,
      asBefore: async (earlier) => ({
        created: true,
        answer: await this.answerAsBefore(ctx, earlier),
      }),
      write: async ({ record, twin }) => {
        const mother = await this.mother(details);

        const candidates = await this.sameDemographics(details.baby);
        const sameMother = await this.withMother(candidates, details.motherNhsNumber);
        const matches = sameMother.length > 0 || ignorePotentialMatches ? sameMother : candidates;
        if (matches.length > 0) {
          // the "match" may be this very request's record, committed by a twin a moment ago
          const answered = await twin();
          if (answered) return answered;
          await this.repo.commit({
            audit: [
              auditRecord(
                ctx,
                'pds.birth-details',
                matches.length === 1 ? matches[0] : null,
                'duplicate',
                { matches, sameMother: sameMother.length > 0 },
              ),
            ],
          });
          return {
            created: false,
            error: matches.length === 1 ? singleMatch(matches[0]) : multipleMatches(),
          };
        }

        for (let attempt = 0; attempt < 20; attempt++) {
          const nhs = randomSyntheticNhsNumber(() => randomInt(0, 2 ** 32) / 2 ** 32);
          const patient = this.newRecord(nhs, details);
          const relation = this.motherRelation(nhs, details, mother.resource);
          try {
            // the birth event's id is the notification id the answer names: derived from the
            // number, so a replay names it too
            const events = birthEvents(patient, new Date().toISOString()).map((m, i) =>
              i === 0 ? { ...m, id: birthNotificationId(nhs) } : m,
            );
            const [saved] = await this.repo.commit({
              resources: [
                {
                  type: PATIENT,
                  id: nhs,
                  expectedVersion: 0,
                  resource: patient,
                  index: indexPatient(patient),
                },
                {
                  type: RELATED_PERSON,
                  id: relation.id!,
                  expectedVersion: 0,
                  resource: relation,
                  index: [{ param: 'patient', value: nhs }],
                },
              ],
              audit: [
                auditRecord(ctx, 'pds.birth-details', nhs, 'success', {
                  mother: details.motherNhsNumber,
                  birthIndicator: details.birthIndicator,
                  birthWeightGrams: details.birthWeightGrams,
                  ...(details.birthTime ? { birthTime: details.birthTime } : {}),
                  notificationId: events[0].id,
                  ignorePotentialMatches,
                }),
              ],
              messages: events,
              request: record({
                status: 201,
                resourceType: PATIENT,
                resourceId: nhs,
                version: 1,
              }),
            });
            return {
              created: true,
              answer: {
                patient: saved.resource as Patient,
                version: saved.version,
                notificationId: events[0].id,
              },
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

  /** The mother's current record: the number given must lead to one (a superseded number leads to its survivor). */
  private async mother(details: BirthDetails): Promise<StoredResource<Patient>> {
    const stored = await currentPatient(this.repo, details.motherNhsNumber);
    if (!stored || isInvalidated(stored.resource)) {
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - '${details.motherNhsNumber}' in field '${details.motherPath}' (no current PDS record holds this NHS Number)`,
      );
    }
    return stored;
  }

  /** Current records with the baby's family name, first given name, gender and birth date. */
  private async sameDemographics(baby: Patient): Promise<string[]> {
    const name = baby.name![0];
    const result = await trace(this.repo, {
      fuzzy: false,
      exact: true,
      history: false,
      maxResults: MAX_CANDIDATES,
      family: name.family,
      given: [name.given![0]],
      gender: baby.gender,
      birthdate: [{ op: 'eq', value: baby.birthDate! }],
      deathDate: [],
    });
    return result.kind === 'too-many' ? ['many', 'many'] : result.matches.map((m) => m.patient.id!);
  }

  /** Of the candidates, those whose recorded mother is this one. */
  private async withMother(candidates: string[], motherNhs: string): Promise<string[]> {
    const out: string[] = [];
    for (const id of candidates.filter((c) => c !== 'many')) {
      const ids = await this.repo.search({
        type: RELATED_PERSON,
        criteria: [{ any: [{ param: 'patient', op: 'eq', value: id }] }],
        limit: 100,
      });
      const people = await this.repo.readMany(RELATED_PERSON, ids);
      const isMother = (rp: RelatedPerson) =>
        rp.patient?.identifier?.value === motherNhs &&
        (rp.relationship ?? []).some((r) =>
          (r.coding ?? []).some((c) => MOTHER_CODES.has(String(c.code))),
        );
      if (people.some((p) => isMother(p.resource))) out.push(id);
    }
    return out;
  }

  private newRecord(nhs: string, details: BirthDetails): Patient {
    const baby = details.baby;
    return {
      ...baby,
      id: nhs,
      identifier: [
        {
          system: NHS_NUMBER_SYSTEM,
          value: nhs,
          extension: [
            {
              url: VERIFICATION_URL,
              valueCodeableConcept: {
                coding: [
                  {
                    system: VERIFICATION_SYSTEM,
                    version: '1.0.0',
                    code: '01',
                    display: 'Number present and verified',
                  },
                ],
              },
            },
          ],
        },
      ],
      meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: 'U', display: 'unrestricted' }] },
      name: baby.name!.map((n, i) => ({ id: n.id ?? `N${i + 1}`, ...n })),
      address: baby.address?.map((a, i) => ({ ...a, id: a.id ?? `A${i + 1}` })),
      telecom: baby.telecom?.map((t, i) => ({ ...t, id: t.id ?? `T${i + 1}` })),
    };
  }

  /** The mother, as a related person on the baby's record (RelatedPerson.patient names the mother's own PDS record). */
  private motherRelation(nhs: string, details: BirthDetails, mother: Patient): RelatedPerson {
    const name = currentUsualName(mother);
    return {
      resourceType: 'RelatedPerson',
      id: `${nhs}-GESTM`,
      active: true,
      patient: {
        type: 'Patient',
        identifier: { system: NHS_NUMBER_SYSTEM, value: details.motherNhsNumber },
        reference: `${this.baseUrl}/Patient/${details.motherNhsNumber}`,
      },
      period: { start: details.baby.birthDate },
      ...(name ? { name: [{ use: 'usual', family: name.family, given: name.given }] } : {}),
      relationship: [
        { coding: [{ system: ROLE_CODES, code: 'GESTM', display: 'Gestational mother' }] },
      ],
    };
  }

  /** A notification retried under its X-Request-ID gets the answer the first got (../write-once.ts). */
  private async answerAsBefore(
    ctx: RequestContext,
    earlier: EarlierAnswer<Patient>,
  ): Promise<BirthAnswer> {
    await this.readAudit.append(
      auditRecord(ctx, 'pds.birth-details.replay', earlier.stored.id, 'replayed'),
    );
    return {
      patient: earlier.stored.resource,
      version: earlier.stored.version,
      notificationId: birthNotificationId(earlier.stored.id),
    };
  }
}
