// The offline m87 image: build it from this checkout and import it into a node's containerd.
import { buildImageLocked, withImageCache, type BuildImageOptions } from './build.ts';
import { importImage, type ImportedImage } from './containerd.ts';

export { buildImage, imageCacheDir, type BuildImageOptions, type BuiltImage, type BuiltLayer } from './build.ts';
export { CRI_NAMESPACE, importImage, listImages, type ImportedImage, type ImportOptions } from './containerd.ts';
export { IMAGE_UID, IMAGE_GID, LOCAL_REPOSITORY } from './spec.ts';

/**
 * Builds the image (a warm build only hashes its inputs) and imports it into the containerd at `address`
 * (namespace k8s.io). Returns the by-digest reference to use in Pod specs and the chart.
 */
export async function buildAndImportImage(address: string, options: BuildImageOptions = {}): Promise<ImportedImage> {
  return withImageCache(options, async () => {
    const image = await buildImageLocked(options);
    return importImage(image, { address, ...(options.progress ? { progress: options.progress } : {}) });
  });
}
