import { formatUkDate } from './template-filters.js';

/**
 * The Service health page's view of GET /messaging/status: each part's verdict as an NHS tag
 * (healthy / degraded / failing) with what the part is and what its verdict means, and the figures
 * in words. The page module (operations-pages.ts) fetches; this only shapes.
 */

type Health = 'pass' | 'warn' | 'fail';

/** The answer of GET /messaging/status, as much of it as the page reads (docs/messaging.md). */
export interface StatusAnswer {
  status: Health;
  checkedAt: string;
  node: { id: string | null; startedAt: string; uptimeSeconds: number };
  store: Part & {
    kind: string;
    reachable: boolean;
    patients: number | null;
    commitWorking: boolean;
  };
  bus: Part & {
    kind: string;
    running: boolean | null;
    connected: boolean | null;
    consumers: string[];
  };
  audit: Part & {
    chainLength: number | null;
    indexedUpTo: number | null;
    checkpoint: { seq: number; time: string; ageSeconds: number } | null;
    unsignedEntries: number | null;
    intervalSeconds: number;
  };
  queues: Part & {
    outboxHead: number | null;
    relay: { unrelayed: number; oldestUnrelayedAt: string | null; lagSeconds: number } | null;
    consumers: {
      consumer: string;
      registered: boolean;
      pending: number;
      oldestPendingAt: string | null;
      waitSeconds: number | null;
      behind: number | null;
      deadLetters: number;
    }[];
  };
  deadLetters: Part & {
    total: number | null;
    awaitingReplay: number | null;
    newest: {
      id: string;
      consumer: string;
      topic: string;
      attempts: number;
      lastError: string;
      deadAt: string;
      replayedAt: string | null;
    }[];
  };
}

interface Part {
  status: Health;
  note?: string;
}

export const VERDICT: Record<Health, { text: string; colour: string; meaning: string }> = {
  pass: { text: 'Healthy', colour: 'green', meaning: 'Working as it should.' },
  warn: {
    text: 'Degraded',
    colour: 'yellow',
    meaning: 'Working, but something needs looking at.',
  },
  fail: { text: 'Failing', colour: 'red', meaning: 'Not working: act now.' },
};

/** What each part is, for the summary at the top. */
const PARTS = [
  ['store', 'Store', 'Holds every record, the audit trail and the message queues.'],
  ['bus', 'Message bus', 'Carries events between services (deaths, GP changes, notifications).'],
  ['audit', 'Audit checkpoint signer', 'Signs the audit trail so that tampering can be detected.'],
  ['queues', 'Queues', 'Messages waiting to be handled by each consumer.'],
  ['deadLetters', 'Dead letters', 'Messages that failed every attempt and wait for an operator.'],
] as const;

/** 90 as "1 minute 30 seconds", 7200 as "2 hours": how long, in words. */
export function duration(seconds: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds < 60) return plural(seconds, 'second');
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return s ? `${plural(m, 'minute')} ${plural(s, 'second')}` : plural(m, 'minute');
  }
  if (seconds < 86_400) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    return m ? `${plural(h, 'hour')} ${plural(m, 'minute')}` : plural(h, 'hour');
  }
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  return h ? `${plural(d, 'day')} ${plural(h, 'hour')}` : plural(d, 'day');
}

const yesNo = (v: boolean | null) => (v === null ? 'Not known' : v ? 'Yes' : 'No');
const count = (v: number | null) => (v === null ? 'Not known' : v.toLocaleString('en-GB'));

const STORE_KINDS: Record<string, string> = {
  sqlite: 'SQLite (embedded, one server)',
  postgres: 'PostgreSQL',
};
const BUS_KINDS: Record<string, string> = {
  embedded: 'Embedded (the store is the queue)',
  nats: 'NATS JetStream',
};

type Row = { key: { text: string }; value: { text?: string; html?: string } };
const row = (key: string, text: string): Row => ({ key: { text: key }, value: { text } });

/** The page's data: verdicts, summary-list rows per part, the consumers' and dead letters' tables. */
export function operationsView(s: StatusAnswer) {
  const a = s.audit;
  const checkpoint = a.checkpoint
    ? `Entry ${count(a.checkpoint.seq)}, signed ${duration(a.checkpoint.ageSeconds)} ago`
    : 'None signed yet';
  return {
    overall: { ...VERDICT[s.status], status: s.status },
    checkedAt: s.checkedAt,
    parts: PARTS.map(([key, name, what]) => ({
      key,
      name,
      what,
      verdict: VERDICT[s[key].status],
      note: s[key].note,
    })),
    store: [
      row('Kind', STORE_KINDS[s.store.kind] ?? s.store.kind),
      row('Reachable', yesNo(s.store.reachable)),
      row('Patients on the register', count(s.store.patients)),
      row('Takes writes', s.store.commitWorking ? 'Yes' : 'No'),
    ],
    bus: [
      row('Kind', BUS_KINDS[s.bus.kind] ?? s.bus.kind),
      row('Running', yesNo(s.bus.running)),
      row('Connected', yesNo(s.bus.connected)),
      row('Consumers', String(s.bus.consumers.length)),
    ],
    audit: [
      row('Entries in the audit chain', count(a.chainLength)),
      row('Searchable up to entry', count(a.indexedUpTo)),
      row('Last signed checkpoint', checkpoint),
      row('Entries since the last checkpoint', count(a.unsignedEntries)),
      row(
        'Signing',
        a.intervalSeconds > 0
          ? `Every ${duration(a.intervalSeconds).replace(/^1 (\w+)$/, '$1')}`
          : 'Switched off',
      ),
    ],
    queues: [
      row('Messages published (outbox head)', count(s.queues.outboxHead)),
      ...(s.queues.relay
        ? [
            row('Waiting to be relayed to NATS', count(s.queues.relay.unrelayed)),
            row('Relay lag', duration(s.queues.relay.lagSeconds)),
          ]
        : []),
    ],
    consumers: s.queues.consumers.map((c) => ({
      ...c,
      wait: c.waitSeconds === null ? 'None waiting' : duration(c.waitSeconds),
    })),
    showBehind: s.queues.consumers.some((c) => c.behind !== null),
    deadLetters: s.deadLetters,
    node: [
      row('Node', s.node.id ?? 'Not known'),
      row('Started', formatUkDate(s.node.startedAt)),
      row('Up for', duration(s.node.uptimeSeconds)),
    ],
  };
}
