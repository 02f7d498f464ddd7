/**
 * The web application calls the platform's APIs by their published paths (src/services/web/
 * api-paths.ts), as a supplier's system would; each must be the path its service serves.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { API } from '../src/services/web/api-paths.js';
import { PDS_BASE } from '../src/services/pds/base-path.js';
import { SCR_BASE } from '../src/services/scr/routes.js';
import { EPS_BASE } from '../src/services/eps/routes.js';
import { GP2GP_BASE } from '../src/services/gp2gp/routes.js';
import { SECURITY_BASE } from '../src/services/security/routes.js';
import { DIRECTORY_BASE } from '../src/services/directory/routes.js';
import { NOTIFICATIONS_BASE } from '../src/services/notifications/routes.js';
import { REFERRALS_BASE } from '../src/services/referrals/routes.js';
import { REFERRALS_R4_BASE } from '../src/services/referrals/r4-routes.js';
import { PATIENT_REFERRALS_BASE } from '../src/services/referrals/patient-routes.js';
import { MESSAGING_BASE } from '../src/services/messaging/dead-letter-routes.js';

it("the web application's API paths are the services' own", () => {
  assert.deepEqual(API, {
    pds: PDS_BASE,
    scr: SCR_BASE,
    eps: EPS_BASE,
    gp2gp: GP2GP_BASE,
    security: SECURITY_BASE,
    directory: DIRECTORY_BASE,
    notifications: NOTIFICATIONS_BASE,
    referrals: REFERRALS_BASE,
    referralsR4: REFERRALS_R4_BASE,
    patientReferrals: PATIENT_REFERRALS_BASE,
    messaging: MESSAGING_BASE,
  });
});
