import type { FastifyInstance } from 'fastify';
import { ChainVerifier } from '../../audit/chain.js';
import { FHIR_JSON } from '../../http/fhir-conventions.js';
import type { Repository } from '../../store/types.js';

/** The audit trail as FHIR: verification of the hash chain. */
export function auditRoutes(repo: Repository) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/AuditEvent/$verify', { config: { fhirApi: true, activity: 'audit.read' } }, async (_req, reply) => {
      const verifier = new ChainVerifier();
      let after = 0;
      for (;;) {
        const page = await repo.readAudit(after, 10_000);
        if (page.length === 0) break;
        for (const entry of page) if (!verifier.push(entry)) break;
        after = page[page.length - 1].seq;
        if (!verifier.finish().ok) break;
      }
      const result = verifier.finish();
      const head = await repo.auditHead();
      const truncated = result.ok && (head.seq !== result.checked || head.hash !== result.headHash);
      const ok = result.ok && !truncated;
      return reply.type(FHIR_JSON).send({
        resourceType: 'Parameters',
        parameter: [
          { name: 'valid', valueBoolean: ok },
          { name: 'entriesVerified', valueInteger: result.checked },
          { name: 'headHash', valueString: result.headHash },
          ...(result.brokenAt ? [{ name: 'brokenAt', valueInteger: result.brokenAt.seq }, { name: 'reason', valueString: result.brokenAt.reason }] : []),
          ...(truncated ? [{ name: 'reason', valueString: `the log ends at entry ${result.checked} but the recorded chain head is entry ${head.seq}` }] : []),
        ],
      });
    });
  };
}
