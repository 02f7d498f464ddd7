import type { Config } from '../../config.js';
import { ClientRegistry } from '../../security/accounts/clients.js';
import type { RevocationList } from '../../security/accounts/revocations.js';
import { SessionStore } from '../../security/accounts/sessions.js';
import { UserDirectory } from '../../security/accounts/users.js';
import type { SecuritySignals } from '../../observability/metrics.js';
import type { SigningKey } from '../../security/embedded-idp.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { LoginThrottle } from './login-throttle.js';
import { TransactionSigner } from './login-transaction.js';

/** What the sign-in and token endpoints share: the directories, the key, and the issuer's addresses. */
export interface IdentityContext {
  repo: ResourceStore;
  signingKey: SigningKey;
  config: Pick<Config, 'publicUrl' | 'audience' | 'accessTokenSeconds'>;
  revocations: RevocationList;
  issuer: string;
  /** The token endpoint URL: the audience client assertions must name. */
  tokenUrl: string;
  users: UserDirectory;
  clients: ClientRegistry;
  sessions: SessionStore;
  transactions: TransactionSigner;
  throttle: LoginThrottle;
  /** Sign-in failures and lockouts are counted here (the operations metrics), when metrics are on. */
  signals?: SecuritySignals;
}

export function identityContext(
  deps: Pick<
    IdentityContext,
    'repo' | 'signingKey' | 'config' | 'revocations' | 'issuer' | 'signals'
  >,
): IdentityContext {
  return {
    ...deps,
    tokenUrl: `${deps.issuer}/token`,
    users: new UserDirectory(deps.repo),
    clients: new ClientRegistry(deps.repo),
    sessions: new SessionStore(deps.repo),
    transactions: new TransactionSigner(deps.signingKey, deps.issuer, deps.repo),
    throttle: new LoginThrottle(),
  };
}
