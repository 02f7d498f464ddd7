/**
 * Subject layout of the JetStream bus: '<prefix>.<partition>.<topic>', the partition a hash of the
 * message key. Each consumer name has one durable per partition with at most one unacknowledged
 * message, so messages with the same key (same partition) reach it in stream order, one at a time,
 * whichever node takes them.
 */

/** FNV-1a over the key's UTF-16 code units: stable across nodes and releases. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

export const subjectPrefix = (stream: string): string => stream.toLowerCase();

export function subjectOf(stream: string, partition: number, topic: string): string {
  return `${subjectPrefix(stream)}.${partition}.${topic}`;
}

/** Everything in one partition (NATS 2.9 takes one filter subject per consumer; topics are matched in the bus). */
export function partitionFilter(stream: string, partition: number): string {
  return `${subjectPrefix(stream)}.${partition}.>`;
}

/** Durable names may not contain dots; consumer names may. */
export function durableName(consumer: string, partition: number): string {
  return `${consumer.replace(/\./g, '_')}_p${partition}`;
}
