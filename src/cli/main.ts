/**
 * The m87 command, also installed as kubectl-m87. A thin dispatcher: each subcommand lives in its own
 * module and is loaded only when used, so `m87 runner` in a job Pod never loads the controller.
 */

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  controller: {
    summary: 'Run the M87 controller (leader-elected).',
    load: async () => (await import('./controller-command.ts')).runController,
  },
  runner: {
    summary: 'Run one governed job inside its Pod (verifies the signed envelope first).',
    load: async () => (await import('./runner-command.ts')).runRunner,
  },
  step: {
    summary: 'Run one step of a governed job inside its tool container (step Pods; verifies the envelope first).',
    load: async () => (await import('./runner-command.ts')).runStep,
  },
  'install-runner': {
    summary: "Deliver the runner into a step Pod's shared volume (first init container of a step Pod).",
    load: async () => (await import('./runner-command.ts')).runInstallRunner,
  },
  pending: {
    summary: 'List proposals waiting for human approval.',
    load: async () => (await import('./pending-command.ts')).runPending,
  },
  approve: {
    summary: 'Approve a proposal (shows what is being approved; asks the challenge).',
    load: async () => (await import('./approve-command.ts')).runApprove,
  },
  reject: {
    summary: 'Reject a proposal.',
    load: async () => (await import('./approve-command.ts')).runReject,
  },
  explain: {
    summary: "Re-evaluate a decided proposal with today's policy and compare with the recorded Decision.",
    load: async () => (await import('./explain-command.ts')).runExplain,
  },
  tools: {
    summary: 'List the tool catalogue (Tool objects in the cluster): effects, write scope, network, image digest.',
    load: async () => (await import('./tools-command.ts')).runTools,
  },
  artifacts: {
    summary: "Fetch a proposal's Job outputs (patch, test report…), each checked against the receipt's digest: artifacts <proposal> [-o DIR].",
    load: async () => (await import('./artifacts-command.ts')).runArtifacts,
  },
  mcp: {
    summary: 'Serve the M87 tools to an agent runtime over MCP (stdio, or streamable HTTP on loopback).',
    load: async () => (await import('./mcp-command.ts')).runMcp,
  },
  ui: {
    summary: "The approvers' web console on 127.0.0.1 (acts with your kubeconfig credentials; prints a URL with a token).",
    load: async () => (await import('./ui-command.ts')).runUi,
  },
  hash: {
    summary: 'Print the proposal hash or envelope hash (DEH) of manifests: hash -f <file>.',
    load: async () => (await import('./hash-command.ts')).runHash,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: m87 <command> [flags]\n\nCommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`m87: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (err: unknown) => {
    process.stderr.write(`m87: ${err instanceof Error ? err.message : String(err)}\n`);
    // Loaded only on failure: output.ts brings the Kubernetes client, which the runner's delivered copy lacks.
    process.exitCode = await import('./output.ts').then(
      (output) => output.exitCodeOf(err),
      () => 1,
    );
  },
);
