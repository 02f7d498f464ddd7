/**
 * A PDS patch, end to end: the body is read by patient-patch-body.ts, its operations checked against
 * PDS's rules (patient-patch-rules.ts) and applied to a copy (patient-patch-apply.ts); this completes
 * what PDS assigns (item ids, periods, the informal death notice) and validates the result, so a
 * failure anywhere leaves the stored record untouched.
 */
import type { Patient } from 'fhir/r4.js';
import type { Operation } from 'fast-json-patch';
import { randomBytes } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import { DEATH_NOTIFICATION_URL, today } from './patient-model.js';
import { applyOperation } from './patient-patch-apply.js';
import { invalidPatch } from './patient-patch-body.js';
import { checkOperations, checkPatientAccess, ID_LISTS } from './patient-patch-rules.js';
import { validatePatient } from './patient-rules.js';

export { parsePatchBody } from './patient-patch-body.js';

/** Lists whose new items get period.start = today when the caller gives no period. */
const PERIOD_LISTS = new Set(['name', 'address', 'telecom', 'contact']);

const newId = () => randomBytes(4).toString('hex').toUpperCase();

/** Gives new list items the ids and default periods PDS assigns. */
function completeNewItems(before: Patient, after: Patient): void {
  for (const list of ID_LISTS) {
    const known = new Set(((before as any)[list] ?? []).map((item: { id?: string }) => item.id));
    for (const item of (after as any)[list] ?? []) {
      if (!item || typeof item !== 'object') continue;
      if (item.id === undefined || !known.has(item.id)) {
        if (item.id === undefined) item.id = newId();
        if (PERIOD_LISTS.has(list) && item.period === undefined) item.period = { start: today() };
      }
    }
  }
}

export interface PatchOptions {
  /** The caller is the patient (NHS login, P9): only the fields of the published patient-access limits. */
  patientAccess?: boolean;
}

/**
 * Applies a PDS patch atomically: every operation is checked, applied to a copy, and the result
 * must still be a valid Patient in what the patch changed; any failure leaves the stored record untouched.
 */
export function applyPatientPatch(
  current: Patient,
  ops: Operation[],
  options: PatchOptions = {},
): Patient {
  if (options.patientAccess) checkPatientAccess(current, ops);
  checkOperations(current, ops);
  const patched = structuredClone(current) as Patient;
  for (const op of ops) {
    try {
      applyOperation(patched as unknown as Record<string, any>, op);
    } catch (err) {
      if (err instanceof FhirError) throw err;
      throw invalidPatch(
        `patch could not be applied (${String((err as Error).message ?? 'invalid path')
          .split('\n')[0]
          .slice(0, 120)})`,
      );
    }
  }
  completeNewItems(current, patched);
  // a date of death given without an offset is UTC, and is held with it
  if (
    typeof patched.deceasedDateTime === 'string' &&
    /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(patched.deceasedDateTime)
  )
    patched.deceasedDateTime += '+00:00';
  validatePatient(patched, { before: current });
  const deathStatus = patched.extension?.find((e) => e.url === DEATH_NOTIFICATION_URL);
  const statusCode = deathStatus?.extension?.find((e) => e.url === 'deathNotificationStatus')
    ?.valueCodeableConcept?.coding?.[0]?.code;
  if (statusCode === 'U')
    throw new FhirError(
      400,
      'UNSUPPORTED_VALUE',
      "Unsupported value - death notification status 'U' (removed) can no longer be set",
    );
  if (patched.deceasedDateTime && !deathStatus) {
    // a death reported by a local system (GP, trust) is an informal notice until the registrar confirms it
    patched.extension = [...(patched.extension ?? []), informalDeathNotice()];
  }
  return patched;
}

function informalDeathNotice() {
  return {
    url: DEATH_NOTIFICATION_URL,
    extension: [
      {
        url: 'deathNotificationStatus',
        valueCodeableConcept: {
          coding: [
            {
              system: 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-DeathNotificationStatus',
              version: '1.0.0',
              code: '1',
              display:
                'Informal - death notice received via an update from a local NHS Organisation such as GP or Trust',
            },
          ],
        },
      },
      { url: 'systemEffectiveDate', valueDateTime: new Date().toISOString() },
    ],
  };
}
