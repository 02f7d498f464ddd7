import { randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../../src/messaging/types.js';
import { openRepository } from '../../src/store/open.js';
import type { Repository } from '../../src/store/repository.js';
import { isolatedStoreConfig, type StoreKind } from './stores.js';

/** An isolated store; `open` gives another repository over it (another node, in production). */
export async function withRepo(
  kind: StoreKind,
  fn: (repo: Repository, open: () => Promise<Repository>) => Promise<void>,
): Promise<void> {
  const { config, cleanup } = await isolatedStoreConfig(kind);
  const opened: Repository[] = [];
  const open = async () => {
    const r = await openRepository(config);
    opened.push(r);
    return r;
  };
  try {
    await fn(await open(), open);
  } finally {
    for (const r of opened) await r.close().catch(() => {});
    await cleanup();
  }
}

export const message = (topic: string, key: string, body: unknown = {}): OutboxMessage => ({
  id: randomUUID(),
  topic,
  key,
  body,
});

/** Polls until the condition holds; fails with `what` after `timeoutMs` (a bound on a wait, not a timing assertion). */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
