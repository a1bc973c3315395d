import { API_VERSION } from '../api/group.ts';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/** A controller owner reference to an M87 object, so the garbage collector cleans up after it. */
export function controllerRef(kind: string, owner: { name: string; uid: string }): OwnerReference {
  return { apiVersion: API_VERSION, kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

/**
 * A plain owner reference (not controller, not blocking the owner's deletion): the object goes with its
 * owner, and setting it needs no permission on the owner's finalizers.
 */
export function ownerRef(kind: string, owner: { name: string; uid: string }): OwnerReference {
  return { apiVersion: API_VERSION, kind, name: owner.name, uid: owner.uid, controller: false, blockOwnerDeletion: false };
}

/** Whether the object is controlled by the owner with this UID. */
export function isControlledBy(obj: { metadata: { ownerReferences?: readonly { uid: string; controller?: boolean }[] } }, uid: string): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}
