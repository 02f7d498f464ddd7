/** Topic matching of ConsumerOptions.topics: an exact name, or 'prefix.*' for every topic under the prefix. */
export function topicMatcher(patterns: string[]): (topic: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('.*')));
  const prefixes = patterns.filter((p) => p.endsWith('.*')).map((p) => p.slice(0, -1));
  return (topic) => exact.has(topic) || prefixes.some((p) => topic.startsWith(p));
}

const TOPIC = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/i;

/** Checks a topic pattern when a consumer registers, so a typo fails at start-up instead of never matching. */
export function assertTopicPattern(pattern: string): void {
  const name = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern;
  if (!TOPIC.test(name))
    throw new Error(
      `invalid topic pattern '${pattern}': dotted names of letters, digits, _ or -, optionally ending in '.*'`,
    );
}
