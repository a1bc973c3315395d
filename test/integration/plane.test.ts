// Proves the local control plane is a real Kubernetes: CEL validation of CRDs, ValidatingAdmissionPolicy on
// request.userInfo, RBAC, the scheduler binding Pods, the garbage collector, and the pinned version.
import { randomBytes } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  ApiException,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { readVersions } from '../../dev/cluster/binaries.ts';
import { VIEWERS_GROUP } from '../../dev/cluster/identities.ts';
import { serviceAccountUsername } from '../../dev/cluster/service-account.ts';
import { clusterKubeConfig, expectApiError, serviceAccountKubeConfig, testNamespace, waitFor } from '../support/kube.ts';

const ns = await testNamespace('plane');
const suffix = randomBytes(3).toString('hex');
const admin = clusterKubeConfig('admin');
const core = (kc: KubeConfig = admin): CoreV1Api => kc.makeApiClient(CoreV1Api);

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  // Cluster-scoped objects outlive the namespace; ignore what is already gone.
  await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => undefined)));
});

const isNotFound = (error: unknown): boolean => error instanceof ApiException && error.code === 404;

describe('CustomResourceDefinition with CEL validation', () => {
  const group = `t${suffix}.plane.m87.io`;
  const crd: V1CustomResourceDefinition = {
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['replicas', 'maxReplicas'],
                  properties: { replicas: { type: 'integer' }, maxReplicas: { type: 'integer' } },
                  x_kubernetes_validations: [
                    { rule: 'self.replicas <= self.maxReplicas', message: 'replicas must not exceed maxReplicas' },
                  ],
                },
              },
            },
          },
        },
      ],
    },
  };
  const widget = (name: string, replicas: number, maxReplicas: number): object => ({
    apiVersion: `${group}/v1`,
    kind: 'Widget',
    metadata: { name, namespace: ns },
    spec: { replicas, maxReplicas },
  });

  it('rejects an invalid object with the rule message and admits a valid one', async () => {
    const extensions = admin.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({ body: crd });
    cleanups.push(() => extensions.deleteCustomResourceDefinition({ name: crd.metadata?.name ?? '' }));
    await waitFor(
      async () => {
        const current = await extensions.readCustomResourceDefinition({ name: crd.metadata?.name ?? '' });
        return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      },
      { what: `CRD ${crd.metadata?.name} to be Established` },
    );
    const objects = admin.makeApiClient(CustomObjectsApi);
    const create = (body: object): Promise<unknown> =>
      objects.createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural: 'widgets', body });
    // The new resource is served shortly after Established; poll until it is.
    await waitFor(
      async () => {
        try {
          return await create(widget('fine', 1, 3));
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      },
      { what: 'the valid Widget to be created' },
    );

    const rejected = await expectApiError(create(widget('too-many', 5, 3)));
    expect(rejected.code).toBe(422);
    expect(rejected.message).toContain('replicas must not exceed maxReplicas');
  });
});

describe('ValidatingAdmissionPolicy on request.userInfo', () => {
  const policyName = `plane-test-sa-only-${suffix}`;
  const message = 'only ServiceAccounts may write gated ConfigMaps';
  const gated = (name: string): V1ConfigMap => ({
    metadata: { name, namespace: ns, labels: { 'm87.io/gated': 'true' } },
    data: { purpose: 'plane test' },
  });

  it('admits a ServiceAccount (TokenRequest token) and rejects a human for the same object', async () => {
    const admission = admin.makeApiClient(AdmissionregistrationV1Api);
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: policyName },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] },
            ],
          },
          // reason Forbidden (403): the caller is not allowed, the object itself is fine (default: Invalid, 422).
          validations: [{ expression: "request.userInfo.username.startsWith('system:serviceaccount:')", message, reason: 'Forbidden' }],
        },
      },
    });
    cleanups.push(() => admission.deleteValidatingAdmissionPolicy({ name: policyName }));
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: policyName },
        spec: {
          policyName,
          validationActions: ['Deny'],
          matchResources: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            objectSelector: { matchLabels: { 'm87.io/gated': 'true' } },
          },
        },
      },
    });
    cleanups.push(() => admission.deleteValidatingAdmissionPolicyBinding({ name: policyName }));

    // Both identities may write ConfigMaps as far as RBAC goes: only the policy tells them apart.
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'configmap-writer' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get', 'list', 'update', 'delete'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'configmap-writer' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-writer' },
        subjects: [
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' },
          { kind: 'ServiceAccount', name: 'agent', namespace: ns },
        ],
      },
    });
    const agentConfig = await serviceAccountKubeConfig(ns, 'agent');
    const whoami = await agentConfig.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(whoami.status?.userInfo?.username).toBe(serviceAccountUsername(ns, 'agent'));
    const agent = core(agentConfig);
    const alice = core(clusterKubeConfig('alice'));

    // Policies and bindings reach the admission plugin through an informer: wait until alice is denied.
    const denied = await waitFor(
      async () => {
        try {
          await alice.createNamespacedConfigMap({ namespace: ns, body: gated('probe'), dryRun: 'All' });
          return undefined;
        } catch (error) {
          if (error instanceof ApiException && error.code === 403 && String(error.body).includes(message)) return error;
          throw error;
        }
      },
      { what: `policy ${policyName} to deny alice` },
    );
    expect(denied.code).toBe(403);

    const human = await expectApiError(alice.createNamespacedConfigMap({ namespace: ns, body: gated('same') }));
    expect(human.code).toBe(403);
    expect(human.message).toContain(message);
    expect(human.message).toContain(policyName);

    const created = await agent.createNamespacedConfigMap({ namespace: ns, body: gated('same') });
    expect(created.metadata?.name).toBe('same');
  });
});

