// The cluster's tool catalogue as a client reads it: the cluster-scoped Tool objects, each validated on its own
// (one bad Tool is shown as such instead of hiding the rest). Used by `m87 tools`, the MCP server's
// list_tools and the replay of a decision (explain.ts).
import { firstIssue } from '../api/issues.ts';
import { Tool } from '../api/kinds.ts';
import type { ToolSpec } from '../api/tool.ts';
import type { ToolCatalogue } from '../tool-catalogue/catalogue.ts';
import { toolHash } from '../tool-catalogue/tool-hash.ts';
import type { M87Client } from './client.ts';

/** One catalogue entry as listed: its hash when valid, the reason when not. */
export interface ListedTool {
  name: string;
  valid: boolean;
  /** toolHash(spec) for a valid tool. */
  hash?: string;
  /** Why the tool is not usable (the field at fault). */
  problem?: string;
  spec: unknown;
}

/** Validates each listed object on its own, sorted by name. */
export function listedTools(items: readonly unknown[]): ListedTool[] {
  return items
    .map((item): ListedTool => {
      const rawName = (item as { metadata?: { name?: unknown } } | null)?.metadata?.name;
      const name = typeof rawName === 'string' ? rawName : '';
      const parsed = Tool.safeParse(item);
      if (!parsed.success) {
        return { name, valid: false, problem: firstIssue(parsed.error), spec: (item as { spec?: unknown } | null)?.spec };
      }
      return { name, valid: true, hash: toolHash(parsed.data.spec), spec: parsed.data.spec };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The cluster's Tool objects, listed and validated. */
export async function listTools(client: M87Client): Promise<ListedTool[]> {
  return listedTools((await client.listRaw('Tool')).items);
}

/**
 * The catalogue the engine decides against, as the controller's cache holds it: name → spec exactly as stored,
 * an invalid one included (the engine reports it as an invalid tool, not an unknown one).
 */
export function catalogueOfListed(tools: readonly ListedTool[]): ToolCatalogue {
  return new Map(tools.filter((t) => t.name !== '').map((t) => [t.name, t.spec as ToolSpec]));
}
