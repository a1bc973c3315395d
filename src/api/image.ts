/** Container image references pinned by digest (Tool.spec.image, the envelope's steps[].image). */

// The docker reference grammar restricted to repo@sha256:<64 hex>: an optional registry host (with port
// only when a path follows), lowercase path components, and a digest; no tag, no other algorithm.
const HOST = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*';
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
export const DIGEST_PINNED_IMAGE_PATTERN = `^(?:${HOST}(?::[0-9]{1,5})?/)?${COMPONENT}(?:/${COMPONENT})*@sha256:[0-9a-f]{64}$`;
export const DIGEST_PINNED_IMAGE = new RegExp(DIGEST_PINNED_IMAGE_PATTERN);
export const IMAGE_MESSAGE = 'must be pinned by digest as repository@sha256:<64 lowercase hex> (a tag such as :latest or :1.0 is not accepted)';

/** The all-zero digest marks an image the project has not built yet (see isPlaceholderImage). */
export const PLACEHOLDER_DIGEST = `sha256:${'0'.repeat(64)}`;

/** Whether an image reference carries the placeholder digest instead of a real one. */
export function isPlaceholderImage(image: string): boolean {
  return image.endsWith(`@${PLACEHOLDER_DIGEST}`);
}

/** The sha256:<hex> digest of a digest-pinned image reference. */
export function imageDigest(image: string): string {
  const at = image.lastIndexOf('@');
  return at === -1 ? '' : image.slice(at + 1);
}
