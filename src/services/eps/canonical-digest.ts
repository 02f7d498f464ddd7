import { createHash } from 'node:crypto';
import { canonicalJson } from '../../fhir/canonical-json.js';

/** The signed content of a message Bundle: everything but its signature and bookkeeping. */
export function signedContent(bundle: Record<string, any>): Record<string, unknown> {
  const { meta: _meta, signature: _signature, ...rest } = bundle;
  return {
    ...rest,
    entry: (bundle.entry ?? []).filter((e: any) => e?.resource?.resourceType !== 'Provenance'),
  };
}

/**
 * The canonical digest a prescriber signs ($prepare): SHA-256, base64url, over the message Bundle
 * in canonical JSON (object keys sorted, no insignificant white space) with its signature
 * (Provenance entries) and Bundle.meta and Bundle.signature left out, so adding the signature does
 * not change what was signed and any other change, however small, does.
 */
export function bundleDigest(bundle: Record<string, any>): string {
  return createHash('sha256')
    .update(canonicalJson(signedContent(bundle)))
    .digest('base64url');
}
