import type { FastifyInstance } from 'fastify';
import { pathParams } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import { slotView } from './booking-views.js';
import { ersError, useErsErrors } from './ers-errors.js';
import { parseSlotRun, publishSlots, withdrawSlot } from './slot-publishing.js';
import { SLOT_ID_PATTERN } from './slot-model.js';

/** OpenSpine's own management API for e-RS providers (not part of the published e-RS API). */
export const REFERRALS_MANAGE_BASE = '/referrals/manage';

/**
 * Providers publish runs of slots for their directly bookable services and withdraw free ones:
 * `POST /referrals/manage/Slot/$publish` and `DELETE /referrals/manage/Slot/{id}`. The caller's
 * organisation (its token's) must provide the service; refusals in eRS's STU3 OperationOutcome.
 */
export function slotRoutes({ store }: Pick<ServiceDeps, 'store'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const publish = { fhirApi: true, activity: 'ers.slot.publish' } as const;
    const orgOf = (org: string | undefined) => {
      if (!org) throw ersError(403, 'forbidden', 'NO_ACCESS', 'The token names no organisation');
      return org;
    };

    app.post('/Slot/$publish', { config: publish }, async (req, reply) => {
      const org = orgOf(req.ctx.principal?.org);
      const result = await publishSlots(store, parseSlotRun(req.body), { org, ctx: req.ctx });
      return reply.code(result.published ? 201 : 200).send(result);
    });

    app.delete<{ Params: { id: string } }>(
      '/Slot/:id',
      { schema: { params: pathParams('id') }, config: publish },
      async (req, reply) => {
        const org = orgOf(req.ctx.principal?.org);
        if (!SLOT_ID_PATTERN.test(req.params.id))
          throw ersError(
            400,
            'value',
            'INVALID_VALUE',
            `'${req.params.id.slice(0, 20)}' is not a slot id`,
          );
        const saved = await withdrawSlot(store, req.params.id, { org, ctx: req.ctx });
        return reply.code(200).send(slotView(saved.resource));
      },
    );
  };
}
