// Pure translation rules of the process node (no cluster needed; kept beside the node's integration tests).
import { describe, expect, it } from 'vitest';
import { expandVars, pathRewrites, rewritePath } from '../../../dev/process-node/container-config.ts';
import { FieldRefError, formatMap, goQuote, isQualifiedName, resolveFieldPath } from '../../../dev/process-node/downward-api.ts';
import { renderEgressRuleset, selectorMatches, selectsForEgress } from '../../../dev/process-node/egress-policy.ts';
import { defaultImageMap, resolveCommand } from '../../../dev/process-node/image-map.ts';
import { parseCidr, slotAddresses } from '../../../dev/process-node/pod-network.ts';
import type { PodLike } from '../../../dev/process-node/pod-types.ts';
import { testImageMap } from './pod-factory.ts';

describe('downward API format (kubelet fieldpath.FormatMap, Go %q)', () => {
  it('quotes like strconv.Quote', () => {
    expect(goQuote('plain')).toBe('"plain"');
    expect(goQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(goQuote('\x07\b\f\n\r\t\v')).toBe('"\\a\\b\\f\\n\\r\\t\\v"');
    expect(goQuote('\x00\x1b\x7f')).toBe('"\\x00\\x1b\\x7f"');
    expect(goQuote('é✓😀')).toBe('"é✓😀"');
    expect(goQuote('\u00a0\u200b')).toBe('"\\u00a0\\u200b"');
    expect(goQuote('\u{e0001}')).toBe('"\\U000e0001"');
  });

  it('sorts keys byte-wise and joins lines without a trailing newline', () => {
    expect(formatMap({ b: '2', a: '1', B: '0' })).toBe('B="0"\na="1"\nb="2"');
    expect(formatMap({})).toBe('');
    expect(formatMap(undefined)).toBe('');
  });
});

describe('downward API single keys (kubelet fieldpath.ExtractFieldPathAsString)', () => {
  const pod = {
    metadata: { name: 'p', annotations: { 'governance.m87.io/envelope': '{"a":"x\\"y"}\n', 'Mixed.Example/Key': 'v' }, labels: { app: 'x' } },
    spec: { containers: [] },
  } as unknown as PodLike;
  const get = (fieldPath: string) => resolveFieldPath(pod, fieldPath, undefined, 'items[0].fieldRef');

  it('a single annotation or label is its raw value; an absent one is empty', () => {
    expect(get("metadata.annotations['governance.m87.io/envelope']")).toBe('{"a":"x\\"y"}\n');
    expect(get("metadata.labels['app']")).toBe('x');
    expect(get("metadata.annotations['governance.m87.io/absent']")).toBe('');
    // Annotation keys are validated lower-cased, as kubelet does; the lookup uses the key as written.
    expect(get("metadata.annotations['Mixed.Example/Key']")).toBe('v');
    expect(get("metadata.annotations['mixed.example/Key']")).toBe('');
  });

  it('refuses invalid key subscripts and subscripts on other paths', () => {
    expect(() => get("metadata.annotations['bad key']")).toThrow(FieldRefError);
    expect(() => get("metadata.labels['a/b/c']")).toThrow(/invalid key subscript/);
    expect(() => get("metadata.name['x']")).toThrow(/does not support subscript/);
  });

  it('validates qualified names like apimachinery', () => {
    for (const ok of ['app', 'governance.m87.io/envelope', 'a_b.c-d', 'x/y']) expect(isQualifiedName(ok), ok).toBe(true);
    for (const bad of ['', '/x', 'x/', '-x', 'x-', 'Upper.Prefix/x', 'a/b/c', 'x'.repeat(64), 'x y']) expect(isQualifiedName(bad), bad).toBe(false);
  });
});

describe('path rewriting and $(VAR) expansion', () => {
  const rewrites = pathRewrites(
    {
      name: 'runner',
      volumeMounts: [
        { name: 'podinfo', mountPath: '/etc/m87/podinfo' },
        { name: 'keys', mountPath: '/etc/m87/keys/' },
        { name: 'ws', mountPath: '/workspace' },
      ],
    },
    new Map([
      ['podinfo', '/state/pods/u/volumes/podinfo'],
      ['keys', '/state/pods/u/volumes/keys'],
      ['ws', '/state/pods/u/volumes/ws'],
    ]),
    '/state/pods/u/containers/runner/termination-log',
    'spec.containers[0]',
  );

  it('rewrites values equal to or below a mountPath, and the termination message path', () => {
    expect(rewritePath('/etc/m87/podinfo', rewrites)).toBe('/state/pods/u/volumes/podinfo');
    expect(rewritePath('/etc/m87/keys/public.pem', rewrites)).toBe('/state/pods/u/volumes/keys/public.pem');
    expect(rewritePath('/dev/termination-log', rewrites)).toBe('/state/pods/u/containers/runner/termination-log');
    expect(rewritePath('/workspacex', rewrites)).toBe('/workspacex');
    expect(rewritePath('--out=/workspace', rewrites)).toBe('--out=/workspace');
  });

  it('expands $(VAR) like kubelet', () => {
    const vars = new Map([['A', 'x']]);
    expect(expandVars('$(A)-$(B)-$$(A)-$$', vars)).toBe('x-$(B)-$(A)-$');
  });
});

describe('image map', () => {
  it('maps the M87 image to this checkout’s CLI and keeps the arguments after m87', () => {
    const r = resolveCommand(defaultImageMap('/repo'), { name: 'runner', image: 'ghcr.io/m87/m87:0.1.0', command: ['m87', 'runner'] });
    expect(r).toEqual({ ok: true, prefix: [process.execPath, '/repo/src/cli/main.ts'], args: ['runner'] });
    const byEntrypoint = resolveCommand(defaultImageMap('/repo'), { name: 'r', image: 'ghcr.io/m87/m87@sha256:00', args: ['version'] });
    expect(byEntrypoint).toMatchObject({ ok: true, args: ['version'] });
  });

  it('refuses unknown images and unknown executables', () => {
    expect(resolveCommand(testImageMap, { name: 'c', image: 'busybox:1', command: ['sh'] })).toMatchObject({ ok: false, reason: 'ImageNotMapped' });
    expect(resolveCommand(testImageMap, { name: 'c', image: 'test.m87.invalid/node:1', command: ['sh'] })).toMatchObject({ ok: false, reason: 'StartError' });
  });
});

describe('pod address pool', () => {
  it('computes /30 slots inside the configured pool', () => {
    const pool = parseCidr('10.233.0.0/16');
    const s = slotAddresses(pool, 1);
    expect(s.hostIP.split('.').slice(0, 2)).toEqual(['10', '233']);
    expect(s.hostIP.split('.')[3]).toBe('5');
    expect(s.podIP.split('.')[3]).toBe('6');
    expect(() => slotAddresses(pool, 0)).toThrow(/outside the pool/);
    expect(() => parseCidr('10.233.0.1/16')).toThrow(/host bits/);
  });
});

describe('NetworkPolicy egress rendering', () => {
  const pod = { metadata: { name: 'p', labels: { app: 'x' } }, spec: { containers: [] } } as PodLike;

  it('selects by podSelector for Egress policies only', () => {
    expect(selectsForEgress({ metadata: {}, spec: { podSelector: {}, policyTypes: ['Egress'] } }, pod)).toBe(true);
    expect(selectsForEgress({ metadata: {}, spec: { podSelector: {}, policyTypes: ['Ingress'] } }, pod)).toBe(false);
    expect(selectsForEgress({ metadata: {}, spec: { podSelector: { matchLabels: { app: 'y' } }, egress: [] } }, pod)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Weird' }] }, { app: 'x' })).toBe(false);
  });

  it('default-drops, allows ipBlock + ports, and never anything outside the pool', () => {
    const rules = renderEgressRuleset(
      [
        {
          metadata: { name: 'np' },
          spec: {
            egress: [
              { to: [{ ipBlock: { cidr: '10.233.0.0/24', except: ['10.233.0.128/25'] } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'UDP', port: 53 }] },
              { to: [{ podSelector: {} }] },
              { ports: [{ port: 8000, endPort: 8010 }] },
            ],
          },
        },
      ],
      '10.233.0.0/16',
    );
    expect(rules).toContain('policy drop;');
    expect(rules).toContain('ip daddr != 10.233.0.0/16 drop');
    expect(rules).toContain('ip daddr 10.233.0.0/24 ip daddr != { 10.233.0.128/25 } tcp dport 443 accept');
    expect(rules).toContain('ip daddr 10.233.0.0/24 ip daddr != { 10.233.0.128/25 } udp dport 53 accept');
    expect(rules).toContain('tcp dport 8000-8010 accept');
    expect(rules).not.toMatch(/^\s*accept$/m);
  });

  it('allows everything inside the pool when no policy selects the Pod', () => {
    expect(renderEgressRuleset([], '10.233.0.0/16')).toMatch(/^\s*accept$/m);
  });
});
