/**
 * $ers.maintainReferralLetter's body (eRS-MaintainReferralLetter-Parameters): one or more
 * `referralLetterFile` parameters, each a DocumentReference of type REFERRER, status current, with
 * an `indexed` date-time, an optional description and one attachment naming an uploaded file by
 * url Binary/{id} (specification/components/stu3/schemas/DocumentReferenceReferrerOnly.yaml).
 * Checked without the store; refusals in eRS's words.
 */
import { ersError } from './ers-errors.js';
import { invalid, isObject, structure } from './ers-parameters.js';
import { ATTACHMENT_ID } from './attachment-model.js';
import {
  ATTACHMENT_TYPE_SYSTEM,
  DOCUMENT_REFERENCE_PROFILE,
  type LetterFile,
} from './letter-model.js';

/** As long as a description may be (e-RS's professional application allows this much). */
const MAX_DESCRIPTION = 2000;
/** More files than any letter holds; the request is refused rather than walked. */
export const MAX_LETTER_FILES = 50;

export function parseMaintainReferralLetter(body: unknown): LetterFile[] {
  if (!isObject(body) || body.resourceType !== 'Parameters')
    throw structure('the body must be a Parameters resource');
  if (!Array.isArray(body.parameter))
    throw structure('Parameters.parameter must be an array of parameters');
  const params = body.parameter as unknown[];
  params.forEach((p, i) => {
    if (!isObject(p)) throw structure(`'parameter[${i}]' must be an object`);
    if (p.name !== 'referralLetterFile')
      throw ersError(
        422,
        'value',
        'UNEXPECTED_FIELD',
        `'parameter[${i}]' (${String(p.name).slice(0, 40)}) unknown parameter name`,
      );
  });
  if (params.length === 0)
    throw ersError(
      422,
      'required',
      'MISSING_VALUE',
      "at least one 'referralLetterFile' parameter is required: a referral keeps at least one letter file",
    );
  if (params.length > MAX_LETTER_FILES)
    throw ersError(
      422,
      'value',
      'TOO_MANY_ITEMS',
      `a referral letter may hold at most ${MAX_LETTER_FILES} files; ${params.length} were given`,
    );
  return params.map((p, i) => letterFile((p as Record<string, unknown>).resource, i));
}

function letterFile(resource: unknown, i: number): LetterFile {
  const at = `'referralLetterFile[${i}]'`;
  if (!isObject(resource) || resource.resourceType !== 'DocumentReference')
    throw structure(`${at} must carry a DocumentReference resource`);
  const profile = resource.meta?.profile;
  if (
    profile !== undefined &&
    !(Array.isArray(profile) && profile.includes(DOCUMENT_REFERENCE_PROFILE))
  )
    throw invalid(`${at} meta.profile must be ${DOCUMENT_REFERENCE_PROFILE}`);
  const coding = resource.type?.coding;
  if (
    !Array.isArray(coding) ||
    coding.length !== 1 ||
    !isObject(coding[0]) ||
    coding[0].system !== ATTACHMENT_TYPE_SYSTEM ||
    coding[0].code !== 'REFERRER'
  )
    throw ersError(
      422,
      'code-invalid',
      'INVALID_CODE',
      `${at} type must be REFERRER (${ATTACHMENT_TYPE_SYSTEM})`,
    );
  if (resource.status !== 'current') throw invalid(`${at} status must be 'current'`);
  const indexed = resource.indexed;
  if (
    typeof indexed !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(indexed) ||
    !Number.isFinite(Date.parse(indexed))
  )
    throw invalid(`${at} indexed must be a date-time`);
  const description = resource.description;
  if (
    description !== undefined &&
    description !== null &&
    (typeof description !== 'string' || description.length > MAX_DESCRIPTION)
  )
    throw invalid(`${at} description must be a string of at most ${MAX_DESCRIPTION} characters`);
  const content = resource.content;
  if (!Array.isArray(content) || content.length !== 1 || !isObject(content[0]))
    throw structure(`${at} content must hold exactly one attachment`);
  const url = content[0].attachment?.url;
  const m = typeof url === 'string' ? /^Binary\/(.+)$/.exec(url) : null;
  if (!m || !ATTACHMENT_ID.test(m[1]))
    throw invalid(`${at} content[0].attachment.url must be Binary/{id} of an uploaded file`);
  return { attachmentId: m[1], ...(description ? { description } : {}) };
}
