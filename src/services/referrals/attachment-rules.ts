/**
 * What an upload to the e-RS document store (a020) must be, checked without the store: a published
 * content type, a file name (NHSD-eRS-File-Name) whose extension goes with it, between 1 byte and
 * 5MB, whose bytes are what the type says (a PDF starts %PDF-, a PNG with its signature...), and an
 * optional NHSD-eRS-Referral-ID that is a UBRN. Refusals in eRS's words (a020's 422 table).
 */
import { ersError } from './ers-errors.js';
import { FILE_TYPES, MAX_FILE_BYTES } from './attachment-model.js';
import { UBRN_PATTERN } from './referral-model.js';

export const FILE_NAME_HEADER = 'nhsd-ers-file-name';
export const REFERRAL_ID_HEADER = 'nhsd-ers-referral-id';
/** Longer names are refused: they do not fit a Content-Disposition or a letter's list. */
const MAX_FILE_NAME = 255;

export interface UploadRequest {
  contentType: string;
  fileName: string;
  referralId?: string;
  data: Buffer;
}

type Headers = Record<string, string | string[] | undefined>;

const one = (headers: Headers, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

const unprocessable = (issue: string, code: string, why: string) => ersError(422, issue, code, why);

/** The media type of a Content-Type header, lower-cased, without its parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** 415 for a type e-RS does not take (a020 lists the ones it does). */
export function requireFileType(contentType: string): void {
  if (!Object.hasOwn(FILE_TYPES, contentType))
    throw ersError(
      415,
      'not-supported',
      'INVALID_VALUE',
      `Content-Type '${contentType.slice(0, 80)}' is not a file type e-RS accepts (${Object.keys(FILE_TYPES).join(', ')})`,
    );
}

/** An upload, checked: see the module comment. */
export function parseUpload(headers: Headers, body: unknown): UploadRequest {
  const contentType = mediaType(one(headers, 'content-type'));
  requireFileType(contentType);
  if (!Buffer.isBuffer(body))
    throw ersError(415, 'not-supported', 'INVALID_VALUE', 'The file must be sent as raw bytes');
  const fileName = parseFileName(one(headers, FILE_NAME_HEADER));
  const extension = fileName.slice(fileName.lastIndexOf('.') + 1).toLowerCase();
  if (!FILE_TYPES[contentType].includes(extension))
    throw unprocessable(
      'value',
      'CONFLICTING_VALUES',
      `File name '${fileName}' does not go with Content-Type ${contentType} (expected .${FILE_TYPES[contentType].join(', .')})`,
    );
  if (body.length === 0) throw unprocessable('value', 'FILE_SIZE_ERROR', 'The file is empty');
  if (body.length > MAX_FILE_BYTES)
    throw unprocessable(
      'value',
      'FILE_SIZE_ERROR',
      `The file is larger than the ${MAX_FILE_BYTES} bytes (5MB) e-RS accepts`,
    );
  if (!contentMatches(contentType, body))
    throw unprocessable(
      'value',
      'CONFLICTING_VALUES',
      `The file's content is not ${contentType} as its Content-Type says`,
    );
  const referralId = one(headers, REFERRAL_ID_HEADER)?.trim();
  if (referralId !== undefined && referralId !== '' && !UBRN_PATTERN.test(referralId))
    throw unprocessable(
      'value',
      'INVALID_VALUE',
      `NHSD-eRS-Referral-ID '${referralId.slice(0, 20)}' is not a UBRN (12 digits)`,
    );
  return { contentType, fileName, data: body, ...(referralId ? { referralId } : {}) };
}

function parseFileName(raw: string | undefined): string {
  const name = raw?.trim();
  if (!name)
    throw unprocessable('required', 'MISSING_VALUE', 'NHSD-eRS-File-Name header is required');
  // a name is shown in a Content-Disposition and on letters: no paths, quotes or control characters
  if (
    name.length > MAX_FILE_NAME ||
    /[\\/"\u0000-\u001f\u007f]/.test(name) ||
    !/^[^.].*\.[A-Za-z0-9]{1,5}$/.test(name)
  )
    throw unprocessable(
      'value',
      'INVALID_VALUE',
      `NHSD-eRS-File-Name must be a file name with an extension, at most ${MAX_FILE_NAME} characters, without paths, quotes or control characters`,
    );
  return name;
}

const startsWith = (data: Buffer, bytes: number[], at = 0) =>
  data.length >= at + bytes.length && bytes.every((b, i) => data[at + i] === b);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/**
 * Whether the bytes are of the type declared: the signature of each binary format (e-RS fails
 * validation of "content type of the file does not correlate", a006's VALIDATION_FAILED), and
 * UTF-8 text for the text types.
 */
function contentMatches(contentType: string, data: Buffer): boolean {
  switch (contentType) {
    case 'application/pdf':
      return startsWith(data, ascii('%PDF-'));
    case 'image/png':
      return startsWith(data, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    case 'image/gif':
      return startsWith(data, ascii('GIF87a')) || startsWith(data, ascii('GIF89a'));
    case 'image/jpeg':
      return startsWith(data, [0xff, 0xd8, 0xff]);
    case 'image/tiff':
      return startsWith(data, ascii('II*\0')) || startsWith(data, ascii('MM\0*'));
    case 'text/rtf':
      return startsWith(data, ascii('{\\rtf'));
    case 'audio/basic':
      return startsWith(data, ascii('.snd'));
    case 'audio/mpeg':
      return startsWith(data, ascii('ID3')) || (data[0] === 0xff && (data[1] & 0xe0) === 0xe0);
    case 'video/mpeg':
      return startsWith(data, [0, 0, 1, 0xba]) || startsWith(data, [0, 0, 1, 0xb3]);
    case 'application/msword':
    case 'application/vnd.openxmlformats-officedocument.wordprocessingml.document':
      // .doc is an OLE2 compound file, .docx a zip
      return (
        startsWith(data, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) ||
        startsWith(data, [0x50, 0x4b, 0x03, 0x04])
      );
    case 'application/dicom':
      return startsWith(data, ascii('DICM'), 128);
    default:
      return isUtf8Text(data);
  }
}

function isUtf8Text(data: Buffer): boolean {
  if (data.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}
