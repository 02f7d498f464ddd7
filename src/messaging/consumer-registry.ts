import type { ConsumerOptions, MessageHandler } from './types.js';
import { assertTopicPattern, topicMatcher } from './topic-match.js';

/** A registered consumer with its defaults filled in. */
export interface Consumer {
  name: string;
  topics: string[];
  wants: (topic: string) => boolean;
  maxAttempts: number;
  retryDelayMs: number;
  handler: MessageHandler;
}

export const CONSUMER_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Consumers of one bus: names unique, topics valid, registration closed once the bus started. */
export class ConsumerRegistry {
  readonly all: Consumer[] = [];
  private closed = false;

  add(options: ConsumerOptions, handler: MessageHandler): Consumer {
    if (this.closed) throw new Error(`consumer '${options.name}' registered after the bus started`);
    if (!CONSUMER_NAME.test(options.name))
      throw new Error(`invalid consumer name '${options.name}': letters, digits, _, - and dots`);
    if (this.all.some((c) => c.name === options.name))
      throw new Error(`consumer '${options.name}' is already registered`);
    if (options.topics.length === 0) throw new Error(`consumer '${options.name}' takes no topics`);
    options.topics.forEach(assertTopicPattern);
    const maxAttempts = options.maxAttempts ?? 5;
    const retryDelayMs = options.retryDelayMs ?? 1000;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
      throw new Error('maxAttempts must be a whole number >= 1');
    if (!(retryDelayMs >= 0)) throw new Error('retryDelayMs must be >= 0');
    const consumer = {
      name: options.name,
      topics: [...options.topics],
      wants: topicMatcher(options.topics),
      maxAttempts,
      retryDelayMs,
      handler,
    };
    this.all.push(consumer);
    return consumer;
  }

  close(): void {
    this.closed = true;
  }
}

/** Exponential backoff: retryDelayMs before the second attempt, doubled each time, capped at an hour. */
export function retryDelay(consumer: Pick<Consumer, 'retryDelayMs'>, attempt: number): number {
  return Math.min(consumer.retryDelayMs * 2 ** Math.max(0, attempt - 1), 3_600_000);
}

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
