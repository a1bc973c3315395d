import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { z } from 'zod';
import { GROUP, VERSION } from '../api/group.ts';
import { firstIssue } from '../api/issues.ts';
import { KINDS, type KindName } from '../api/kinds.ts';
import { apiError, CliError, EXIT } from './output.ts';

/** Typed get/list of M87 objects for the CLI, validating what the server returns (fail closed on junk). */
export class M87Client {
  private readonly api: CustomObjectsApi;
  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async get<S extends z.ZodType>(kind: KindName, schema: S, namespace: string, name: string): Promise<z.infer<S>> {
    let raw: unknown;
    try {
      raw = await this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS[kind].plural, name });
    } catch (err) {
      const e = apiError(err, `${kind} ${namespace}/${name}`);
      if (e.exitCode === EXIT.notFound) throw new CliError(`no ${kind} named "${name}" in namespace "${namespace}"`, EXIT.notFound);
      throw e;
    }
    return parse(schema, raw, `${kind} ${namespace}/${name}`);
  }

  async getClusterScoped<S extends z.ZodType>(kind: KindName, schema: S, name: string): Promise<z.infer<S>> {
    let raw: unknown;
    try {
      raw = await this.api.getClusterCustomObject({ group: GROUP, version: VERSION, plural: KINDS[kind].plural, name });
    } catch (err) {
      const e = apiError(err, `${kind} ${name}`);
      if (e.exitCode === EXIT.notFound) throw new CliError(`no ${kind} named "${name}"`, EXIT.notFound);
      throw e;
    }
    return parse(schema, raw, `${kind} ${name}`);
  }

  async getClusterScopedOptional<S extends z.ZodType>(kind: KindName, schema: S, name: string): Promise<z.infer<S> | undefined> {
    try {
      return await this.getClusterScoped(kind, schema, name);
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.notFound) return undefined;
      throw err;
    }
  }

  async getOptional<S extends z.ZodType>(kind: KindName, schema: S, namespace: string, name: string): Promise<z.infer<S> | undefined> {
    try {
      return await this.get(kind, schema, namespace, name);
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.notFound) return undefined;
      throw err;
    }
  }

  /** Lists a kind in one namespace, or in all namespaces when namespace is undefined. */
  async list<S extends z.ZodType>(kind: KindName, schema: S, namespace: string | undefined): Promise<z.infer<S>[]> {
    const plural = KINDS[kind].plural;
    let raw: { items?: unknown[] };
    try {
      raw = (
        namespace === undefined
          ? await this.api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
          : await this.api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
      ) as { items?: unknown[] };
    } catch (err) {
      throw apiError(err, `list ${plural}`);
    }
    return (raw.items ?? []).map((item, i) => parse(schema, item, `${plural}[${i}]`));
  }

  async create(kind: KindName, namespace: string, body: object): Promise<unknown> {
    try {
      return await this.api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS[kind].plural, body });
    } catch (err) {
      throw apiError(err, `create ${kind}`);
    }
  }
}

function parse<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    throw new CliError(`${what} is not valid: ${firstIssue(r.error)}`, EXIT.error);
  }
  return r.data;
}
