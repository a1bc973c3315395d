// np-guard's netpol-analyzer (`netpolicy eval`) as a function: static analysis of NetworkPolicy semantics
// over manifests in a directory. No packet is ever sent; IP addresses are strings in the analyzer's input.
import { execFileSync } from 'node:child_process';
import { resolveBinary } from '../cluster/binaries.ts';

/** The kube-apiserver's ClusterIP in the local plane's service range (10.0.0.0/24), as a job Pod sees it. */
export const API_SERVER_SERVICE_IP = '10.0.0.1';

export interface PodRef {
  namespace: string;
  name: string;
}

export interface ConnectionQuery {
  source: PodRef;
  /** An external address (a string for the analyzer; never contacted). */
  destinationIp?: string;
  destinationPod?: PodRef;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export function netpolAnalyzerBinary(): string {
  return resolveBinary('netpolicy');
}

const RESULT = /^(\S+) => (\S+) over (tcp|udp|sctp)\/(\d+): (true|false)$/;

/** Parses the analyzer's one-line verdict; anything else is an error (never read as "allowed"). */
export function parseEvalOutput(output: string, query: ConnectionQuery): boolean {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const verdicts = lines.map((l) => RESULT.exec(l)).filter((m) => m !== null);
  if (verdicts.length !== 1) throw new Error(`netpolicy eval: expected one verdict line, got: ${JSON.stringify(output)}`);
  const [, source, destination, protocol, port, allowed] = verdicts[0] as RegExpExecArray;
  const wantDestination = query.destinationPod ? `${query.destinationPod.namespace}/${query.destinationPod.name}` : query.destinationIp;
  const wantProtocol = (query.protocol ?? 'TCP').toLowerCase();
  if (source !== `${query.source.namespace}/${query.source.name}` || destination !== wantDestination || protocol !== wantProtocol || port !== String(query.port)) {
    throw new Error(`netpolicy eval answered another question: ${JSON.stringify(lines)} for ${JSON.stringify(query)}`);
  }
  return allowed === 'true';
}

/**
 * Whether the NetworkPolicies in `dir` (which must also hold the Pods and their Namespaces) allow the
 * connection. Throws when the analyzer fails or answers ambiguously.
 */
export function evaluateConnection(dir: string, query: ConnectionQuery, binary = netpolAnalyzerBinary()): boolean {
  if ((query.destinationIp === undefined) === (query.destinationPod === undefined)) {
    throw new Error('evaluateConnection: give exactly one of destinationIp and destinationPod');
  }
  const args = ['eval', '--dirpath', dir, '-q', '-s', query.source.name, '-n', query.source.namespace, '-p', String(query.port), '--protocol', (query.protocol ?? 'TCP').toLowerCase()];
  if (query.destinationPod) args.push('-d', query.destinationPod.name, '--destination-namespace', query.destinationPod.namespace);
  else args.push('--destination-ip', query.destinationIp ?? '');
  let output: string;
  try {
    output = execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: unknown; stderr?: unknown };
    const text = (v: unknown): string => (typeof v === 'string' ? v : '');
    throw new Error(`netpolicy ${args.join(' ')} failed: ${text(stderr)}${text(stdout)}`.trim(), { cause: error });
  }
  return parseEvalOutput(output, query);
}
