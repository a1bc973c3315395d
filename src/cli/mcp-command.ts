import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { loadConnection } from '../client/index.ts';
import { AgentSession } from '../mcp/agent-session.ts';
import { serveHttp } from '../mcp/http.ts';
import { createMcpServer } from '../mcp/server.ts';
import { loadOrCreateToken } from '../mcp/token.ts';
import { CONNECTION_FLAGS } from './kube-context.ts';
import { CliError, EXIT } from './output.ts';
import { parseListen } from './listen.ts';

const HELP = `Usage: m87 mcp [--kubeconfig file] [--context name] [-n namespace] [--agent profile]
              [--http (--token-file file | --no-auth) [--listen 127.0.0.1:8787] [--allow-non-loopback]]

An MCP server (Model Context Protocol) for an agent runtime: tools list_tools, propose, get_status,
wait_for_result and explain_decision. It acts with the credentials it is started with — a kubeconfig, or
the Pod's ServiceAccount token — and submits proposals as whoever they are (spec.submittedBy is never a
tool parameter). Default transport: stdio. --http serves streamable HTTP at http://<listen>/mcp, on
loopback only unless --allow-non-loopback (anyone reaching the port acts with these credentials), and
wants every request to carry Authorization: Bearer <token>, the token in --token-file (created with a
fresh token, mode 0600, when it does not exist; the agent runtime reads the same file). --no-auth drops
the token: only where nobody else reaches the port, as in a Pod whose loopback its containers share.
`;

export async function runMcp(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_FLAGS,
      agent: { type: 'string' },
      http: { type: 'boolean' },
      listen: { type: 'string' },
      'allow-non-loopback': { type: 'boolean' },
      'token-file': { type: 'string' },
      'no-auth': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const listen = values.http ? parseListen(values.listen ?? '127.0.0.1:8787') : undefined;
  const tokenFile = values['token-file'];
  const noAuth = values['no-auth'] === true;
  if (!values.http && (tokenFile !== undefined || noAuth)) throw new CliError('--token-file and --no-auth go with --http (stdio needs no token)', EXIT.usage);
  if (values.http && tokenFile !== undefined && noAuth) throw new CliError('--token-file and --no-auth exclude each other', EXIT.usage);
  if (values.http && tokenFile === undefined && !noAuth) {
    throw new CliError('--http wants --token-file <file> (requests must carry its token) or, where nobody else reaches the port, --no-auth', EXIT.usage);
  }
  const log = (line: string): void => {
    process.stderr.write(`m87 mcp: ${line}\n`);
  };
  const session = new AgentSession({
    load: () => loadConnection({ kubeconfig: values.kubeconfig, context: values.context, namespace: values.namespace }),
    namespace: values.namespace,
    agent: values.agent,
  });
  // Say at once who we are (or why we cannot act): stdio's stderr is the agent runtime's log.
  try {
    const me = await session.whoAmI();
    log(`acting as ${me.username} (${session.source()}), namespace ${session.namespace()}`);
  } catch (err) {
    log(`no usable credentials yet, every tool call will say why: ${err instanceof Error ? err.message : String(err)}`);
  }

  if (listen !== undefined) {
    const { host, port } = listen;
    let handle;
    let token: string | null = null;
    try {
      if (tokenFile !== undefined) {
        const loaded = loadOrCreateToken(tokenFile);
        token = loaded.token;
        log(`${loaded.created ? 'wrote a new token to' : 'requests must carry the token in'} ${tokenFile} (Authorization: Bearer <token>)`);
      } else {
        log('--no-auth: no token; whoever reaches the port acts with these credentials');
      }
      handle = await serveHttp(session, { host, port, allowNonLoopback: values['allow-non-loopback'] === true, token });
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.usage);
    }
    log(`serving streamable HTTP on ${handle.url}`);
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await handle.close();
    return EXIT.ok;
  }

  const server = createMcpServer(session);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close();
  return EXIT.ok;
}
