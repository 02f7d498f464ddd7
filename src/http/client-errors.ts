import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { auditRecord } from '../audit/audit-record.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import { operationOutcome, type SpineCode } from '../fhir/errors.js';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers over the size limit,
 * malformed request lines, slow clients) still get an OperationOutcome, and the refusal is audited
 * as a security event: an attacker probing with oversized headers leaves a trace.
 */
export function clientErrorHandler(audit: AuditWriter) {
  return function handle(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let status: number, code: SpineCode, diagnostics: string;
    if (err.code === 'HPE_HEADER_OVERFLOW')
      [status, code, diagnostics] = [
        431,
        'MESSAGE_TOO_LARGE',
        'Request headers are larger than the server accepts',
      ];
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
      [status, code, diagnostics] = [
        408,
        'SERVICE_UNAVAILABLE',
        'The request was not received in time',
      ];
    else
      [status, code, diagnostics] = [
        400,
        'INVALID_VALUE',
        'The request could not be parsed as HTTP',
      ];
    const body = JSON.stringify(operationOutcome(code, diagnostics));
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
          `Connection: close\r\nContent-Type: application/fhir+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    } else {
      socket.destroy(err);
    }
    const record = auditRecord(
      { requestId: randomUUID() },
      'http.request',
      null,
      `refused ${status} ${code}`,
      { remoteAddress: socket.remoteAddress, parserError: err.code },
      { type: 'security' },
    );
    record.userId = 'unauthenticated';
    audit.append(record).catch(() => {
      /* the store is closing; nothing more to do for a refused connection */
    });
  };
}
