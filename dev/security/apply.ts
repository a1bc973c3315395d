// Applies (server-side apply) and deletes the rendered security objects. Only the kinds the security
// templates produce are known; anything else is refused rather than guessed.
import type { KubeConfig } from '@kubernetes/client-node';
import { isNotFound, kubeRequest } from '../../src/runtime/kube-http.ts';
import { resourcePath, type ResourceType } from '../../src/runtime/resource.ts';
import type { RenderedObject } from './chart.ts';

const FIELD_MANAGER = 'm87-security';

const rbac = (plural: string, namespaced: boolean, kind: string): ResourceType => ({
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural,
  namespaced,
  kind,
});
const admission = (plural: string, kind: string): ResourceType => ({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural,
  namespaced: false,
  kind,
});

export const SECURITY_KINDS: Readonly<Record<string, ResourceType>> = {
  'v1/Namespace': { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' },
  'v1/ServiceAccount': { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount' },
  'rbac.authorization.k8s.io/v1/ClusterRole': rbac('clusterroles', false, 'ClusterRole'),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': rbac('clusterrolebindings', false, 'ClusterRoleBinding'),
  'rbac.authorization.k8s.io/v1/Role': rbac('roles', true, 'Role'),
  'rbac.authorization.k8s.io/v1/RoleBinding': rbac('rolebindings', true, 'RoleBinding'),
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': admission('validatingadmissionpolicies', 'ValidatingAdmissionPolicy'),
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': admission(
    'validatingadmissionpolicybindings',
    'ValidatingAdmissionPolicyBinding',
  ),
  'admissionregistration.k8s.io/v1/MutatingAdmissionPolicy': admission('mutatingadmissionpolicies', 'MutatingAdmissionPolicy'),
  'admissionregistration.k8s.io/v1/MutatingAdmissionPolicyBinding': admission('mutatingadmissionpolicybindings', 'MutatingAdmissionPolicyBinding'),
};

export function resourceOf(obj: Pick<RenderedObject, 'apiVersion' | 'kind' | 'metadata'>): ResourceType {
  const resource = SECURITY_KINDS[`${obj.apiVersion}/${obj.kind}`];
  if (resource === undefined) {
    throw new Error(`${obj.kind} ${obj.metadata.name}: apiVersion/kind ${obj.apiVersion}/${obj.kind} is not a security kind this module applies`);
  }
  if (resource.namespaced && (obj.metadata.namespace === undefined || obj.metadata.namespace === '')) {
    throw new Error(`${obj.kind} ${obj.metadata.name}: metadata.namespace must be set (the chart renders it)`);
  }
  return resource;
}

function objectPath(obj: RenderedObject): string {
  const resource = resourceOf(obj);
  return resourcePath(resource, { namespace: resource.namespaced ? obj.metadata.namespace : undefined, name: obj.metadata.name });
}

/** Server-side applies every object, in the order given (helm's install order: Namespaces first). */
export async function applyObjects(kc: KubeConfig, objects: readonly RenderedObject[]): Promise<void> {
  for (const obj of objects) {
    await kubeRequest(kc, {
      method: 'PATCH',
      path: objectPath(obj),
      query: { fieldManager: FIELD_MANAGER, force: true },
      contentType: 'application/apply-patch+yaml',
      body: obj,
    });
  }
}

export interface DeleteOptions {
  /** Leave Namespaces in place (a test may own them). Default false. */
  keepNamespaces?: boolean;
}

/** Deletes every object, in reverse order; objects already gone are fine. Namespace deletion is not awaited. */
export async function deleteObjects(kc: KubeConfig, objects: readonly RenderedObject[], options: DeleteOptions = {}): Promise<void> {
  for (const obj of [...objects].reverse()) {
    if (options.keepNamespaces === true && obj.kind === 'Namespace') continue;
    try {
      await kubeRequest(kc, { method: 'DELETE', path: objectPath(obj) });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** The objects, out of the given ones, that still exist (for waiting until a delete took effect). */
export async function remainingObjects(kc: KubeConfig, objects: readonly RenderedObject[]): Promise<RenderedObject[]> {
  const remaining: RenderedObject[] = [];
  for (const obj of objects) {
    try {
      await kubeRequest(kc, { method: 'GET', path: objectPath(obj) });
      remaining.push(obj);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return remaining;
}
