// A throwaway CRD per test file (random group), with a status subresource, removed after the file.
import { randomBytes } from 'node:crypto';
import { ApiextensionsV1Api, ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll } from 'vitest';
import type { ResourceType } from '../../../src/runtime/resource.ts';
import { waitFor } from '../../support/kube.ts';

export async function testCrd(admin: KubeConfig, plural: string, kind: string): Promise<ResourceType> {
  const group = `t${randomBytes(3).toString('hex')}.runtime.m87.io`;
  const name = `${plural}.${group}`;
  const extensions = admin.makeApiClient(ApiextensionsV1Api);
  await extensions.createCustomResourceDefinition({
    body: {
      metadata: { name },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
                  status: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
                },
              },
            },
          },
        ],
      },
    },
  });
  afterAll(async () => {
    await extensions.deleteCustomResourceDefinition({ name }).catch(() => undefined);
  });
  const objects = admin.makeApiClient(CustomObjectsApi);
  // Served (and its storage initialised) a little after Established: poll a list until it answers.
  await waitFor(
    async () => {
      try {
        await objects.listClusterCustomObject({ group, version: 'v1', plural });
        return true;
      } catch (error) {
        if (error instanceof ApiException && (error.code === 404 || error.code === 429 || error.code === 503)) return undefined;
        throw error;
      }
    },
    { what: `CRD ${name} to be served` },
  );
  return { group, version: 'v1', plural, namespaced: true, kind };
}
