// `helm upgrade --install` of charts/m87 against a cluster (the local plane), with the helm binary resolved
// like the other cluster binaries (hack/versions.env, ~/.cache/m87, KUBEBUILDER_ASSETS).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBinary } from '../cluster/binaries.ts';
import { CHART_DIR } from '../security/chart.ts';

export interface HelmInstallOptions {
  readonly kubeconfigPath: string;
  readonly context: string;
  readonly release: string;
  readonly namespace: string;
  readonly values: Record<string, unknown>;
  readonly chartDir?: string;
  readonly timeoutMs?: number;
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`helm ${args[0] ?? ''} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Installs or upgrades the release (idempotent); returns helm's output. */
export async function helmUpgradeInstall(opts: HelmInstallOptions): Promise<string> {
  const helm = resolveBinary('helm');
  const dir = mkdtempSync(join(tmpdir(), 'm87-helm-values-'));
  try {
    const valuesFile = join(dir, 'values.json');
    writeFileSync(valuesFile, JSON.stringify(opts.values));
    return await run(
      helm,
      [
        'upgrade',
        '--install',
        opts.release,
        opts.chartDir ?? CHART_DIR,
        '--namespace',
        opts.namespace,
        '--create-namespace',
        '--kubeconfig',
        opts.kubeconfigPath,
        '--kube-context',
        opts.context,
        '--values',
        valuesFile,
      ],
      opts.timeoutMs ?? 120_000,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm uninstall` of the release, waiting for its resources to be deleted; a missing release is fine. */
export async function helmUninstall(opts: Pick<HelmInstallOptions, 'kubeconfigPath' | 'context' | 'release' | 'namespace' | 'timeoutMs'>): Promise<void> {
  const helm = resolveBinary('helm');
  await run(
    helm,
    ['uninstall', opts.release, '--namespace', opts.namespace, '--kubeconfig', opts.kubeconfigPath, '--kube-context', opts.context, '--ignore-not-found', '--wait'],
    opts.timeoutMs ?? 120_000,
  );
}
