import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import { auditRecord } from '../audit/audit-record.js';
import { RevocationList } from '../security/accounts/revocations.js';
import { SESSION_TYPE, SessionStore } from '../security/accounts/sessions.js';
import { UserDirectory, UserInputError } from '../security/accounts/users.js';
import { roleName } from '../security/policy.js';
import { openRepository } from '../store/open.js';
import type { Repository } from '../store/repository.js';

export type CliValues = Record<string, unknown>;

/** A string option's value; a repeated or valueless one is bad input. */
export function option(values: CliValues, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UserInputError(`--${name} needs a value`);
  return value;
}

/** Who ran the command, for the audit trail. */
export function operator(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/**
 * Runs a user or client account command on the configured store, closing it after. Bad input is a
 * one-line message and exit code 2; every change is written to the audit trail as a security event.
 */
export async function withAccountStore(
  config: Config,
  run: (
    repo: Repository,
    audit: (action: string, outcome: string, detail: Record<string, unknown>) => Promise<void>,
  ) => Promise<number>,
): Promise<number> {
  const repo = await openRepository(config);
  const by = operator();
  const audit = async (action: string, outcome: string, detail: Record<string, unknown>) => {
    const record = auditRecord({ requestId: randomUUID() }, action, null, outcome, detail, {
      type: 'security',
    });
    record.userId = by;
    await repo.commit({ audit: [record] });
  };
  try {
    return await run(repo, audit);
  } catch (err) {
    if (err instanceof UserInputError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  } finally {
    await repo.close();
  }
}

/** `openspine user add|list|revoke`. */
export async function userCommand(
  config: Config,
  args: string[],
  values: CliValues,
): Promise<number> {
  const [sub, target] = args;
  if (sub !== 'add' && sub !== 'list' && sub !== 'revoke') {
    console.error(`user needs add, list or revoke, got '${sub ?? ''}'`);
    return 2;
  }
  return withAccountStore(config, async (repo, audit) => {
    const users = new UserDirectory(repo);
    if (sub === 'list') {
      const all = await users.list();
      if (all.length === 0) console.log('no users');
      for (const u of all) {
        const profiles = u.roleProfiles
          .map((p) => `${p.id}: ${p.role} (${roleName(p.role)}) at ${p.org}`)
          .join('; ');
        console.log(`${u.id}\t${u.name}\t${u.status}\t${profiles || '(no role profiles)'}`);
      }
      return 0;
    }
    if (sub === 'add') {
      const id = option(values, 'id');
      const role = option(values, 'role');
      const org = option(values, 'org')?.toUpperCase();
      const pin = option(values, 'pin');
      if (!role || !org) throw new UserInputError('user add needs --role CODE and --org ODS');
      if (pin !== undefined && !/^[^\s]{4,64}$/.test(pin))
        throw new UserInputError('--pin must be 4-64 characters with no spaces');
      // adding a profile to an existing user need not repeat the name
      const name = option(values, 'name') ?? (id ? (await users.get(id))?.name : undefined);
      if (!name) throw new UserInputError('user add needs --name "Full Name"');
      const user = await users.add({ id, name, pin, profiles: [{ role, org }] });
      const profile = user.roleProfiles.find((p) => p.role === role && p.org === org)!;
      await audit('user.add', 'added', {
        subject: user.id,
        profileId: profile.id,
        role,
        org,
        pinSet: pin !== undefined,
      });
      console.log(
        `user ${user.id} (${user.name}): profile ${profile.id} ${role} (${roleName(role)}) at ${org}${user.pinHash ? '' : '; no passcode set, so no development sign-in (add --pin)'}`,
      );
      return 0;
    }
    if (!target) throw new UserInputError('user revoke needs the user ID');
    const revocations = new RevocationList(repo, 0);
    const sessionId = option(values, 'session');
    if (sessionId) {
      const sessions = new SessionStore(repo);
      const session = /^[0-9a-f-]{36}$/.test(sessionId) ? await sessions.get(sessionId) : null;
      if (!session || session.userId !== target)
        throw new UserInputError(`user ${target} has no session ${sessionId}`);
      await sessions.end(session.id);
      await revocations.revoke({ session: session.id }, 'revoked by an administrator', operator());
      await audit('session.revoke', 'revoked', { subject: target, sessionId: session.id });
      console.log(
        `revoked session ${session.id} of user ${target}; running servers refuse its tokens within their revocation cache time (default 1 s)`,
      );
      return 0;
    }
    const account = await users.get(target);
    if (!(await users.markRevoked(target))) throw new UserInputError(`no user ${target}`);
    await revocations.revoke({ user: target }, 'revoked by an administrator', operator());
    // a patient account's access tokens name the patient (sub is the NHS Number), not the
    // account, so the user revocation does not reach them: its sessions are revoked as well
    if (account?.patient) {
      const sessions = new SessionStore(repo);
      const ids = await repo.search({
        type: SESSION_TYPE,
        criteria: [{ any: [{ param: 'user', op: 'eq', value: target }] }],
        limit: 10_000,
      });
      for (const id of ids) {
        await sessions.end(id);
        await revocations.revoke({ session: id }, 'revoked by an administrator', operator());
      }
    }
    await audit('user.revoke', 'revoked', { subject: target });
    console.log(
      `revoked user ${target}; running servers refuse their tokens within their revocation cache time (default 1 s)`,
    );
    return 0;
  });
}
