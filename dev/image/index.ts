// The offline m87 image: build it from this checkout and import it into a node's containerd.
import { buildImageLocked, withImageCache, type BuildImageOptions } from './build.ts';
import { checkContainerdSocket, importImage, type ImportedImage } from './containerd.ts';
import { buildToolImageLocked, readToolImagesJson, TOOL_IMAGE_NAMES, TOOL_IMAGES_JSON, type ToolImageName } from './tool-images.ts';

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

/**
 * Builds the shipped tools' images (tool-git, tool-python-pytest, tool-curl; dev/image/tool-images.ts) and
 * imports them into the containerd at `address`, so step Pods of the shipped Tools run on a real node. Each
 * built digest must be the one the catalogue pins (src/tool-catalogue/tool-images.json): the Tools the chart
 * installs name those digests, so a different build could never run them — drift is a bug, refused before
 * anything is imported, naming the tool, both digests and how to re-pin when the change is intended.
 */
export async function buildAndImportToolImages(address: string, options: BuildImageOptions & { pinned?: Readonly<Record<string, string>> } = {}): Promise<Record<ToolImageName, ImportedImage>> {
  checkContainerdSocket(address);
  const pinned = options.pinned ?? readToolImagesJson();
  return withImageCache(options, async () => {
    const built = [];
    for (const name of TOOL_IMAGE_NAMES) {
      const image = await buildToolImageLocked(name, options);
      if (image.digest !== pinned[name]) {
        throw new Error(
          `tool image ${name}: this host builds ${image.digest}, but the catalogue pins ${pinned[name] ?? '(nothing)'} (${TOOL_IMAGES_JSON}); ` +
            `the shipped Tools could not run. If the change is intended (a host package or PYTEST_REQUIREMENT changed), re-pin with \`npm run image -- --tools --write-catalogue\` and \`npm run gen\`.`,
        );
      }
      built.push({ name, image });
    }
    const imported = {} as Record<ToolImageName, ImportedImage>;
    for (const { name, image } of built) imported[name] = await importImage(image, { address, ...(options.progress ? { progress: options.progress } : {}) });
    return imported;
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
