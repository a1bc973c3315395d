// Missing real-node pieces fail before anything is created, in one line that names each piece and how to get it.
import { describe, expect, it } from 'vitest';
import { checkRealNodePrerequisites, RealNodeUnavailableError } from '../../../dev/cluster/real-node/prerequisites.ts';
import { parseUpArguments } from '../../../dev/cluster/cli.ts';

describe('real node prerequisites', () => {
  it('names every piece that is not built (kubelet, kube-router, the node images) and the command that builds them', () => {
    const env = { ...process.env, XDG_CACHE_HOME: '/nonexistent/m87-cache', KUBEBUILDER_ASSETS: '' };
    let failure: unknown;
    try {
      checkRealNodePrerequisites(env);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(RealNodeUnavailableError);
    const message = (failure as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    if (process.getuid?.() !== 0) {
      expect(message).toBe('the real node cannot start here: it needs root (containerd, the kubelet, iptables and the bridge are host-level)');
      return;
    }
    expect(message).toMatch(
      /^the real node cannot start here: .*not built: kubelet, kube-router, the pause image \(\/nonexistent\/m87-cache\/m87\/node-images-[0-9a-f]{16}\/pause\.oci\.tar\), the netcheck image \(.*\) \(build: npm run binaries\)$/,
    );
  });
});

describe('npm run cluster -- up arguments', () => {
  it.each([
    [[], 'process'],
    [['--node', 'real'], 'real'],
    [['--node=real'], 'real'],
    [['--node', 'process'], 'process'],
    [['--node', 'kind'], undefined],
    [['--node'], undefined],
    [['--node', 'real', 'extra'], undefined],
    [['real'], undefined],
  ] as const)('%j → %s', (args, expected) => {
    expect(parseUpArguments(args)).toBe(expected);
  });
});
