// npm run image [-- --containerd-address <socket>] [--json]: builds the m87 image offline from this checkout,
// prints its digest and size, and imports it into a containerd when given one.
import { parseArgs } from 'node:util';
import { buildImageLocked, withImageCache } from './build.ts';
import { checkContainerdSocket, importImage } from './containerd.ts';

const USAGE = `Usage: npm run image -- [options]

Builds the m87 OCI image offline (the content the Dockerfile defines) into ~/.cache/m87/image/oci.

Options:
  --containerd-address <socket>  also import it into this containerd (namespace k8s.io) as
                                 m87.local/m87:<version> and m87.local/m87@<digest>
                                 (env M87_CONTAINERD_ADDRESS)
  --json                         print the result as JSON on stdout
  -h, --help                     this help
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { 'containerd-address': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
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
    return { image, imported };
  });
  const { image, imported } = result;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...image, containerd: imported ? { address, ...imported } : null }, null, 2)}\n`);
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
