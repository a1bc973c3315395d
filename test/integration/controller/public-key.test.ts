// The public-key ConfigMap job Pods mount is re-created when someone deletes it: the next job in that
// namespace finds it again (the publisher does not trust an earlier "published" once the object is gone).
import { describe, expect, it } from 'vitest';
import { CONFIG_MAPS, PODS } from '../../../src/controller/resources.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { waitFor } from '../../support/kube.ts';
import { admin, caseySpec, get, propose, setupEnv, startTestController } from './harness.ts';

const env = await setupEnv('m87-pubkey');
const controller = await startTestController(env);
const configMapName = controller.config.publicKeyConfigMapName;

const configMap = () => get(CONFIG_MAPS, env.jobNamespace, configMapName);
const pod = (name: string) => get(PODS, env.jobNamespace, `m87-job-${name}`);

describe('the public-key ConfigMap', () => {
  it('is published before the first job Pod', async () => {
    await propose(env, 'casey', 'key-1', caseySpec(env, { summary: 'First write' }));
    await waitFor(() => pod('key-1'), { what: 'the first job Pod' });
    const cm = await configMap();
    expect((cm as { data?: Record<string, string> } | undefined)?.data?.['public.pem']).toBe(controller.publicKey.publicKeyPem);
  });

  it('is published again after it was deleted', async () => {
    const before = await configMap();
    await kubeRequest(admin, { method: 'DELETE', path: resourcePath(CONFIG_MAPS, { namespace: env.jobNamespace, name: configMapName }) });
    await propose(env, 'casey', 'key-2', caseySpec(env, { summary: 'Second write' }));
    await waitFor(() => pod('key-2'), { what: 'the second job Pod' });
    const again = await waitFor(configMap, { what: 'the ConfigMap to be back', timeoutMs: 10_000 });
    expect(again.metadata.uid).not.toBe(before?.metadata.uid);
    expect((again as { data?: Record<string, string> }).data?.['public.pem']).toBe(controller.publicKey.publicKeyPem);
  });
});
