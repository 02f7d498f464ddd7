import type { CookieSerializeOptions } from '@fastify/cookie';
import type { ServiceDeps } from '../service-deps.js';
import type { PlatformClient } from './platform-client.js';
import type { WebSessionStore } from './web-session.js';

/** What every page module of the web application is built with. */
export interface WebContext {
  /** The platform's APIs, called as the signed-in person: the pages' only way to patient data. */
  client: PlatformClient;
  sessions: WebSessionStore;
  publicUrl: string;
  /** The session cookie's name and options (HttpOnly, SameSite=Lax, Secure when served over TLS). */
  sessionCookie: string;
  cookieOptions: CookieSerializeOptions;
  /** How long a session may last at most: the identity provider's session length. */
  sessionSeconds: number;
  /** The platform's shared parts, for the few pages that report on the platform itself. */
  deps: ServiceDeps;
}
