// A reader of the Dockerfile's instructions, enough for the forms this repository's Dockerfile uses: line
// continuations, heredocs (`COPY <<'NAME' dest`), ARG defaults, JSON-form ENTRYPOINT/CMD, `key=value` pairs
// of ENV and LABEL with ${ARG} substitution, and stages.

export interface Instruction {
  readonly op: string;
  /** The rest of the line after the instruction keyword (continuations joined). */
  readonly args: string;
  /** Body of a heredoc the instruction opens. */
  readonly heredoc?: string;
}

export interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

export interface Dockerfile {
  /** ARG defaults declared before the first FROM. */
  readonly globalArgs: Record<string, string>;
  readonly stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split('\n');
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + (lines[++i] ?? '').trim();
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) throw new Error(`Dockerfile line ${i + 1}: cannot read ${JSON.stringify(line)}`);
    const op = match[1].toUpperCase();
    const args = match[2].trim();
    let heredoc: string | undefined;
    const opened = /<<-?'?"?([A-Za-z_]+)'?"?/.exec(args);
    if (opened?.[1]) {
      const body: string[] = [];
      while (++i < lines.length && lines[i] !== opened[1]) body.push(lines[i] ?? '');
      if (i >= lines.length) throw new Error(`Dockerfile: heredoc ${opened[1]} is never closed`);
      heredoc = body.join('\n') + '\n';
    }
    if (op === 'FROM') {
      const [from, as, name] = args.split(/\s+/);
      stages.push({ from: from ?? '', ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) {
      if (op !== 'ARG') throw new Error(`Dockerfile: ${op} before the first FROM`);
      const [key, value] = args.split('=', 2);
      if (key) globalArgs[key] = value ?? '';
      continue;
    }
    stage.instructions.push({ op, args, ...(heredoc !== undefined ? { heredoc } : {}) });
  }
  return { globalArgs, stages };
}

/** `key=value` pairs (values optionally double-quoted) with ${NAME} replaced from `vars`. */
export function keyValuePairs(args: string, vars: Record<string, string> = {}): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const raw = m[2] ?? '';
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    pairs[m[1] ?? ''] = value.replace(/\$\{([A-Za-z_]+)\}/g, (_, name: string) => {
      if (!(name in vars)) throw new Error(`Dockerfile: \${${name}} has no value`);
      return vars[name] ?? '';
    });
  }
  return pairs;
}

/** The stage's ARG defaults. */
export function stageArgs(stage: Stage): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.op === 'ARG')) {
    const [key, value] = i.args.split('=', 2);
    if (key) vars[key] = value ?? '';
  }
  return vars;
}

/** COPY's flags (`--from=x`, `--chown=0:0`, …) and its sources and destination. */
export function copyParts(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [key, value] = (words.shift() ?? '').slice(2).split('=', 2);
    flags[key ?? ''] = value ?? '';
  }
  const dest = words.pop() ?? '';
  return { flags, sources: words, dest };
}
