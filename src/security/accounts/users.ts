import { resourceType, type ResourceStore } from '../../store/resource-store.js';
import { randomInt } from 'node:crypto';
import { isKnownRole, PATIENT_ROLE } from '../policy.js';
import { createOnce, hashSecret, replaceIfUnchanged, verifySecret } from './records.js';

export const USER_TYPE = resourceType<SecurityUser>('SecurityUser');

/** One of a user's role profiles: a role held at an organisation (as on a smartcard). */
export interface RoleProfile {
  id: string;
  role: string;
  org: string;
  orgName?: string;
}

export interface SecurityUser {
  resourceType: typeof USER_TYPE;
  id: string;
  name: string;
  status: 'active' | 'revoked';
  /** scrypt hash of the passcode the development login page asks for (stands in for the smartcard PIN). */
  pinHash?: string;
  roleProfiles: RoleProfile[];
  /**
   * Set on a patient's account (NHS login in miniature): the account signs in as this patient, at
   * identity proofing level P9, and holds no role profiles.
   */
  patient?: { nhsNumber: string };
  revokedAt?: string;
}

/** The role profile id a patient account's sessions and codes carry. */
export const PATIENT_PROFILE_ID = 'patient';

export interface NewUser {
  id?: string;
  name: string;
  pin?: string;
  profiles: Omit<RoleProfile, 'id'>[];
}

export class UserInputError extends Error {}

const USER_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ODS = /^[A-Z0-9]{3,8}$/;

/** Staff users and their role profiles (the national directory of smartcard holders, in miniature). */
export class UserDirectory {
  constructor(private readonly repo: ResourceStore) {}

  /** Adds a user, or adds role profiles to an existing one. Returns the user as stored. */
  async add(input: NewUser): Promise<SecurityUser> {
    const id =
      input.id ?? String(randomInt(100_000, 999_999)) + String(randomInt(100_000, 999_999)); // 12 digits, as a CIS2 UID
    if (!USER_ID.test(id))
      throw new UserInputError(`user id '${id}' must be 1-64 letters, digits, '.', '_' or '-'`);
    if (!input.name.trim()) throw new UserInputError('a user needs a name');
    for (const p of input.profiles) {
      if (!isKnownRole(p.role) || p.role === PATIENT_ROLE)
        throw new UserInputError(`role ${p.role} is not in the RBAC policy table`);
      if (!ODS.test(p.org)) throw new UserInputError(`org must be an ODS code, got '${p.org}'`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.repo.read(USER_TYPE, id);
      const current = existing?.resource;
      // a patient's NHS login account never becomes a staff user (nor takes its passcode with it)
      if (current?.patient)
        throw new UserInputError(`user ${id} is a patient account, not a staff user`);
      const profiles = [...(current?.roleProfiles ?? [])];
      for (const p of input.profiles) {
        if (!profiles.some((q) => q.role === p.role && q.org === p.org))
          profiles.push({ ...p, id: `${id}-${profiles.length + 1}` });
      }
      const user: SecurityUser = {
        resourceType: USER_TYPE,
        id,
        name: input.name.trim(),
        status: current?.status ?? 'active',
        pinHash: input.pin ? hashSecret(input.pin) : current?.pinHash,
        roleProfiles: profiles,
        ...(current?.revokedAt ? { revokedAt: current.revokedAt } : {}),
      };
      const ok = existing
        ? await replaceIfUnchanged(this.repo, existing, user, [{ param: 'kind', value: 'user' }])
        : await createOnce(this.repo, USER_TYPE, id, user, [{ param: 'kind', value: 'user' }]);
      if (ok) return user;
    }
    throw new Error(`user ${id} is being changed by someone else; try again`);
  }

  /** Adds (or renames, or sets the passcode of) a patient's sign-in account for their NHS Number. */
  async addPatient(input: {
    id: string;
    name: string;
    pin: string;
    nhsNumber: string;
  }): Promise<SecurityUser> {
    if (!USER_ID.test(input.id))
      throw new UserInputError(
        `user id '${input.id}' must be 1-64 letters, digits, '.', '_' or '-'`,
      );
    if (!/^\d{10}$/.test(input.nhsNumber))
      throw new UserInputError('a patient account needs a 10-digit NHS Number');
    if (!input.name.trim()) throw new UserInputError('a user needs a name');
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.repo.read(USER_TYPE, input.id);
      if (existing && !existing.resource.patient)
        throw new UserInputError(`user ${input.id} is a staff user, not a patient account`);
      const user: SecurityUser = {
        resourceType: USER_TYPE,
        id: input.id,
        name: input.name.trim(),
        status: existing?.resource.status ?? 'active',
        pinHash: hashSecret(input.pin),
        roleProfiles: [],
        patient: { nhsNumber: input.nhsNumber },
      };
      const index = [{ param: 'kind', value: 'patient' }];
      const ok = existing
        ? await replaceIfUnchanged(this.repo, existing, user, index)
        : await createOnce(this.repo, USER_TYPE, input.id, user, index);
      if (ok) return user;
    }
    throw new Error(`user ${input.id} is being changed by someone else; try again`);
  }

  async get(id: string): Promise<SecurityUser | null> {
    return (await this.repo.read(USER_TYPE, id))?.resource ?? null;
  }

  async list(limit = 1000): Promise<SecurityUser[]> {
    const ids = await this.repo.search({
      type: USER_TYPE,
      criteria: [{ any: [{ param: 'kind', op: 'eq', value: 'user' }] }],
      limit,
    });
    return (await this.repo.readMany(USER_TYPE, ids)).map((s) => s.resource);
  }

  /** The active user with this id and passcode, or null (same answer for unknown user, wrong passcode, revoked). */
  async authenticate(id: string, pin: string): Promise<SecurityUser | null> {
    const user = USER_ID.test(id) ? await this.get(id) : null;
    const ok = verifySecret(pin, user?.pinHash ?? DUMMY_HASH);
    return ok && user && user.status === 'active' ? user : null;
  }

  /** Marks the user revoked (no new sign-ins or refreshes); the caller also adds them to the revocation list. */
  async markRevoked(id: string): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.repo.read(USER_TYPE, id);
      if (!stored) return false;
      const user = stored.resource;
      if (user.status === 'revoked') return true;
      if (
        await replaceIfUnchanged(
          this.repo,
          stored,
          { ...user, status: 'revoked', revokedAt: new Date().toISOString() },
          // a patient account stays out of the staff user list
          [{ param: 'kind', value: user.patient ? 'patient' : 'user' }],
        )
      )
        return true;
    }
    throw new Error(`user ${id} is being changed by someone else; try again`);
  }
}

// verifying against a fixed hash for unknown users keeps the answer time the same as for a wrong passcode
const DUMMY_HASH = hashSecret('no-such-user');
