/**
 * The messaging administration service's public door: what the platform and other services may use
 * of it. Nothing outside src/services/messaging/ imports past this file (eslint.config.js,
 * test/service-doors.test.ts).
 */

// the dead-letter queue as the CLI reads and replays it
export { deadLetterAudit } from './dead-letter-audit.js';
export { deadLetterId, parseDeadLetterQuery } from './dead-letter-query.js';

// each consumer's queue as the status page computes it (the operations metrics reuse it)
export { consumerRows } from './status-service.js';
export { secondsSince } from './status-judgement.js';
