import type { FastifyInstance } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { bundleDigest } from './canonical-digest.js';
import { verifyPrescriberSignature } from './prescriber-keys.js';
import { PRESCRIPTION } from './prescription-model.js';

/**
 * POST /$verify-signature, as NHS England's EPS published it (electronic-prescription-service-api,
 * OAS before commit 25242426 "Removed verify from OAS"; coordinator routes/dispense/verify-signature.ts):
 * the body is a prescription-order message Bundle, or a Bundle of them (a release response); the
 * answer is 200 with a Parameters resource, one multi-part parameter per prescription named by its
 * index, with parts 'messageIdentifier' (the message's Bundle.identifier) and 'result' (an
 * OperationOutcome: one 'information' issue when the signature verifies and matches, else one
 * 'error' issue per failure, coded INVALID in Spine-ErrorOrWarningCode with the published display,
 * expression Provenance.signature.data). A body that is not a Bundle is a 400 OperationOutcome.
 * The signature check is OpenSpine's own: the prescriber's registered key (as stored with the
 * prescription) over the canonical digest.
 */
const ERROR_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode';
export const MAX_PRESCRIPTIONS = 25;

function prescriptionsOf(body: any): any[] {
  if (
    !body ||
    typeof body !== 'object' ||
    body.resourceType !== 'Bundle' ||
    !Array.isArray(body.entry)
  )
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'The body must be a Bundle: a prescription-order message, or a Bundle of them',
    );
  const inner = body.entry
    .map((e: any) => e?.resource)
    .filter((r: any) => r?.resourceType === 'Bundle');
  const list = inner.length ? inner : [body];
  if (list.length > MAX_PRESCRIPTIONS)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `At most ${MAX_PRESCRIPTIONS} prescriptions may be verified at once`,
    );
  return list;
}

/** The failures for one prescription message (empty: the signature verifies and matches it). */
export async function verifyPrescriptionMessage(
  repo: ResourceStore,
  bundle: any,
): Promise<string[]> {
  const entries: any[] = Array.isArray(bundle?.entry) ? bundle.entry : [];
  const mr = entries.find((e) => e?.resource?.resourceType === 'MedicationRequest')?.resource;
  const longFormId = mr?.groupIdentifier?.extension?.find((x: any) =>
    String(x?.url).endsWith('Extension-DM-PrescriptionId'),
  )?.valueIdentifier?.value;
  const stored =
    typeof longFormId === 'string'
      ? await repo.searchResources({
          type: PRESCRIPTION,
          criteria: [{ any: [{ param: 'long-form', op: 'eq', value: longFormId }] }],
          limit: 1,
        })
      : [];
  if (stored.length === 0) return ['Prescription not found'];
  const prescription = stored[0].resource;
  const provenances = entries.filter((e) => e?.resource?.resourceType === 'Provenance');
  const data = provenances.length === 1 ? provenances[0].resource.signature?.[0]?.data : undefined;
  if (typeof data !== 'string' || data.length === 0) return ['Invalid signature format'];
  let payload: string;
  try {
    ({ payload } = await verifyPrescriberSignature(
      repo,
      prescription.prescriber.user,
      Buffer.from(data, 'base64').toString('utf8'),
    ));
  } catch (err) {
    if (err instanceof FhirError) return ['Signature is invalid'];
    throw err;
  }
  return payload === bundleDigest(bundle) && payload === prescription.digest
    ? []
    : ["Signature doesn't match prescription"];
}

export function verifySignatureRoutes(repo: ResourceStore) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post(
      '/$verify-signature',
      { config: { fhirApi: true, activity: 'eps.verify-signature' } },
      async (req, reply) => {
        const parameter = [];
        for (const [index, bundle] of prescriptionsOf(req.body).entries()) {
          const failures = await verifyPrescriptionMessage(repo, bundle);
          parameter.push({
            name: String(index),
            part: [
              { name: 'messageIdentifier', valueReference: { identifier: bundle.identifier } },
              {
                name: 'result',
                resource: {
                  resourceType: 'OperationOutcome',
                  issue:
                    failures.length === 0
                      ? [{ severity: 'information', code: 'informational' }]
                      : failures.map((display) => ({
                          severity: 'error',
                          code: 'invalid',
                          details: { coding: [{ system: ERROR_SYSTEM, code: 'INVALID', display }] },
                          expression: ['Provenance.signature.data'],
                        })),
                },
              },
            ],
          });
        }
        return reply.type(FHIR_JSON).send({ resourceType: 'Parameters', parameter });
      },
    );
  };
}
