// The security templates as rendered by helm: exactly the designed rules per role (least privilege cannot
// drift silently), every rule documented in the template, the values behaving as documented.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR, controllerUsername, renderSecurityManifests, type RenderedObject, type SecurityValues } from '../../../dev/security/chart.ts';

const NS = 'm87-system';
const render = (values: SecurityValues = {}): RenderedObject[] => renderSecurityManifests({ namespace: NS, values });
const find = (objects: RenderedObject[], kind: string, name: string, namespace?: string): RenderedObject | undefined =>
  objects.find((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** A role's rules as "group/resource: verbs" lines, sorted (order and grouping of rules do not matter). */
function permissions(role: RenderedObject | undefined): string[] {
  const rules = (role?.rules as Rule[] | undefined) ?? [];
  return rules
    .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g === '' ? 'core' : g}/${res}: ${[...r.verbs].sort().join(',')}`)))
    .sort();
}

const M87 = 'governance.m87.io';

describe('RBAC roles: exactly the designed permissions', () => {
  const objects = render();

  it('m87-agent: propose and read; never update, delete, approve or write status', () => {
    expect(permissions(find(objects, 'ClusterRole', 'm87-agent'))).toEqual(
      [`${M87}/proposals: create,get,list,watch`, `${M87}/decisions: get,list,watch`, `${M87}/jobs: get,list,watch`, 'core/configmaps: get'].sort(),
    );
  });

  it('m87-approver: create approvals, the custom verb approve on proposals, read the rest', () => {
    expect(permissions(find(objects, 'ClusterRole', 'm87-approver'))).toEqual(
      [
        `${M87}/approvals: create,get,list,watch`,
        `${M87}/proposals: approve`,
        `${M87}/proposals: get,list,watch`,
        `${M87}/decisions: get,list,watch`,
        `${M87}/jobs: get,list,watch`,
        `${M87}/agentprofiles: get,list,watch`,
        `${M87}/governancepolicies: get,list,watch`,
        `${M87}/tools: get,list,watch`,
      ].sort(),
    );
  });

  it('m87-viewer: read every m87 kind, nothing else', () => {
    const kinds = ['proposals', 'decisions', 'approvals', 'jobs', 'agentprofiles', 'governancepolicies', 'tools'];
    expect(permissions(find(objects, 'ClusterRole', 'm87-viewer'))).toEqual(kinds.map((k) => `${M87}/${k}: get,list,watch`).sort());
  });

  it('m87-outputs-viewer: get ConfigMaps (job outputs by name), nothing else; bound per job namespace, never cluster-wide', () => {
    expect(permissions(find(objects, 'ClusterRole', 'm87-outputs-viewer'))).toEqual(['core/configmaps: get']);
    expect(objects.filter((o) => o.kind === 'ClusterRoleBinding' && (o.roleRef as { name?: string } | undefined)?.name === 'm87-outputs-viewer')).toEqual([]);
    const bound = render({ agents: { namespaces: ['team-a', { namespace: 'team-b', serviceAccounts: ['casey'] }] }, jobNamespaces: ['team-b', 'team-c'] });
    const bindings = bound.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'm87-outputs-viewer');
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['team-a', 'team-b', 'team-c']);
    expect(bindings[0]?.subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'm87:viewers' }]);
    const none = render({ agents: { namespaces: ['team-a'] }, rbac: { viewers: { groups: [], users: [] } } });
    expect(none.filter((o) => o.metadata.name === 'm87-outputs-viewer' && o.kind === 'RoleBinding')).toEqual([]);
  });

  it('m87-controller (ClusterRole): what the controller needs and no more', () => {
    expect(permissions(find(objects, 'ClusterRole', 'm87-controller'))).toEqual(
      [
        `${M87}/proposals: delete,get,list,watch`, // retention: a finished tree after its audit record (docs/audit.md)
        `${M87}/proposals/status: patch,update`,
        `${M87}/decisions: create,get,list,watch`,
        `${M87}/decisions/status: patch`,
        `${M87}/approvals: get,list,patch,watch`,
        `${M87}/approvals/status: patch`,
        `${M87}/jobs: create,get,list,watch`,
        `${M87}/jobs/status: patch`,
        `${M87}/agentprofiles: get,list,watch`,
        `${M87}/governancepolicies: get,list,watch`,
        `${M87}/governancepolicies/status: patch`,
        `${M87}/tools: get,list,watch`,
        'core/pods: create,delete,get,list,watch',
        'core/pods/log: get', // a finished step Pod's framed outputs (src/controller/job-outputs.ts)
        'networking.k8s.io/networkpolicies: create,delete,get,list,watch',
        'core/configmaps: create,get,list,update,watch',
        'core/namespaces: get',
        'core/events: create,patch',
        'events.k8s.io/events: create,patch',
      ].sort(),
    );
  });

  it('m87-tool-admin writes Tools and nothing else; m87-tool-reader only reads them', () => {
    expect(permissions(find(objects, 'ClusterRole', 'm87-tool-admin'))).toEqual([`${M87}/tools: create,delete,get,list,patch,update,watch`]);
    expect(permissions(find(objects, 'ClusterRole', 'm87-tool-reader'))).toEqual([`${M87}/tools: get,list,watch`]);
    expect(find(objects, 'ClusterRoleBinding', 'm87-tool-admin'), 'no tool admins unless values name them').toBeUndefined();
  });

  it('m87-controller (Role): Secrets and Leases in its own namespace only', () => {
    const role = find(objects, 'Role', 'm87-controller', NS);
    expect(permissions(role)).toEqual(['core/secrets: create', 'core/secrets: get', 'coordination.k8s.io/leases: create,get,update'].sort());
    expect(find(objects, 'RoleBinding', 'm87-controller', NS)?.subjects).toEqual([{ kind: 'ServiceAccount', name: 'm87-controller', namespace: NS }]);
  });

  it('m87-controller (Role): get on exactly its two keys by name, never on every Secret of its namespace', () => {
    const secretGets = (values: SecurityValues = {}) =>
      ((find(render(values), 'Role', 'm87-controller', NS)?.rules as (Rule & { resourceNames?: string[] })[] | undefined) ?? []).filter(
        (r) => r.resources.includes('secrets') && r.verbs.includes('get'),
      );
    expect(secretGets()).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['m87-signing-key', 'm87-challenge-secret'], verbs: ['get'] }]);
    const renamed = secretGets({ signing: { existingSecret: 'team-key' }, governancePolicy: { challengeSecret: { name: 'team-hmac', key: 'k' } } });
    expect(renamed.map((r) => r.resourceNames)).toEqual([['team-key', 'team-hmac']]);
  });

  it('no role grants a wildcard, impersonation, escalation, secrets cluster-wide or pods/exec', () => {
    for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
      for (const line of permissions(role)) {
        expect(line, `${role.kind} ${role.metadata.name}`).not.toMatch(/\*|impersonate|escalate|bind|pods\/exec|pods\/attach|serviceaccounts\/token/);
        if (role.kind === 'ClusterRole') expect(line, `${role.kind} ${role.metadata.name}`).not.toMatch(/^core\/secrets/);
      }
    }
  });
});

describe('every RBAC rule is documented where it is defined', () => {
  const dir = join(CHART_DIR, 'templates', 'rbac');
  for (const file of readdirSync(dir).filter((f) => /^(cluster)?role-.*\.yaml$|^clusterrole-.*\.yaml$/.test(f))) {
    it(file, () => {
      const lines = readFileSync(join(dir, file), 'utf8').split('\n');
      const undocumented = lines
        .map((line, i) => ({ line, i }))
        .filter(({ line }) => /^\s+- apiGroups:/.test(line))
        .filter(({ i }) => !/^\s*#/.test(lines[i - 1] ?? ''))
        .map(({ line, i }) => `${file}:${i + 1}: ${line.trim()}`);
      expect(undocumented).toEqual([]);
    });
  }
});

describe('values', () => {
  it('binds approvers and viewers to the groups of values, and nothing when the lists are empty', () => {
    const defaults = render();
    expect(find(defaults, 'ClusterRoleBinding', 'm87-approver')?.subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'm87:approvers' }]);
    expect(find(defaults, 'ClusterRoleBinding', 'm87-viewer')?.subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'm87:viewers' }]);
    const none = render({ rbac: { approvers: { groups: [], users: [] }, viewers: { groups: [], users: [] } } });
    expect(find(none, 'ClusterRoleBinding', 'm87-approver')).toBeUndefined();
    expect(find(none, 'ClusterRoleBinding', 'm87-viewer')).toBeUndefined();
  });

  it('binds agents per namespace: a name binds every ServiceAccount there, an object exactly its subjects', () => {
    const objects = render({ agents: { namespaces: ['team-a', { namespace: 'team-b', serviceAccounts: ['casey'], users: ['alice'] }] } });
    expect(find(objects, 'RoleBinding', 'm87-agent', 'team-a')?.subjects).toEqual([
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:team-a' },
    ]);
    expect(find(objects, 'RoleBinding', 'm87-agent', 'team-b')?.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'casey', namespace: 'team-b' },
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' },
    ]);
    expect(objects.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'm87-agent')).toHaveLength(2);
  });

  it('lets every agent subject read Tools cluster-wide, and binds tool admins from values', () => {
    const objects = render({
      agents: { namespaces: ['team-a', { namespace: 'team-b', serviceAccounts: ['casey'], users: ['alice'] }] },
      rbac: { toolAdmins: { groups: ['platform'], users: [] } },
    });
    expect(find(objects, 'ClusterRoleBinding', 'm87-tool-reader')?.subjects).toEqual([
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:team-a' },
      { kind: 'ServiceAccount', name: 'casey', namespace: 'team-b' },
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' },
    ]);
    expect(find(objects, 'ClusterRoleBinding', 'm87-tool-admin')?.subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'platform' }]);
    expect(find(render(), 'ClusterRoleBinding', 'm87-tool-reader'), 'no agents, no binding').toBeUndefined();
  });

  it('refuses an agent namespace entry that binds nobody, naming the key', () => {
    expect(() => render({ agents: { namespaces: [{ namespace: 'team-c' }] } })).toThrow(/agents\.namespaces\[0\]/);
  });

  it('creates job namespaces enforcing Pod Security restricted', () => {
    const ns = find(render({ jobNamespaces: ['jobs-a'] }), 'Namespace', 'jobs-a');
    expect(ns?.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
      'governance.m87.io/job-namespace': 'true',
    });
  });

  it('trusts exactly the configured controller identity in every admission policy', () => {
    const values: SecurityValues = { controller: { namespace: 'ops', serviceAccount: { name: 'governor' } } };
    const username = controllerUsername(NS, values);
    expect(username).toBe('system:serviceaccount:ops:governor');
    const policies = render(values).filter((o) => o.kind === 'ValidatingAdmissionPolicy');
    const trusting = policies.filter((p) => JSON.stringify(p.spec).includes(`'${username}'`));
    // Every policy but the two identity-binding ones (which trust nobody) names the controller.
    expect(trusting.map((p) => p.metadata.name).sort()).toEqual(
      policies.map((p) => p.metadata.name).filter((n) => n !== 'm87-proposal-submitter' && n !== 'm87-approval-approver').sort(),
    );
    expect(JSON.stringify(policies)).not.toContain('system:serviceaccount:m87-system:m87-controller');
  });

  it('admission.enabled=false ships no admission policy', () => {
    const objects = render({ admission: { enabled: false } });
    expect(objects.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
  });
});
