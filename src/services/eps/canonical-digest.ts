import { createHash } from 'node:crypto';

/**
 * The canonical digest a prescriber signs ($prepare): SHA-256, base64url, over the message Bundle
 * in canonical JSON (object keys sorted, no insignificant white space) with its signature
 * (Provenance entries) and Bundle.meta and Bundle.signature left out, so adding the signature does
 * not change what was signed and any other change, however small, does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // plain loops and string appends: this runs over every signed message twice ($prepare, submit)
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return out + ']';
  }
  const object = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of Object.keys(object).sort()) {
    const v = object[key];
    if (v === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + canonicalJson(v);
    first = false;
  }
  return out + '}';
}

/** The signed content of a message Bundle: everything but its signature and bookkeeping. */
export function signedContent(bundle: Record<string, any>): Record<string, unknown> {
  const { meta: _meta, signature: _signature, ...rest } = bundle;
  return {
    ...rest,
    entry: (bundle.entry ?? []).filter((e: any) => e?.resource?.resourceType !== 'Provenance'),
  };
}

export function bundleDigest(bundle: Record<string, any>): string {
  return createHash('sha256')
    .update(canonicalJson(signedContent(bundle)))
    .digest('base64url');
}
