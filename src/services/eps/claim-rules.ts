import { FhirError } from '../../fhir/errors.js';
import { requireNhsNumber } from '../../fhir/nhs-number.js';
import type { ValidClaim } from './dispensing-service.js';
import { list, ORDER_ITEM_SYSTEM, ORDER_NUMBER_SYSTEM, type Json } from './message-bundle.js';
import { isValidShortFormId, LONG_FORM_ID } from './short-form-id.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

export const ENDORSEMENT_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/medicationdispense-endorsement';
export const CLAIM_ITEM_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-ClaimMedicationRequestReference';

export const GROUP_IDENTIFIER_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-DM-GroupIdentifier';

/**
 * The short-form ID of a claim: Claim.prescription.identifier, or NHS England's GroupIdentifier
 * extension (shortForm).
 */
function claimShortFormId(claim: Json): unknown {
  const prescription = claim.prescription;
  if (prescription?.identifier?.system === ORDER_NUMBER_SYSTEM)
    return prescription.identifier.value;
  const group = list(prescription?.extension).find((e: Json) => e?.url === GROUP_IDENTIFIER_URL);
  const short = list(group?.extension).find((e: Json) => e?.url === 'shortForm')?.valueIdentifier;
  return short?.system === ORDER_NUMBER_SYSTEM ? short.value : undefined;
}

/**
 * The item references and endorsements of one claimed line: on the item itself, or (as published)
 * on each item.detail.
 */
function claimLines(it: Json): Json[] {
  return list(it?.detail).length > 0 ? list(it.detail) : [it];
}

/**
 * A Claim for reimbursement: identifier (UUID, the claim id), patient (NHS Number), prescription
 * (short-form ID), and per item its MedicationRequest (extension) and endorsements (modifier codes).
 */
export function validateClaim(body: unknown): ValidClaim {
  const claim = body as Json;
  if (!claim || typeof claim !== 'object' || claim.resourceType !== 'Claim')
    throw new FhirError(400, 'INVALID_VALUE', 'The request body must be a FHIR Claim');
  const claimId = claim.identifier?.[0]?.value;
  if (typeof claimId !== 'string' || !LONG_FORM_ID.test(claimId))
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'Claim.identifier[0].value must be a UUID identifying the claim',
    );
  const nhsNumber = requireNhsNumber(
    claim.patient?.identifier?.system === NHS_NUMBER_SYSTEM
      ? claim.patient.identifier.value
      : undefined,
    'Claim.patient.identifier',
  );
  const shortFormId = claimShortFormId(claim);
  if (typeof shortFormId !== 'string' || !isValidShortFormId(shortFormId))
    throw new FhirError(
      400,
      'INVALID_PRESCRIPTION_ID',
      'Claim.prescription.identifier must carry a valid short-form prescription ID',
    );
  if (!Array.isArray(claim.item) || claim.item.length === 0 || claim.item.length > 4)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'A claim lists each item claimed (1 to 4) in Claim.item',
    );
  const lines = claim.item.flatMap((it: Json) => claimLines(it));
  if (lines.length > 4)
    throw new FhirError(400, 'INVALID_VALUE', 'A claim lists each item claimed (1 to 4)');
  const endorsements = lines.map((it: Json, i: number) => {
    const ref = list(it?.extension).find((e: Json) => e?.url === CLAIM_ITEM_URL)?.valueReference
      ?.identifier;
    if (ref?.system !== ORDER_ITEM_SYSTEM || typeof ref.value !== 'string')
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Claim.item[${i}] must reference its MedicationRequest by ${ORDER_ITEM_SYSTEM} (extension ${CLAIM_ITEM_URL})`,
      );
    // endorsements: in modifier (OpenSpine's own claims) or, as NHS England publishes them, in programCode
    const published = list(it.detail === undefined ? it.programCode : [])
      .flatMap((m: Json) => list(m?.coding))
      .filter((c: Json) => c?.system === ENDORSEMENT_SYSTEM);
    const endorsedByModifier = list(it.modifier).some((m: Json) =>
      list(m?.coding).some((c: Json) => c?.system === ENDORSEMENT_SYSTEM),
    );
    if (published.length > 0 && !endorsedByModifier) {
      if (published.some((c: Json) => typeof c.code !== 'string'))
        throw new FhirError(
          400,
          'INVALID_CODE',
          `Claim.item[${i}].programCode endorsements must be coded in ${ENDORSEMENT_SYSTEM}`,
        );
      return {
        itemId: ref.value.toLowerCase(),
        codes: published.map((c: Json) => c.code as string),
      };
    }
    const codes = list(it.modifier).flatMap((m: Json) =>
      list(m?.coding)
        .filter((c: Json) => c?.system === ENDORSEMENT_SYSTEM && typeof c.code === 'string')
        .map((c: Json) => c.code as string),
    );
    if (
      list(it.modifier).length !== codes.length ||
      list(it.modifier).some((m: Json) => list(m?.coding).length !== 1)
    ) {
      throw new FhirError(
        400,
        'INVALID_CODE',
        `Claim line ${i + 1} needs its endorsements coded in ${ENDORSEMENT_SYSTEM} (in programCode, as NHS England publishes, or modifier)`,
      );
    }
    return { itemId: ref.value.toLowerCase(), codes };
  });
  return { claimId: claimId.toLowerCase(), shortFormId, nhsNumber, endorsements };
}
