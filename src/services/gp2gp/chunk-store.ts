import { createHash } from 'node:crypto';
import type { Bundle } from 'fhir/r4.js';
import type { ResourceWrite, ResourceStore } from '../../store/resource-store.js';
import type { AttachmentManifest } from './transfer-model.js';

/**
 * Where a record's content lives: the EHR Bundle as one document and every attachment chunk as a
 * Binary-shaped document of its own, all in the repository, so any node of a PostgreSQL cluster
 * can take a chunk or serve a download and no node keeps anything on its local disk. Chunks are
 * written once (expected version 0) under ids derived from (transfer, attachment, index), which
 * makes a re-sent chunk recognisable and the count of chunks present a plain index lookup.
 */

export const EHR = 'Gp2gpEhr';
export const CHUNK = 'Gp2gpChunk';

export const chunkId = (taskId: string, attachmentId: string, index: number) =>
  `${taskId}|${attachmentId}|${index}`;
const attachmentKey = (taskId: string, attachmentId: string) => `${taskId}|${attachmentId}`;

export const sha256Hex = (data: Buffer | Uint8Array): string =>
  createHash('sha256').update(data).digest('hex');

/** The EHR is kept wrapped, so the Bundle comes back exactly as sent (the store stamps meta on what it stores). */
export function ehrWrite(taskId: string, nhsNumber: string, bundle: Bundle): ResourceWrite {
  return {
    type: EHR,
    id: taskId,
    expectedVersion: 0,
    resource: { resourceType: EHR, id: taskId, bundle },
    index: [{ param: 'patient', value: nhsNumber }],
  };
}

export async function readEhr(repo: ResourceStore, taskId: string): Promise<Bundle | null> {
  const stored = await repo.read(EHR, taskId);
  return stored ? (stored.resource.bundle as Bundle) : null;
}

export function chunkWrite(
  taskId: string,
  nhsNumber: string,
  attachment: AttachmentManifest,
  index: number,
  data: Buffer,
): ResourceWrite {
  return {
    type: CHUNK,
    id: chunkId(taskId, attachment.id, index),
    expectedVersion: 0,
    resource: {
      resourceType: 'Binary',
      contentType: 'application/octet-stream',
      securityContext: { reference: `Task/${taskId}` },
      data: data.toString('base64'),
    },
    index: [
      { param: 'attachment', value: attachmentKey(taskId, attachment.id) },
      { param: 'patient', value: nhsNumber },
    ],
  };
}

/** The bytes of a stored chunk, or null when it has not arrived. */
export async function readChunk(
  repo: ResourceStore,
  taskId: string,
  attachmentId: string,
  index: number,
): Promise<Buffer | null> {
  const stored = await repo.read(CHUNK, chunkId(taskId, attachmentId, index));
  return stored ? Buffer.from(stored.resource.data as string, 'base64') : null;
}

/** How many chunks of an attachment are stored (an index lookup; no chunk is read). */
export async function chunksPresent(
  repo: ResourceStore,
  taskId: string,
  attachment: AttachmentManifest,
): Promise<number> {
  const ids = await repo.search({
    type: CHUNK,
    criteria: [
      { any: [{ param: 'attachment', op: 'eq', value: attachmentKey(taskId, attachment.id) }] },
    ],
    limit: attachment.chunkCount + 1,
  });
  return ids.length;
}

/** The attachment's bytes chunk by chunk, in order: at most one chunk is in memory at a time. */
export async function* attachmentBytes(
  repo: ResourceStore,
  taskId: string,
  attachment: AttachmentManifest,
): AsyncGenerator<Buffer> {
  for (let i = 0; i < attachment.chunkCount; i++) {
    const chunk = await readChunk(repo, taskId, attachment.id, i);
    if (!chunk)
      throw new Error(`chunk ${i} of attachment ${attachment.id} of transfer ${taskId} is missing`);
    yield chunk;
  }
}

/** SHA-256 (hex) and length of the reassembled attachment, read chunk by chunk. */
export async function reassembledDigest(
  repo: ResourceStore,
  taskId: string,
  attachment: AttachmentManifest,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of attachmentBytes(repo, taskId, attachment)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** The length chunk `index` of the attachment must have. */
export function expectedChunkLength(attachment: AttachmentManifest, index: number): number {
  return index < attachment.chunkCount - 1
    ? attachment.chunkSize
    : attachment.size - attachment.chunkSize * (attachment.chunkCount - 1);
}
