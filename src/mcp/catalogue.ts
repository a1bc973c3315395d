// What an agent may ask the runner to do: the tool catalogue (the cluster's Tool objects, read with the
// agent's own credentials) and — where the agent's AgentProfile is readable — which of the tools its allowed
// effects cover.
import { Tool } from '../api/kinds.ts';
import { isClientError, listTools, type M87Client } from '../client/index.ts';

export interface CatalogueTool {
  name: string;
  description: string;
  effects: string[];
  minWriteScope: string;
  executionModes: string[];
  args: Record<string, { type: string; required: boolean; maxLength?: number | undefined; pathLike?: boolean | undefined; enum?: string[] | undefined; format?: string | undefined; description?: string | undefined }>;
  timeoutSeconds: number;
  network: boolean;
  /** The tool's image, pinned by digest (each step runs in its tool's image). */
  image: string;
  /** toolHash(spec): what a Decision binds. */
  hash: string;
  /** Whether the agent's profile allows every effect the tool needs (undefined when the profile is unknown). */
  allowedForAgent: boolean | undefined;
}

export interface Catalogue {
  source: string;
  agent:
    | { name: string; allowedEffects: string[]; maxRisk: number; readable: true }
    | { name: string; readable: false; why: string }
    | undefined;
  tools: CatalogueTool[];
  /** Tool objects the controller would refuse (a step naming one is denied TOOL_INVALID), with the field at fault. */
  invalid: { name: string; problem: string }[];
}

async function agentProfile(client: M87Client, agent: string): Promise<NonNullable<Catalogue['agent']>> {
  try {
    const profile = await client.get('AgentProfile', { name: agent });
    return { name: agent, allowedEffects: profile.spec.allowedEffects, maxRisk: profile.spec.maxRisk, readable: true };
  } catch (err) {
    if (isClientError(err, 'NotFound')) return { name: agent, readable: false, why: `there is no AgentProfile "${agent}"` };
    if (isClientError(err, 'Forbidden')) return { name: agent, readable: false, why: 'these credentials may not read AgentProfiles; the decision still checks the profile' };
    throw err;
  }
}

/** The catalogue for `agent` (an AgentProfile name), or for nobody in particular. */
export async function loadCatalogue(client: M87Client, agent: string | undefined): Promise<Catalogue> {
  const profile = agent === undefined ? undefined : await agentProfile(client, agent);
  const allowed = profile?.readable === true ? new Set(profile.allowedEffects) : undefined;
  const listed = await listTools(client);
  const tools: CatalogueTool[] = [];
  const invalid: Catalogue['invalid'] = [];
  for (const l of listed) {
    if (!l.valid) {
      invalid.push({ name: l.name, problem: l.problem ?? 'invalid' });
      continue;
    }
    const t = Tool.shape.spec.parse(l.spec);
    tools.push({
      name: l.name,
      description: t.description,
      effects: [...t.effects],
      minWriteScope: t.minWriteScope,
      executionModes: [...t.executionModes],
      args: Object.fromEntries(
        Object.entries(t.args).map(([name, a]) => [
          name,
          { type: a.type, required: a.required, maxLength: a.maxLength, pathLike: a.pathLike, enum: a.enum, format: a.format, description: a.description },
        ]),
      ),
      timeoutSeconds: t.timeoutSeconds,
      network: t.network,
      image: t.image,
      hash: l.hash ?? '',
      allowedForAgent: allowed === undefined ? undefined : t.effects.every((e) => allowed.has(e)),
    });
  }
  return { source: 'the cluster’s Tool objects (kubectl m87 tools)', agent: profile, tools, invalid };
}
