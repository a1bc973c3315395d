import { describe, expect, it } from 'vitest';
import { FreshObjects } from '../../../src/controller/fresh-objects.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';

const obj = (rv: string, phase: string, uid = 'u1'): KubeObject => ({ metadata: { name: 'p', namespace: 'ns', uid, resourceVersion: rv }, status: { phase } });

describe('FreshObjects (read-your-own-writes)', () => {
  it('returns our write while the cache still shows what it replaced', () => {
    const fresh = new FreshObjects();
    const v10 = obj('10', 'Pending');
    fresh.remember(v10, obj('11', 'Approved'));
    expect(fresh.read(v10)?.status).toEqual({ phase: 'Approved' });
  });

  it('follows a second quick write and returns the cache once it caught up or moved on', () => {
    const fresh = new FreshObjects();
    fresh.remember(obj('10', 'Pending'), obj('11', 'Approved'));
    fresh.remember(obj('11', 'Approved'), obj('12', 'Running'));
    expect(fresh.read(obj('10', 'Pending'))?.metadata.resourceVersion).toBe('12');
    expect(fresh.read(obj('11', 'Approved'))?.metadata.resourceVersion).toBe('12');
    const later = obj('13', 'Succeeded');
    expect(fresh.read(later)).toBe(later);
    expect(fresh.size()).toBe(0);
  });

  it('never returns a write to another incarnation of the name', () => {
    const fresh = new FreshObjects();
    fresh.remember(obj('10', 'Pending', 'old'), obj('11', 'Approved', 'old'));
    const recreated = obj('10', 'Pending', 'new');
    expect(fresh.read(recreated)).toBe(recreated);
    expect(fresh.read(undefined)).toBeUndefined();
  });

  it('forgets an entry once the informer shows our write or later, keeps it while the cache is behind, and drops managedFields', () => {
    const fresh = new FreshObjects();
    const after = { ...obj('11', 'Approved'), metadata: { ...obj('11', 'Approved').metadata, managedFields: [{ manager: 'm87' }] } };
    fresh.remember(obj('10', 'Pending'), after);
    expect(fresh.read(obj('10', 'Pending'))?.metadata.managedFields).toBeUndefined();
    fresh.observe(obj('10', 'Pending')); // a late event of the version we replaced
    expect(fresh.size()).toBe(1);
    fresh.observe(obj('11', 'Approved'));
    expect(fresh.size()).toBe(0);
    fresh.remember(obj('10', 'Pending'), obj('11', 'Approved'));
    fresh.observe(obj('10', 'Pending', 'other-incarnation'));
    expect(fresh.size()).toBe(0);
  });
});
