import type { Config, Flags } from '../config.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { loadOrCreateSigningKey, mintPatientToken, mintToken } from '../security/embedded-idp.js';
import { isKnownRole, PATIENT_ROLE } from '../security/policy.js';

function ttlOf(flags: Flags): number | undefined | null {
  if (flags.ttl === undefined) return undefined;
  const ttl = Number(flags.ttl);
  return Number.isInteger(ttl) && ttl > 0 ? ttl : null;
}

/**
 * Prints one line: a bearer token from the data directory's development identity provider, for a
 * staff role profile (--role --user --org) or for a patient (--patient NHS_NUMBER, NHS login P9).
 */
export async function tokenCommand(config: Config, flags: Flags): Promise<number> {
  const { role, user, org, patient } = flags;
  const name = typeof flags.name === 'string' ? flags.name : undefined;
  const ttl = ttlOf(flags);
  if (ttl === null) {
    console.error('--ttl must be a positive whole number of seconds');
    return 2;
  }
  if (typeof patient === 'string') {
    if (!isValidNhsNumber(patient)) {
      console.error(`--patient must be a valid NHS Number, got '${patient}'`);
      return 2;
    }
    const key = await loadOrCreateSigningKey(config.dataDir);
    console.log(
      await mintPatientToken(key, {
        nhsNumber: patient,
        name,
        audience: config.audience,
        ttlSeconds: ttl,
      }),
    );
    return 0;
  }
  if (typeof role !== 'string' || typeof user !== 'string' || typeof org !== 'string') {
    console.error(
      'token needs --role CODE --user ID --org ODS (staff) or --patient NHS_NUMBER (patient)',
    );
    return 2;
  }
  if (role === PATIENT_ROLE) {
    console.error('a staff token cannot carry the patient role; use --patient NHS_NUMBER');
    return 2;
  }
  if (!isKnownRole(role))
    console.error(
      `warning: role ${role} is not in the RBAC policy table; its token will be refused every activity`,
    );
  if (!/^[A-Z0-9]{3,8}$/i.test(org)) {
    console.error(`--org must be an ODS code, got '${org}'`);
    return 2;
  }
  const key = await loadOrCreateSigningKey(config.dataDir);
  console.log(
    await mintToken(key, {
      userId: user,
      role,
      org: org.toUpperCase(),
      name,
      audience: config.audience,
      ttlSeconds: ttl,
    }),
  );
  return 0;
}
