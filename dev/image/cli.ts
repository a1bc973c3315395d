// npm run image [-- --containerd-address <socket>] [--json]: builds the m87 image offline from this checkout,
// prints its digest and size, and imports it into a containerd when given one.
import { parseArgs } from 'node:util';
import { buildImageLocked, withImageCache } from './build.ts';
import { checkContainerdSocket, importImage } from './containerd.ts';
import { buildToolImageLocked, readToolImagesJson, TOOL_IMAGE_NAMES, TOOL_IMAGES_JSON, writeToolImagesJson, type ToolImageName } from './tool-images.ts';

const USAGE = `Usage: npm run image -- [options]

Builds the m87 OCI image offline (the content the Dockerfile defines) into ~/.cache/m87/image/oci.

Options:
  --containerd-address <socket>  also import it into this containerd (namespace k8s.io) as
                                 m87.local/m87:<version> and m87.local/m87@<digest>
                                 (env M87_CONTAINERD_ADDRESS)
  --tools                        also build the shipped tools' images (tool-git, tool-python-pytest,
                                 tool-curl; dev/image/tool-images.ts) and import them with the m87 image
                                 (refused when a digest differs from the pinned one, unless --write-catalogue)
  --write-catalogue              with --tools: write their digests to src/tool-catalogue/tool-images.json
                                 (the digests the shipped catalogue pins)
  --json                         print the result as JSON on stdout
  -h, --help                     this help
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'containerd-address': { type: 'string' },
      json: { type: 'boolean', default: false },
      tools: { type: 'boolean', default: false },
      'write-catalogue': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const address = values['containerd-address'] ?? (process.env.M87_CONTAINERD_ADDRESS || undefined);
  const progress = (line: string): void => {
    process.stderr.write(`m87 image: ${line}\n`);
  };
  if (address !== undefined) checkContainerdSocket(address);
  const result = await withImageCache({ progress }, async () => {
    const image = await buildImageLocked({ progress });
    const imported = address !== undefined ? await importImage(image, { address, progress }) : null;
    const tools: { name: ToolImageName; reference: string; digest: string; seconds: number; cached: boolean }[] = [];
    if (values.tools) {
      const pinned = readToolImagesJson();
      for (const name of TOOL_IMAGE_NAMES) {
        const tool = await buildToolImageLocked(name, { progress });
        // Importing an image the catalogue does not pin is drift (its Tools could never run it), unless re-pinning.
        if (address !== undefined && !values['write-catalogue'] && tool.digest !== pinned[name]) {
          throw new Error(`tool image ${name}: this host builds ${tool.digest}, but the catalogue pins ${pinned[name] ?? '(nothing)'} (${TOOL_IMAGES_JSON}); not imported. Re-pin with --write-catalogue if the change is intended.`);
        }
        if (address !== undefined) await importImage(tool, { address, progress });
        tools.push({ name, reference: tool.reference, digest: tool.digest, seconds: tool.seconds, cached: tool.layers.every((l) => l.cached) });
      }
      if (values['write-catalogue']) {
        writeToolImagesJson(Object.fromEntries(tools.map((t) => [t.name, t.digest])) as Record<ToolImageName, string>);
        progress(`wrote ${TOOL_IMAGES_JSON}`);
      }
    }
    return { image, imported, tools };
  });
  const { image, imported, tools } = result;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...image, containerd: imported ? { address, ...imported } : null, tools }, null, 2)}\n`);
    return 0;
  }
  const cached = image.layers.every((l) => l.cached) ? ' (all layers cached)' : '';
  process.stdout.write(
    [
      `digest:    ${image.digest}`,
      `size:      ${(image.size / 1e6).toFixed(1)} MB compressed, ${(image.unpackedSize / 1e6).toFixed(1)} MB unpacked, ${image.layers.length} layers`,
      `node:      ${image.nodeVersion}`,
      `layout:    ${image.layout} (ref ${image.tag})`,
      `reference: ${image.reference}`,
      `built in:  ${image.seconds.toFixed(1)} s${cached}`,
      ...(imported ? [`imported:  containerd ${address} (namespace k8s.io) as ${imported.taggedReference} and ${imported.reference}`] : []),
      ...tools.map((t) => `tool:      ${t.reference} (${t.seconds.toFixed(1)} s${t.cached ? ', cached' : ''})`),
      '',
    ].join('\n'),
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`m87 image: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
