import type { Task } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import {
  chunksPresent,
  chunkWrite,
  expectedChunkLength,
  readChunk,
  reassembledDigest,
  sha256Hex,
} from './chunk-store.js';
import type { Gp2gpOptions } from './options.js';
import {
  attachmentsOf,
  patientOf,
  stateOf,
  withManifest,
  type AttachmentManifest,
} from './transfer-model.js';
import { commitMove, readTransfer } from './transfer-store.js';
import { transition, type Actor } from './transitions.js';

/** How often progress is re-read and re-committed when parallel uploads of the same transfer collide. */
const PROGRESS_RETRIES = 20;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

export interface ChunkUpload {
  attachmentId: string;
  index: string;
  data: Buffer;
  /** The X-Chunk-SHA256 header: hex SHA-256 of this chunk as sent. */
  sha256: string | undefined;
}

/**
 * PUT /Task/{id}/attachment/{attachmentId}/{chunkIndex}. The chunk is checked against its own
 * checksum and the manifest, stored once (a re-sent identical chunk is accepted again, a different
 * one refused), and then the transfer's progress is recomputed from what is stored. The commit that
 * sees the last chunk arrive checks every reassembled attachment against its manifest checksum and
 * moves the transfer to 'sent' (or to 'failed' with reason 'checksum-mismatch'). Parallel uploads
 * race only on that small progress commit, which is retried on a version conflict.
 */
export class ChunkUploads {
  constructor(
    private readonly repo: ResourceStore,
    private readonly baseUrl: string,
    private readonly options: Gp2gpOptions,
  ) {}

  async put(
    ctx: RequestContext,
    stored: StoredResource<Task>,
    actor: Actor,
    upload: ChunkUpload,
  ): Promise<StoredResource<Task>> {
    transition(stateOf(stored.resource), 'chunk', actor);
    const attachment = attachmentsOf(stored.resource).find((a) => a.id === upload.attachmentId);
    if (!attachment)
      throw new FhirError(
        404,
        'RESOURCE_NOT_FOUND',
        `The manifest of this transfer has no attachment '${upload.attachmentId.slice(0, 64)}'`,
      );
    const index = /^[0-9]{1,5}$/.test(upload.index) ? Number(upload.index) : -1;
    if (index < 0 || index >= attachment.chunkCount) {
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - chunk index '${upload.index.slice(0, 10)}'; attachment '${attachment.id}' has chunks 0 to ${attachment.chunkCount - 1}`,
      );
    }
    const length = expectedChunkLength(attachment, index);
    if (upload.data.length !== length)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - chunk ${index} of '${attachment.id}' must be ${length} bytes, not ${upload.data.length}`,
      );
    if (!upload.sha256)
      throw new FhirError(
        400,
        'MISSING_VALUE',
        'Missing value - header X-Chunk-SHA256 (hex SHA-256 of the chunk) is required',
      );
    if (!SHA256_HEX.test(upload.sha256))
      throw new FhirError(
        400,
        'INVALID_VALUE',
        'Invalid value - header X-Chunk-SHA256 must be 64 hexadecimal digits',
      );
    const actual = sha256Hex(upload.data);
    if (actual !== upload.sha256.toLowerCase()) {
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - chunk ${index} of '${attachment.id}' does not match its X-Chunk-SHA256 (corrupted in transit?); send it again`,
      );
    }
    await this.storeChunk(ctx, stored, attachment, index, upload.data, actual);
    return this.recordProgress(ctx, stored.id, actor);
  }

  private async storeChunk(
    ctx: RequestContext,
    stored: StoredResource<Task>,
    attachment: AttachmentManifest,
    index: number,
    data: Buffer,
    sha256: string,
  ): Promise<void> {
    const nhsNumber = patientOf(stored.resource);
    const already = await readChunk(this.repo, stored.id, attachment.id, index);
    if (!already) {
      try {
        await this.repo.commit({
          resources: [chunkWrite(stored.id, nhsNumber, attachment, index, data)],
          audit: [
            auditRecord(ctx, 'gp2gp.chunk', nhsNumber, 'success', {
              task: stored.id,
              attachment: attachment.id,
              index,
              bytes: data.length,
            }),
          ],
        });
        return;
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err; // else a twin upload of this chunk won: compare with it
      }
    }
    const existing = already ?? (await readChunk(this.repo, stored.id, attachment.id, index));
    if (!existing || sha256Hex(existing) !== sha256) {
      throw new FhirError(
        409,
        'DUPLICATE_REJECTED',
        `Chunk ${index} of '${attachment.id}' has already been received with different content`,
      );
    }
  }

  /** Recomputes how many chunks are in and, when all are, verifies the attachments and completes the send. */
  private async recordProgress(
    ctx: RequestContext,
    id: string,
    actor: Actor,
  ): Promise<StoredResource<Task>> {
    for (let attempt = 0; ; attempt++) {
      const stored = (await readTransfer(this.repo, id))!;
      if (stateOf(stored.resource) !== 'sending') return stored; // completed or failed by a parallel upload or the sweep
      const before = attachmentsOf(stored.resource);
      const after = await Promise.all(
        before.map(async (a) => ({ ...a, received: await chunksPresent(this.repo, id, a) })),
      );
      const complete = after.every((a) => a.received === a.chunkCount);
      if (!complete && after.every((a, i) => a.received === before[i].received)) return stored;
      const now = this.options.now();
      const change = (task: Task) => withManifest(task, after, this.baseUrl);
      try {
        if (!complete) {
          return await commitMove(this.repo, ctx, stored, {
            action: 'chunk',
            actor,
            now,
            deadline: new Date(now.getTime() + this.options.sendingTimeoutMs),
            change,
            audit: {
              action: 'gp2gp.progress',
              detail: { received: after.map((a) => `${a.id}:${a.received}/${a.chunkCount}`) },
            },
          });
        }
        const bad = await this.firstCorrupt(id, after);
        return await commitMove(this.repo, ctx, stored, {
          action: bad ? 'corrupt' : 'complete',
          actor,
          now,
          change,
          deadline: bad ? undefined : new Date(now.getTime() + this.options.ackTimeoutMs),
          reason: bad
            ? {
                code: 'checksum-mismatch',
                text: `Attachment '${bad.id}' reassembled does not match the SHA-256 or size in the manifest`,
              }
            : undefined,
          audit: {
            action: 'gp2gp.sent',
            detail: bad ? { corrupt: bad.id } : { attachments: after.length },
          },
        });
      } catch (err) {
        if (!(err instanceof VersionConflictError) || attempt >= PROGRESS_RETRIES) throw err;
      }
    }
  }

  private async firstCorrupt(
    id: string,
    attachments: AttachmentManifest[],
  ): Promise<AttachmentManifest | undefined> {
    for (const a of attachments) {
      const { sha256, size } = await reassembledDigest(this.repo, id, a);
      if (sha256 !== a.sha256 || size !== a.size) return a;
    }
    return undefined;
  }
}
