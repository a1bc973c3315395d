// The agent behind one `m87 mcp` process: its credentials (loaded once; a load error is kept and reported by
// every tool call, so the agent sees why instead of a server that vanished) and its identity, which the API
// server states (SelfSubjectReview) — never a tool parameter.
import { assertSubmitter, M87Client, type Connection, type Identity } from '../client/index.ts';

export interface AgentSessionOptions {
  /** Loads the connection; throws M87ClientError NoCredentials when there is none. */
  load: () => Connection;
  /** Namespace for calls that name none (default: the connection's). */
  namespace?: string | undefined;
  /** AgentProfile a proposal acts as when it names none. */
  agent?: string | undefined;
}

export class AgentSession {
  private connection: Connection | undefined;
  private identity: Identity | undefined;
  private readonly opts: AgentSessionOptions;
  constructor(opts: AgentSessionOptions) {
    this.opts = opts;
  }

  private connect(): Connection {
    // Retried on every call until it works: the token file of a Pod may appear after the server started.
    this.connection ??= this.opts.load();
    return this.connection;
  }

  client(): M87Client {
    const conn = this.connect();
    return new M87Client(conn.kubeConfig);
  }

  namespace(given?: string): string {
    return given ?? this.opts.namespace ?? this.connect().namespace;
  }

  get defaultAgent(): string | undefined {
    return this.opts.agent;
  }

  /** Where the credentials came from (for the startup line and list_tools). */
  source(): string {
    return this.connect().source;
  }

  /** Who the credentials are; anonymous credentials are refused. Cached once known. */
  async whoAmI(): Promise<Identity> {
    if (this.identity === undefined) {
      const identity = await this.client().whoAmI();
      assertSubmitter(identity);
      this.identity = identity;
    }
    return this.identity;
  }
}
