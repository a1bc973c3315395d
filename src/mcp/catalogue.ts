// What an agent may ask the runner to do: the tool catalogue, and — where the agent's AgentProfile is
// readable — which of the tools its allowed effects cover. The catalogue's source is this one function:
// today the built-in tool manifest; the cluster-scoped `Tool` kind replaces it here.
import { TOOL_MANIFEST, toolManifestHash } from '../tool-catalogue/manifest.ts';
import { isClientError, type M87Client } from '../client/index.ts';

export interface CatalogueTool {
  name: string;
  description: string;
  effects: string[];
  minWriteScope: string;
  executionModes: string[];
  args: Record<string, { required: boolean; maxLength: number; pathLike?: boolean | undefined; enum?: string[] | undefined; format?: string | undefined }>;
  timeoutSeconds: number;
  network: boolean;
  /** Whether the agent's profile allows every effect the tool needs (undefined when the profile is unknown). */
  allowedForAgent: boolean | undefined;
}

export interface Catalogue {
  source: string;
  version: string;
  hash: string;
  agent:
    | { name: string; allowedEffects: string[]; maxRisk: number; readable: true }
    | { name: string; readable: false; why: string }
    | undefined;
  tools: CatalogueTool[];
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
  return {
    source: 'built-in tool manifest (src/tool-catalogue/manifest.json)',
    version: TOOL_MANIFEST.version,
    hash: toolManifestHash(),
    agent: profile,
    tools: TOOL_MANIFEST.tools.map((t) => ({
      name: t.name,
      description: t.description,
      effects: [...t.effects],
      minWriteScope: t.minWriteScope,
      executionModes: [...t.executionModes],
      args: Object.fromEntries(
        Object.entries(t.args).map(([name, a]) => [name, { required: a.required, maxLength: a.maxLength, pathLike: a.pathLike, enum: a.enum, format: a.format }]),
      ),
      timeoutSeconds: t.timeoutSeconds,
      network: t.network,
      allowedForAgent: allowed === undefined ? undefined : t.effects.every((e) => allowed.has(e)),
    })),
  };
}
