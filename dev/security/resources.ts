// Resource types of every object the security tests and probes send, by kind (no discovery, no guessing).
import { GROUP, VERSION } from '../../src/api/group.ts';
import { KINDS } from '../../src/api/kinds.ts';
import { resourcePath, type ResourceType } from '../../src/runtime/resource.ts';

const m87 = Object.fromEntries(
  Object.values(KINDS).map((info) => [
    info.kind,
    { group: GROUP, version: VERSION, plural: info.plural, namespaced: info.scope === 'Namespaced', kind: info.kind },
  ]),
) as Record<keyof typeof KINDS, ResourceType>;

export const RESOURCES = {
  ...m87,
  Pod: { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' },
  Secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' },
  Event: { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' },
  Namespace: { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' },
  NetworkPolicy: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true, kind: 'NetworkPolicy' },
  Lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' },
  SubjectAccessReview: { group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews', namespaced: false, kind: 'SubjectAccessReview' },
} as const satisfies Record<string, ResourceType>;

export type ResourceKind = keyof typeof RESOURCES;

export function resourceFor(kind: string): ResourceType {
  const resource = (RESOURCES as Record<string, ResourceType | undefined>)[kind];
  if (resource === undefined) throw new Error(`no resource type known for kind ${JSON.stringify(kind)}`);
  return resource;
}

/** Collection path (name undefined) or object path of an object, optionally of a subresource. */
export function objectPath(obj: { kind: string; metadata: { name?: string; namespace?: string } }, opts: { collection?: boolean; subresource?: string } = {}): string {
  const resource = resourceFor(obj.kind);
  return resourcePath(resource, {
    namespace: resource.namespaced ? obj.metadata.namespace : undefined,
    name: opts.collection === true ? undefined : obj.metadata.name,
    subresource: opts.subresource,
  });
}
