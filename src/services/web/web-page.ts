import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { navigationFor, patientTabs } from './navigation.js';
import { APP_ASSETS, NHSUK_ASSETS, WEB_BASE } from './paths.js';
import type { ApiRequest, ApiResponse, PlatformClient, SignedIn } from './platform-client.js';
import type { WebUser } from './web-session.js';

/** Who may open a page: staff, patients, either, or anyone (the landing and signed-out pages). */
export type WebAudience = 'staff' | 'patient' | 'signed-in' | 'anyone';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** On web application pages: who may open the page (the web plugin's hook checks it). */
    webAudience?: WebAudience;
  }
  interface FastifyRequest {
    /** The web application's signed-in person, when the session cookie names a live session. */
    webSignedIn: SignedIn | null;
    /** One id for the page view, carried as X-Correlation-ID on every API call it makes. */
    webCorrelationId: string;
  }
}

/** A person is not signed in (or their session ended) on a page that needs them to be. */
export class SignInRequired extends Error {}

/** The signed-in person of a page whose audience guarantees one. */
export function signedIn(req: FastifyRequest): SignedIn {
  if (!req.webSignedIn) throw new SignInRequired('sign in to see this page');
  return req.webSignedIn;
}

export function userOf(req: FastifyRequest): WebUser {
  return signedIn(req).session.user;
}

/** What every page handler gets: the person, and calls to the platform's APIs as them. */
export interface PageTools {
  user: WebUser;
  who: SignedIn;
  /** Calls an API; the answer whatever its status (the page decides what a 4xx means). */
  call(req: ApiRequest): Promise<ApiResponse>;
  /** Calls an API; anything but 2xx becomes the error page, with the request id to quote. */
  expect(req: ApiRequest): Promise<ApiResponse>;
}

export function pageTools(client: PlatformClient, req: FastifyRequest): PageTools {
  const who = signedIn(req);
  return {
    user: who.session.user,
    who,
    call: (api) => client.call(who, api, req.webCorrelationId),
    expect: (api) => client.expect(who, api, req.webCorrelationId),
  };
}

/**
 * The pages' headers: never cached (they carry patient data and one-time form tokens), never
 * framed, scripts only from this origin and the template's one inline line by nonce.
 */
function pageHeaders(reply: FastifyReply, nonce: string): FastifyReply {
  return reply.headers({
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-security-policy': [
      "default-src 'self'",
      `script-src 'self' 'nonce-${nonce}'`,
      "style-src 'self'",
      "img-src 'self' data:",
      // nhsuk-frontend's CSS loads the NHS's licensed Frutiger font from the NHS's own asset host
      "font-src 'self' https://assets.nhs.uk",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "object-src 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  });
}

/** A patient page's banner data: the NHS patient banner shows who the page is about. */
export interface PatientBanner {
  nhsNumber: string;
  name: string;
  birthDate?: string;
  gender?: string;
  /** Restricted (sensitive) record: the banner says so, and no address is shown anywhere. */
  restricted?: boolean;
  deceased?: string;
  address?: string;
}

export interface PageData {
  /** The page's title (the h1 and the document title). */
  title: string;
  /** The patient a staff page is about: the banner and the record's tabs are shown. */
  patient?: PatientBanner;
  /** Which tab of the patient's record is open (its href). */
  activeTab?: string;
  [key: string]: unknown;
}

/** Renders a page of the web application with the NHS layout, its navigation and a form token. */
export async function renderPage(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  template: string,
  data: PageData,
): Promise<FastifyReply> {
  const nonce = randomBytes(16).toString('base64');
  const user = req.webSignedIn?.session.user ?? null;
  // a form token is good only in the session it was issued in (see plugin.ts, csrfOpts)
  const csrfToken = reply.generateCsrf({ userInfo: req.webSignedIn?.session.id ?? 'signed-out' });
  pageHeaders(reply, nonce).code(status);
  const path = req.url.split('?')[0];
  const navigation = user ? navigationFor(user) : [];
  // the header marks the journey the page belongs to: the longest item the path falls under
  const current = navigation
    .filter((n) => path === n.href || path.startsWith(`${n.href}/`))
    .sort((a, b) => b.href.length - a.href.length)[0]?.href;
  return reply.view(template, {
    ...data,
    user,
    navigation: navigation.map((n) => ({ ...n, current: n.href === current })),
    tabs: user && data.patient ? patientTabs(user, data.patient.nhsNumber) : [],
    csrfToken,
    cspNonce: nonce,
    base: WEB_BASE,
    nhsukAssets: NHSUK_ASSETS,
    appAssets: APP_ASSETS,
    currentPath: path,
  });
}

/** A redirect after a form post (post/redirect/get), never cached. */
export function redirectTo(reply: FastifyReply, path: string): FastifyReply {
  return reply.header('cache-control', 'no-store').redirect(path, 303);
}

export function newCorrelationId(): string {
  return randomUUID();
}

/** Route schema for pages under /patient/:nhsNumber (a malformed number is a 400 page). */
export const NHS_NUMBER_PARAMS = {
  params: {
    type: 'object',
    properties: { nhsNumber: { type: 'string', pattern: '^[0-9]{10}$' } },
    required: ['nhsNumber'],
  },
} as const;

/** One field of a posted form, trimmed; undefined when absent or empty (the first of repeats). */
export function formField(req: FastifyRequest, name: string): string | undefined {
  const body = req.body as Record<string, unknown> | undefined;
  const raw = body?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}
