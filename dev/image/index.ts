// The offline m87 image: build it from this checkout and import it into a node's containerd.
import { buildImageLocked, withImageCache, type BuildImageOptions } from './build.ts';
import { checkContainerdSocket, importImage, type ImportedImage } from './containerd.ts';

export { buildImage, imageCacheDir, type BuildImageOptions, type BuiltImage, type BuiltLayer } from './build.ts';
export { checkContainerdSocket, CRI_NAMESPACE, importImage, listImages, type ImportedImage, type ImportOptions } from './containerd.ts';
export { IMAGE_UID, IMAGE_GID, LOCAL_REPOSITORY } from './spec.ts';

/**
 * Builds the image (a warm build only hashes its inputs) and imports it into the containerd at `address`
 * (namespace k8s.io). Returns the by-digest reference to use in Pod specs and the chart.
 */
export async function buildAndImportImage(address: string, options: BuildImageOptions = {}): Promise<ImportedImage> {
  checkContainerdSocket(address);
  return withImageCache(options, async () => {
    const image = await buildImageLocked(options);
    return importImage(image, { address, ...(options.progress ? { progress: options.progress } : {}) });
  });
}

/** The part of the chart's values that names an image. */
export interface ChartImageValues {
  readonly controller: { readonly image: { readonly repository: string; readonly tag: string; readonly digest: string; readonly pullPolicy: 'Never' } };
}

/**
 * Chart values that run the controller Deployment and, through the chart's `--runner-image` (runner.image
 * falls back to controller.image, digest included), every job Pod on exactly this image, by digest. The
 * controller's pull policy is Never: the image exists only in the node's containerd, there is no registry.
 */
export function chartImageValues(image: Pick<ImportedImage, 'repository' | 'digest'>): ChartImageValues {
  if (!/^sha256:[a-f0-9]{64}$/.test(image.digest)) throw new Error(`not an image digest: ${image.digest}`);
  return { controller: { image: { repository: image.repository, tag: '', digest: image.digest, pullPolicy: 'Never' } } };
}
