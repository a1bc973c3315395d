import { parseArgs } from 'node:util';
import { isClientError } from '../client/index.ts';
import { startConsole } from '../console/server.ts';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { CliError, EXIT } from './output.ts';
import { parseListen } from './listen.ts';

const HELP = `Usage: m87 ui [--kubeconfig file] [--context name] [-n namespace | -A] [--listen 127.0.0.1:0]
             [--allow-non-loopback]

The approvers' web console: proposals awaiting approval with their summary, effects, every reason, the
envelope and its hash, declared outputs and the challenge; approve or reject with a comment; live updates;
the history of decided and executed proposals with their receipts. It acts with your own kubeconfig
credentials (RBAC and admission see you) and holds no others.

It listens on loopback only (default 127.0.0.1 on a free port) and prints a URL with a token that is new
on every start: open that URL; the token becomes a cookie for that browser. --allow-non-loopback listens
beyond loopback anyway (whoever reaches the port with the token acts as you).
`;

export async function runUi(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      'all-namespaces': { type: 'boolean', short: 'A' },
      listen: { type: 'string' },
      'allow-non-loopback': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"\n\n${HELP}`, EXIT.usage);
  if (values['all-namespaces'] === true && values.namespace !== undefined) throw new CliError('pass either -n or -A, not both', EXIT.usage);
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:0');
  const log = (line: string): void => {
    process.stderr.write(`m87 ui: ${line}\n`);
  };
  // Fail before listening when the kubeconfig is unusable or the API server does not know who we are.
  const conn = connect(values);
  let identity;
  try {
    identity = await conn.client.whoAmI();
  } catch (err) {
    if (isClientError(err)) throw new CliError(`cannot act with ${conn.source}: ${err.message}`, EXIT.error);
    throw err;
  }
  const namespace = values['all-namespaces'] === true ? undefined : conn.namespace;
  let handle;
  try {
    handle = await startConsole({
      client: conn.client,
      identity,
      source: conn.source,
      namespace,
      host,
      port,
      allowNonLoopback: values['allow-non-loopback'] === true,
      log,
    });
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
  log(`acting as ${identity.username} (${conn.source}), ${namespace === undefined ? 'all namespaces' : `namespace ${namespace}`}`);
  // The URL carries the token: it goes to stdout (the user's terminal), never to a log.
  process.stdout.write(`Open ${handle.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await handle.close();
  return EXIT.ok;
}
