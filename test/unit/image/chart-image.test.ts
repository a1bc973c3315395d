// The chart runs the controller and every job Pod on the offline-built image by digest: the values that
// dev/image hands to `helm install` must render one by-digest reference for both.
import { describe, expect, it } from 'vitest';
import { chartImageValues } from '../../../dev/image/index.ts';
import { findObject, helmTemplateRaw, renderChart } from '../chart/helm.ts';

const digest = `sha256:${'4f'.repeat(32)}`;

function controllerContainer(values: unknown): { image: string; imagePullPolicy: string; args: string[] } {
  const deployment = findObject(renderChart({ values }), 'Deployment', 'm87-controller');
  const pod = (deployment.spec as { template: { spec: { containers: { name: string; image: string; imagePullPolicy: string; args: string[] }[] } } }).template.spec;
  const container = pod.containers.find((c) => c.name === 'controller');
  if (!container) throw new Error('no controller container');
  return container;
}

describe('chart image values of the offline-built image', () => {
  it('run the controller and the job Pods (--runner-image) on the same image by digest, never pulled', () => {
    const container = controllerContainer(chartImageValues({ repository: 'm87.local/m87', digest }));
    expect(container.image).toBe(`m87.local/m87@${digest}`);
    expect(container.args).toContain(`--runner-image=m87.local/m87@${digest}`);
    expect(container.imagePullPolicy).toBe('Never');
  });

  it('refuse what is not a digest', () => {
    expect(() => chartImageValues({ repository: 'm87.local/m87', digest: 'latest' })).toThrow(/not an image digest/);
    const r = helmTemplateRaw({ values: { controller: { image: { repository: 'm87.local/m87', digest: 'sha256:short' } } } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/controller\/image\/digest/);
  });
});
