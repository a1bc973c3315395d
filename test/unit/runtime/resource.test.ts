import { describe, expect, it } from 'vitest';
import { deepFreeze } from '../../../src/hash/freeze.ts';
import { objectKey, resourceLabel, resourcePath, splitKey } from '../../../src/runtime/resource.ts';

const configmaps = { group: '', version: 'v1', plural: 'configmaps', namespaced: true };
const crd = { group: 'm87.dev', version: 'v1alpha1', plural: 'proposals', namespaced: true };
const nodes = { group: '', version: 'v1', plural: 'nodes', namespaced: false };

describe('resourcePath', () => {
  it('builds core, group, namespaced, cluster and subresource paths', () => {
    expect(resourcePath(configmaps)).toBe('/api/v1/configmaps');
    expect(resourcePath(configmaps, { namespace: 'ns' })).toBe('/api/v1/namespaces/ns/configmaps');
    expect(resourcePath(crd, { namespace: 'ns', name: 'p1', subresource: 'status' })).toBe(
      '/apis/m87.dev/v1alpha1/namespaces/ns/proposals/p1/status',
    );
    expect(resourcePath(nodes, { name: 'n1' })).toBe('/api/v1/nodes/n1');
  });

  it('refuses ambiguous or unsafe paths, naming the field', () => {
    expect(() => resourcePath(configmaps, { name: 'x' })).toThrow(/metadata.namespace/);
    expect(() => resourcePath(nodes, { namespace: 'ns' })).toThrow(/cluster-scoped/);
    expect(() => resourcePath(configmaps, { namespace: 'ns', name: '../x' })).toThrow(/metadata.name/);
    expect(() => resourcePath(configmaps, { namespace: 'ns', name: '..' })).toThrow(/metadata.name/);
  });

  it('labels resources for metrics', () => {
    expect(resourceLabel(configmaps)).toBe('configmaps');
    expect(resourceLabel(crd)).toBe('proposals.m87.dev');
  });
});

describe('keys', () => {
  it('round-trips namespace/name and cluster-scoped keys', () => {
    expect(objectKey({ metadata: { name: 'a', namespace: 'ns' } })).toBe('ns/a');
    expect(objectKey({ metadata: { name: 'n1' } })).toBe('n1');
    expect(splitKey('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(splitKey('n1')).toEqual({ namespace: undefined, name: 'n1' });
    expect(() => splitKey('a/b/c')).toThrow(/invalid object key/);
    expect(() => splitKey('/a')).toThrow(/invalid object key/);
    expect(() => objectKey({ metadata: {} })).toThrow(/metadata.name/);
  });
});

describe('deepFreeze', () => {
  it('freezes nested objects and arrays', () => {
    const obj = deepFreeze({ metadata: { name: 'a', labels: { x: 'y' } }, spec: { list: [{ v: 1 }] } });
    expect(Object.isFrozen(obj.metadata.labels)).toBe(true);
    expect(Object.isFrozen(obj.spec.list[0])).toBe(true);
    expect(() => {
      (obj.spec.list[0] as { v: number }).v = 2;
    }).toThrow(TypeError);
  });
});
