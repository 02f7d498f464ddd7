import { Readable } from 'node:stream';
import type { Task } from 'fhir/r4.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { StoredResource } from '../../store/resource-store.js';
import type { ServiceDeps } from '../service-deps.js';
import { ChunkUploads } from './chunk-upload.js';
import { gp2gpApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import type { Gp2gpOptions } from './options.js';
import type { TransferService } from './transfer-service.js';
import { capabilityQuery, described, pathParams } from '../route-schemas.js';

export const GP2GP_BASE = '/gp2gp/FHIR/R4';

interface TaskParams {
  id: string;
}
interface AttachmentParams extends TaskParams {
  attachmentId: string;
}
interface ChunkParams extends AttachmentParams {
  chunkIndex: string;
}

/** Name of the cluster-wide timeout job (registered in plugin.ts). */
export const GP2GP_SWEEP_JOB = 'gp2gp.sweep';

function sendTask(reply: FastifyReply, stored: StoredResource<Task>, status = 200) {
  return reply
    .code(status)
    .type(FHIR_JSON)
    .header('etag', etagFor(stored.version))
    .send(stored.resource);
}

/**
 * GP2GP record transfer API (FHIR Task based): the new practice asks for (or is given, on a PDS
 * registration change) a transfer; the old practice finds it, sends the EHR Bundle and uploads
 * attachments in checksummed chunks; the new practice downloads and acknowledges. See docs/gp2gp.md.
 * The route table only: plugin.ts builds the TransferService and registers the consumer and sweep.
 */
export function gp2gpRoutes(
  { store: repo, publicUrl }: Pick<ServiceDeps, 'store' | 'publicUrl'>,
  service: TransferService,
  options: Gp2gpOptions,
) {
  const baseUrl = publicUrl + GP2GP_BASE;
  const chunks = new ChunkUploads(repo, baseUrl, options);

  /** Runs an action on one transfer; a refusal is audited against the transfer's patient. */
  const onTransfer = <T>(req: FastifyRequest, action: string, run: () => Promise<T>): Promise<T> =>
    run().catch(async (err: unknown) => {
      await service.auditRefusal(req.ctx, action, err);
      throw err;
    });

  return async function plugin(app: FastifyInstance): Promise<void> {
    registerMetadataRoute(app, gp2gpApi(GP2GP_BASE, publicUrl));

    const config = { fhirApi: true, activity: 'gp2gp.transfer' } as const;

    // attachment chunks arrive as raw bytes; only this plugin's routes accept them
    app.addContentTypeParser(
      'application/octet-stream',
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );

    const search = capabilityQuery(gp2gpApi(GP2GP_BASE, publicUrl).searchParams?.Task);
    app.get('/Task', { schema: { querystring: search }, config }, async (req, reply) =>
      reply
        .type(FHIR_JSON)
        .send(await service.search(req.ctx, req.query as Record<string, unknown>)),
    );

    app.post('/Task', { config }, async (req, reply) => {
      const created = await service.request(req.ctx, req.body);
      return sendTask(reply.header('location', `${baseUrl}/Task/${created.id}`), created, 201);
    });

    app.get<{ Params: TaskParams }>(
      '/Task/:id',
      { schema: { params: pathParams('id') }, config },
      async (req, reply) => sendTask(reply, await service.read(req.ctx, req.params.id)),
    );

    app.post<{ Params: TaskParams }>(
      '/Task/:id/$send',
      { schema: { params: pathParams('id') }, config, bodyLimit: options.maxEhrBytes },
      async (req, reply) =>
        sendTask(
          reply,
          await onTransfer(req, 'gp2gp.send', () => service.send(req.ctx, req.params.id, req.body)),
        ),
    );

    app.post<{ Params: TaskParams }>(
      '/Task/:id/$acknowledge',
      { schema: { params: pathParams('id') }, config },
      async (req, reply) =>
        sendTask(
          reply,
          await onTransfer(req, 'gp2gp.acknowledge', () =>
            service.acknowledge(req.ctx, req.params.id, req.body),
          ),
        ),
    );

    app.get<{ Params: TaskParams }>(
      '/Task/:id/$ehr',
      { schema: { params: pathParams('id') }, config },
      async (req, reply) =>
        reply
          .type(FHIR_JSON)
          .send(await onTransfer(req, 'gp2gp.ehr.read', () => service.ehr(req.ctx, req.params.id))),
    );

    app.put<{ Params: ChunkParams }>(
      '/Task/:id/attachment/:attachmentId/:chunkIndex',
      {
        schema: {
          params: pathParams('id', 'attachmentId', 'chunkIndex'),
          headers: described({ 'x-chunk-sha256': 'hex SHA-256 of the chunk' }),
        },
        config,
        bodyLimit: options.maxChunkBytes,
      },
      async (req, reply) => {
        if (!Buffer.isBuffer(req.body))
          throw new FhirError(
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            'Attachment chunks must be sent as application/octet-stream',
          );
        const body = req.body;
        const sha = req.headers['x-chunk-sha256'];
        const progress = await onTransfer(req, 'gp2gp.chunk', async () => {
          const { stored, actor } = await service.load(req.ctx, req.params.id, 'gp2gp.chunk');
          return chunks.put(req.ctx, stored, actor, {
            attachmentId: req.params.attachmentId,
            index: req.params.chunkIndex,
            data: body,
            sha256: typeof sha === 'string' ? sha : undefined,
          });
        });
        return sendTask(reply, progress);
      },
    );

    app.get<{ Params: AttachmentParams }>(
      '/Task/:id/attachment/:attachmentId',
      { schema: { params: pathParams('id', 'attachmentId') }, config },
      async (req, reply) => {
        const { manifest, bytes } = await onTransfer(req, 'gp2gp.attachment.read', () =>
          service.attachment(req.ctx, req.params.id, req.params.attachmentId),
        );
        return reply
          .type(manifest.contentType)
          .header('content-length', String(manifest.size))
          .header('x-content-sha256', manifest.sha256)
          .header('content-disposition', `attachment; filename="${manifest.id}"`)
          .send(Readable.from(bytes));
      },
    );
  };
}
