import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * The check GET /metrics runs on a request's Authorization header when a scrape token is configured
 * (`--metrics-token`, OPENSPINE_METRICS_TOKEN): "Bearer <token>", compared in constant time (both
 * sides hashed first, so neither the token's length nor its prefix shows in the timing). Undefined
 * without a token: then only a user or application token whose role allows operations.metrics
 * scrapes.
 */
export function scrapeTokenCheck(
  token: string | null,
): ((authorization: string | undefined) => boolean) | undefined {
  if (!token) return undefined;
  const expected = digest(token);
  return (authorization) => {
    if (!authorization?.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(authorization.slice('Bearer '.length)), expected);
  };
}
