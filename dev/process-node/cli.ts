// `node dev/process-node/cli.ts --kubeconfig <file>`: runs the process node (dev and test only) until SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { defaultImageMap, type ImageMapping } from './image-map.ts';
import { DEFAULT_NODE_NAME, startProcessNode } from './process-node.ts';

const USAGE = `usage: node dev/process-node/cli.ts --kubeconfig FILE [options]

The M87 process node (dev and test only): registers a Node and runs the Pods bound to it as local processes.

  --kubeconfig FILE      credentials (required)
  --context NAME         kubeconfig context (default: current)
  --node-name NAME       Node name (default ${DEFAULT_NODE_NAME})
  --state-dir DIR        Pod dirs and logs (default /var/lib/m87/process-node/<node-name>)
  --api-server HOST:PORT API server address given to Pods (default: the kubeconfig's server)
  --network MODE         isolated (default) | veth (NetworkPolicy egress via nftables)
  --pod-cidr CIDR        Pod address pool (default 10.233.0.0/16)
  --image-map FILE       JSON array of {image, executables, entrypoint?} added before the default map
  --delete-node-on-stop  delete the Node on exit instead of marking it NotReady
  --log-level LEVEL      pino level (default info)
`;

function fail(message: string): never {
  process.stderr.write(`m87 process node: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    'node-name': { type: 'string' },
    'state-dir': { type: 'string' },
    'api-server': { type: 'string' },
    network: { type: 'string' },
    'pod-cidr': { type: 'string' },
    'image-map': { type: 'string' },
    'delete-node-on-stop': { type: 'boolean' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.kubeconfig === undefined) fail('--kubeconfig is required');

const kc = new KubeConfig();
kc.loadFromFile(values.kubeconfig);
if (values.context !== undefined) kc.setCurrentContext(values.context);
const server = kc.getCurrentCluster()?.server;

let apiServer: { host: string; port: number };
if (values['api-server'] !== undefined) {
  const m = /^(.+):(\d+)$/.exec(values['api-server']);
  if (!m) fail(`--api-server: ${values['api-server']} is not HOST:PORT`);
  apiServer = { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
} else {
  if (server === undefined) fail('--kubeconfig: the current context names no cluster');
  const url = new URL(server);
  apiServer = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}

const network = values.network ?? 'isolated';
if (network !== 'isolated' && network !== 'veth') fail(`--network: ${network} is not isolated or veth`);

let imageMap: ImageMapping[] = defaultImageMap();
if (values['image-map'] !== undefined) {
  const extra = JSON.parse(readFileSync(values['image-map'], 'utf8')) as unknown;
  if (!Array.isArray(extra)) fail('--image-map: the file must hold a JSON array');
  imageMap = [...(extra as ImageMapping[]), ...imageMap];
}

const logger = pino({ level: values['log-level'] ?? 'info' });
const nodeName = values['node-name'] ?? DEFAULT_NODE_NAME;
const node = await startProcessNode({
  kubeConfig: kc,
  nodeName,
  stateDir: values['state-dir'] ?? `/var/lib/m87/process-node/${nodeName}`,
  imageMap,
  apiServer,
  network: { mode: network, ...(values['pod-cidr'] !== undefined ? { podCidr: values['pod-cidr'] } : {}) },
  deleteNodeOnStop: values['delete-node-on-stop'] === true,
  logger,
});

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'Stopping the process node');
  node.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'Stop failed');
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
