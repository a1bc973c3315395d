// The human test identities of the local plane (static token file) and the components' own identities.
// Agents are not listed: they are ServiceAccounts and authenticate with TokenRequest tokens.
import { randomBytes } from 'node:crypto';

export const APPROVERS_GROUP = 'm87:approvers';
export const VIEWERS_GROUP = 'm87:viewers';

export const USER_CONTEXTS = ['admin', 'alice', 'bob', 'viewer'] as const;
export type UserContext = (typeof USER_CONTEXTS)[number];

export interface StaticIdentity {
  readonly name: string;
  readonly groups: readonly string[];
}

export const USER_IDENTITIES: Readonly<Record<UserContext, StaticIdentity>> = {
  admin: { name: 'admin', groups: ['system:masters'] },
  alice: { name: 'alice', groups: [APPROVERS_GROUP] },
  bob: { name: 'bob', groups: [APPROVERS_GROUP] },
  viewer: { name: 'viewer', groups: [VIEWERS_GROUP] },
};

// The scheduler is bound by Kubernetes' bootstrap RBAC (system:kube-scheduler). The controller manager's own
// identity only creates the per-controller ServiceAccounts and their tokens (--use-service-account-credentials);
// it is in system:masters so the plane does not depend on the bootstrap role's exact grants.
export const COMPONENT_IDENTITIES = {
  'kube-controller-manager': { name: 'system:kube-controller-manager', groups: ['system:masters'] },
  'kube-scheduler': { name: 'system:kube-scheduler', groups: [] },
} as const satisfies Record<string, StaticIdentity>;

export type ComponentIdentity = keyof typeof COMPONENT_IDENTITIES;

export interface IssuedToken {
  readonly identity: StaticIdentity;
  readonly token: string;
}

export function isUserContext(value: string): value is UserContext {
  return (USER_CONTEXTS as readonly string[]).includes(value);
}

export function issueStaticTokens(): { users: Record<UserContext, IssuedToken>; components: Record<ComponentIdentity, IssuedToken> } {
  const token = (): string => randomBytes(24).toString('hex');
  const users = Object.fromEntries(
    USER_CONTEXTS.map((context) => [context, { identity: USER_IDENTITIES[context], token: token() }]),
  ) as Record<UserContext, IssuedToken>;
  const components: Record<ComponentIdentity, IssuedToken> = {
    'kube-controller-manager': { identity: COMPONENT_IDENTITIES['kube-controller-manager'], token: token() },
    'kube-scheduler': { identity: COMPONENT_IDENTITIES['kube-scheduler'], token: token() },
  };
  return { users, components };
}

/** kube-apiserver --token-auth-file format: token,user,uid,"group1,group2". */
export function tokenAuthFile(tokens: readonly IssuedToken[]): string {
  return tokens
    .map(({ identity, token }) => {
      const groups = identity.groups.length > 0 ? `,"${identity.groups.join(',')}"` : '';
      return `${token},${identity.name},${identity.name}${groups}`;
    })
    .join('\n')
    .concat('\n');
}