describe('RBAC', () => {
  it('denies viewer a write, and allows a read once a Role binds the viewers group', async () => {
    const viewer = core(clusterKubeConfig('viewer'));
    const write = await expectApiError(
      viewer.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'from-viewer' } } }),
    );
    expect(write.code).toBe(403);
    const readBefore = await expectApiError(viewer.listNamespacedConfigMap({ namespace: ns }));
    expect(readBefore.code).toBe(403);

    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'viewers-read-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: VIEWERS_GROUP }],
      },
    });

    const list = await waitFor(
      async () => {
        try {
          return await viewer.listNamespacedConfigMap({ namespace: ns });
        } catch (error) {
          if (error instanceof ApiException && error.code === 403) return undefined; // RBAC cache not updated yet
          throw error;
        }
      },
      { what: 'viewer to be allowed to list ConfigMaps' },
    );
    expect(Array.isArray(list.items)).toBe(true);
    const writeAfter = await expectApiError(
      viewer.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'from-viewer' } } }),
    );
    expect(writeAfter.code).toBe(403);
  });
});

describe('kube-scheduler', () => {
  it('binds a Pod to a Ready Node the test registers', async () => {
    const nodeName = `plane-test-node-${suffix}`;
    const nodes = core();
    await nodes.createNode({
      body: {
        metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName, 'm87.io/plane-test': suffix } },
        status: {
          capacity: { cpu: '4', memory: '8Gi', pods: '110' },
          allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
          conditions: [
            { type: 'Ready', status: 'True', reason: 'PlaneTest', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() },
          ],
        },
      },
    });
    cleanups.push(() => nodes.deleteNode({ name: nodeName }));
    // Keep the status explicit: create may not persist it on every version.
    const registered = await nodes.readNodeStatus({ name: nodeName });
    if (registered.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') {
      await nodes.replaceNodeStatus({
        name: nodeName,
        body: {
          ...registered,
          status: {
            capacity: { cpu: '4', memory: '8Gi', pods: '110' },
            allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
            conditions: [
              { type: 'Ready', status: 'True', reason: 'PlaneTest', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() },
            ],
          },
        },
      });
    }

    const podName = 'scheduled';
    await nodes.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: podName },
        spec: {
          nodeSelector: { 'm87.io/plane-test': suffix },
          automountServiceAccountToken: false,
          // Never pulled: no kubelet runs here, only the scheduler's decision is under test.
          containers: [{ name: 'main', image: 'registry.m87.invalid/none:0' }],
        },
      },
    });
    // A Pod bound to a node without a kubelet would wait forever for graceful termination.
    cleanups.push(() => nodes.deleteNamespacedPod({ name: podName, namespace: ns, gracePeriodSeconds: 0 }));

    const bound = await waitFor(
      async () => {
        const pod = await nodes.readNamespacedPod({ name: podName, namespace: ns });
        return pod.spec?.nodeName;
      },
      { what: `Pod ${ns}/${podName} to be scheduled` },
    );
    expect(bound).toBe(nodeName);
  });
});

describe('kube-controller-manager', () => {
  it('garbage-collects a ConfigMap after its owner is deleted', async () => {
    const api = core();
    const owner = await api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    const uid = owner.metadata?.uid;
    if (uid === undefined) throw new Error('created ConfigMap has no metadata.uid');
    await api.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: { name: 'owned', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid }] },
      },
    });
    await api.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });

    await waitFor(
      async () => {
        try {
          await api.readNamespacedConfigMap({ name: 'owned', namespace: ns });
          return false;
        } catch (error) {
          if (isNotFound(error)) return true;
          throw error;
        }
      },
      { what: 'the garbage collector to delete ConfigMap owned' },
    );
  });
});

describe('version', () => {
  it('reports the pinned Kubernetes version', async () => {
    const version = await admin.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(readVersions().kubernetes);
    expect(version.gitVersion).toBe('v1.37.2');
  });
});
