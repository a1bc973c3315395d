// Creates the test catalogue's Tools (test/support/tool-catalogue.ts) as cluster-scoped Tool objects, the way the
// chart installs the shipped ones. Tools are shared by every file of a run: each is created when absent and
// must then be exactly the test catalogue's (a test that edits a Tool uses a name of its own).
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../../src/api/group.ts';
import { TOOLS } from '../../src/controller/resources.ts';
import { isConflict, kubeRequest } from '../../src/runtime/kube-http.ts';
import { resourcePath, type KubeObject } from '../../src/runtime/resource.ts';
import { toolHash } from '../../src/tool-catalogue/tool-hash.ts';
import { TEST_CATALOGUE } from './tool-catalogue.ts';

export async function installTestTools(kc: KubeConfig, names: readonly string[] = [...TEST_CATALOGUE.keys()]): Promise<void> {
  for (const name of names) {
    const spec = TEST_CATALOGUE.get(name);
    if (spec === undefined) throw new Error(`the test catalogue has no tool ${name}`);
    try {
      await kubeRequest(kc, { method: 'POST', path: resourcePath(TOOLS, {}), body: { apiVersion: API_VERSION, kind: 'Tool', metadata: { name }, spec } });
    } catch (err) {
      if (!isConflict(err)) throw err;
      const stored = await kubeRequest<KubeObject>(kc, { method: 'GET', path: resourcePath(TOOLS, { name }) });
      // Compared as the tool hash (the parsed spec): the API server's defaulting does not count as a difference.
      if (toolHash(stored.spec) !== toolHash(spec)) throw new Error(`Tool ${name} exists with another spec than the test catalogue's`, { cause: err });
    }
  }
}
