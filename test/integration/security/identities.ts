// The identities of the security matrix: real credentials from the test plane (static tokens for the human
// users, TokenRequest tokens for ServiceAccounts), never impersonation.
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { clusterKubeConfig, serviceAccountKubeConfig } from '../../support/kube.ts';

export const IDENTITIES = ['admin', 'alice', 'bob', 'viewer', 'agent', 'intern', 'editor', 'stranger', 'anonymous', 'controller'] as const;
export type Identity = (typeof IDENTITIES)[number];

export interface IdentityContext {
  /** The controller's namespace (the release namespace). */
  controllerNamespace: string;
  controllerServiceAccount: string;
  /** The job namespace, where agents propose and job Pods run. */
  jobNamespace: string;
}

export const AGENT_SA = 'casey';

/** Username of each identity as the API server sees it. */
export function usernameOf(id: Identity, ctx: IdentityContext): string {
  switch (id) {
    case 'admin':
    case 'alice':
    case 'bob':
    case 'viewer':
      return id;
    case 'agent':
      return `system:serviceaccount:${ctx.jobNamespace}:${AGENT_SA}`;
    case 'intern':
    case 'editor':
    case 'stranger':
      return `system:serviceaccount:${ctx.jobNamespace}:${id}`;
    case 'anonymous':
      return 'system:anonymous';
    case 'controller':
      return `system:serviceaccount:${ctx.controllerNamespace}:${ctx.controllerServiceAccount}`;
  }
}

export function describeIdentities(ctx: IdentityContext): { name: Identity; description: string }[] {
  const u = (id: Identity): string => `\`${usernameOf(id, ctx)}\``;
  return [
    { name: 'admin', description: `${u('admin')}, group system:masters (cluster admin; RBAC allows it everything)` },
    { name: 'alice', description: `${u('alice')}, group m87:approvers → ClusterRole m87-approver (chart default binding)` },
    { name: 'bob', description: `${u('bob')}, group m87:approvers → ClusterRole m87-approver` },
    { name: 'viewer', description: `${u('viewer')}, group m87:viewers → ClusterRole m87-viewer` },
    { name: 'agent', description: `${u('agent')}: ServiceAccount bound to ClusterRole m87-agent in the job namespace (chart value agents.namespaces); TokenRequest token` },
    {
      name: 'intern',
      description: `${u('intern')}: ServiceAccount with a test Role that may create/read Approvals and read Proposals, but does not hold the verb approve`,
    },
    { name: 'editor', description: `${u('editor')}: ServiceAccount bound to the built-in ClusterRole edit in the job namespace (a namespace editor or a compromised workload)` },
    { name: 'stranger', description: `${u('stranger')}: ServiceAccount with no role bindings` },
    { name: 'anonymous', description: `${u('anonymous')}: a request without credentials (the API server's anonymous authentication is on)` },
    { name: 'controller', description: `${u('controller')}: the controller's ServiceAccount from the chart (ClusterRole and Role m87-controller); TokenRequest token` },
  ];
}

/** Test-only RBAC for intern and editor (the chart binds agent, approvers, viewers and the controller). */
async function bindTestIdentities(admin: KubeConfig, ns: string): Promise<void> {
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}`;
  await kubeRequest(admin, {
    method: 'POST',
    path: `${rbac}/roles`,
    body: {
      metadata: { name: 'sec-approval-writer' },
      rules: [
        { apiGroups: ['governance.m87.io'], resources: ['approvals'], verbs: ['create', 'get', 'list', 'watch'] },
        { apiGroups: ['governance.m87.io'], resources: ['proposals'], verbs: ['get', 'list', 'watch'] },
      ],
    },
  });
  const binding = (name: string, roleRef: { kind: string; name: string }, sa: string) => ({
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
    subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
  });
  await kubeRequest(admin, { method: 'POST', path: `${rbac}/rolebindings`, body: binding('sec-intern', { kind: 'Role', name: 'sec-approval-writer' }, 'intern') });
  await kubeRequest(admin, { method: 'POST', path: `${rbac}/rolebindings`, body: binding('sec-editor', { kind: 'ClusterRole', name: 'edit' }, 'editor') });
}

/** A KubeConfig that trusts the cluster's CA but presents no credentials at all. */
function anonymousKubeConfig(admin: KubeConfig): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('the admin KubeConfig has no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster }],
    users: [{ name: 'anonymous' }],
    contexts: [{ name: 'anonymous', cluster: cluster.name, user: 'anonymous' }],
    currentContext: 'anonymous',
  });
  return kc;
}

/** KubeConfigs for every identity. */
export async function identityKubeConfigs(ctx: IdentityContext): Promise<Record<Identity, KubeConfig>> {
  const admin = clusterKubeConfig('admin');
  await bindTestIdentities(admin, ctx.jobNamespace);
  const ns = ctx.jobNamespace;
  const [agent, intern, editor, stranger, controller] = await Promise.all([
    serviceAccountKubeConfig(ns, AGENT_SA),
    serviceAccountKubeConfig(ns, 'intern'),
    serviceAccountKubeConfig(ns, 'editor'),
    serviceAccountKubeConfig(ns, 'stranger'),
    serviceAccountKubeConfig(ctx.controllerNamespace, ctx.controllerServiceAccount),
  ]);
  return {
    admin,
    alice: clusterKubeConfig('alice'),
    bob: clusterKubeConfig('bob'),
    viewer: clusterKubeConfig('viewer'),
    agent,
    intern,
    editor,
    stranger,
    anonymous: anonymousKubeConfig(admin),
    controller,
  };
}
