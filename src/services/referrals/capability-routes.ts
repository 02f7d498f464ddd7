import type { FastifyInstance } from 'fastify';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ServiceDeps } from '../service-deps.js';
import { r4CapabilityStatement, stu3CapabilityStatement } from './capability-statements.js';
import { REFERRALS_R4_BASE } from './r4-routes.js';
import { REFERRALS_BASE } from './routes.js';

/**
 * `GET /referrals/FHIR/STU3/metadata` and `/R4/metadata` (mounted at the referral APIs' root):
 * public, as every API's metadata is (a client reads it before it has a token), each built once from
 * the platform's route table when first asked for, by then holding every registered route.
 */
export function capabilityRoutes({ publicUrl }: Pick<ServiceDeps, 'publicUrl'>, root: string) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const config = { fhirApi: true, public: true } as const;
    let stu3: unknown;
    let r4: unknown;
    app.get(
      `${REFERRALS_BASE.slice(root.length)}/metadata`,
      { config, exposeHeadRoute: false },
      async (_req, reply) => {
        stu3 ??= stu3CapabilityStatement(REFERRALS_BASE, publicUrl, app.routeTable);
        return reply.type(FHIR_JSON).send(stu3);
      },
    );
    app.get(
      `${REFERRALS_R4_BASE.slice(root.length)}/metadata`,
      { config, exposeHeadRoute: false },
      async (_req, reply) => {
        r4 ??= r4CapabilityStatement(REFERRALS_R4_BASE, publicUrl, app.routeTable);
        return reply.type(FHIR_JSON).send(r4);
      },
    );
  };
}
