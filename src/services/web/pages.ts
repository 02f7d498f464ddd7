import type { FastifyInstance } from 'fastify';
import { accessibilityPages } from './accessibility-pages.js';
import { demographicsPages } from './demographics-pages.js';
import { myRecordPages } from './my-record-pages.js';
import { myReferralPages } from './my-referral-pages.js';
import { operationsPages } from './operations-pages.js';
import { patientSearchPages } from './patient-search-pages.js';
import { prescriptionPages } from './prescription-pages.js';
import { privacyPages } from './privacy-pages.js';
import { referralPages } from './referral-pages.js';
import { scrPages } from './scr-pages.js';
import { transferPages } from './transfer-pages.js';
import type { WebContext } from './web-context.js';

/** Every page module of the application, one per journey; plugin.ts registers each under /app. */
export const WEB_PAGES: ((ctx: WebContext) => (web: FastifyInstance) => Promise<void>)[] = [
  patientSearchPages,
  demographicsPages,
  scrPages,
  privacyPages,
  prescriptionPages,
  transferPages,
  referralPages,
  myRecordPages,
  myReferralPages,
  operationsPages,
  accessibilityPages,
];
