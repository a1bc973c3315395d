// `m87 controller`: runs the controller until SIGTERM/SIGINT (exit 0 after an orderly shutdown) or until
// leadership is lost or start-up fails (exit 1, so the Deployment restarts it as a fresh candidate).
import { setFlagsFromString } from 'node:v8';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { DEFAULT_CONFIG } from '../controller/config.ts';
import { parseListenAddress } from '../controller/http-server.ts';
import { isNotificationEvent, NOTIFICATION_EVENTS, type NotificationEvent } from '../controller/notification-webhook.ts';
import type { NotificationsConfig } from '../controller/notifications.ts';
import { startController } from '../controller/start.ts';
import { KubeConfigError, type KubeAccess } from '../runtime/kube-access.ts';
import { loadKubeAccess } from '../runtime/kube-config.ts';
import { CliError, EXIT } from './output.ts';

const HELP = `Usage: m87 controller [flags]

Runs the M87 controller: decides Proposals, evaluates Approvals, mints signed Jobs and runs them as isolated
Pods. Several replicas elect a leader through a Lease; only the leader writes.

Flags:
  --kubeconfig <path>            kubeconfig to use (default: in-cluster, then $KUBECONFIG / ~/.kube/config)
  --context <name>               kubeconfig context
  --namespace <ns>               controller namespace: Lease, signing key, public key (default ${DEFAULT_CONFIG.namespace})
  --runner-image <image>         runner image for job Pods (default ${DEFAULT_CONFIG.runnerImage})
  --metrics-addr <host:port>     /metrics, /healthz, /readyz (default 127.0.0.1:8080; "0" disables)
  --leader-elect <bool>          elect a leader through a Lease (default true)
  --lease-name <name>            Lease name (default m87-controller)
  --identity <id>                leader-election identity (default <hostname>_<uuid>)
  --lease-duration <d>           how long a standby waits before taking over (default 15s)
  --renew-deadline <d>           the leader stops when it could not renew for this long (default 10s)
  --retry-period <d>             interval of lease acquire/renew attempts (default 2s)
  --signing-secret <name>        Secret holding the Ed25519 signing key (default ${DEFAULT_CONFIG.signingSecretName})
  --public-key-configmap <name>  ConfigMap publishing the public key (default ${DEFAULT_CONFIG.publicKeyConfigMapName})
  --policy <name>                GovernancePolicy to decide under (default ${DEFAULT_CONFIG.policyName})
  --require-restricted-namespaces <bool>
                                 start job Pods only in namespaces enforcing Pod Security restricted (default true)
  --notify-webhook-secret <name> Secret (in --namespace) holding a Slack-compatible webhook URL: notify on
                                 the events below (docs/notifications.md); default none (no notifications)
  --notify-webhook-key <key>     key of the URL in that Secret (default url)
  --notify-events <list>         comma-separated events to notify: ${NOTIFICATION_EVENTS.join(',')} (default all)
  --retention <bool>             delete finished jobs' Pods and NetworkPolicies and, after their audit record,
                                 finished proposal trees as the policy's spec.retention says (default true)
  --audit-file <path>            also append every audit record to this file, fsynced before the deletion
                                 (docs/audit.md); default: the JSON log only
  --retention-rate <n>           retention deletions per second (token bucket, burst 4×; default 5)
  --memory-saver <bool>          V8's memory saver mode: the heap grows less and pages freed after a burst go
                                 back to the system (lower resident memory, some CPU time) (default true)
  --log-level <level>            pino level: trace, debug, info, warn, error (default info, or $M87_LOG_LEVEL)
  -h, --help                     this help
`;

function parseBool(value: string | boolean | undefined, flag: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new CliError(`${flag}: want true or false, got ${JSON.stringify(value)}`, EXIT.usage);
}

/** The notifications part of the config from the --notify-* flags; undefined without a Secret. */
export function notificationsConfig(values: { secret?: string | undefined; key?: string | undefined; events?: string | undefined }): NotificationsConfig | undefined {
  if (values.secret === undefined || values.secret === '') {
    if (values.key !== undefined || values.events !== undefined) throw new CliError('--notify-webhook-key and --notify-events need --notify-webhook-secret', EXIT.usage);
    return undefined;
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(values.secret)) throw new CliError(`--notify-webhook-secret: not a Secret name: ${JSON.stringify(values.secret)}`, EXIT.usage);
  const key = values.key ?? 'url';
  if (!/^[-._a-zA-Z0-9]{1,253}$/.test(key)) throw new CliError(`--notify-webhook-key: not a Secret key: ${JSON.stringify(key)}`, EXIT.usage);
  let events: NotificationEvent[] | undefined;
  if (values.events !== undefined) {
    const list = values.events.split(',').map((e) => e.trim()).filter((e) => e !== '');
    const unknown = list.filter((e) => !isNotificationEvent(e));
    if (list.length === 0 || unknown.length > 0) {
      throw new CliError(`--notify-events: want a comma-separated subset of ${NOTIFICATION_EVENTS.join(', ')}, got ${JSON.stringify(values.events)}`, EXIT.usage);
    }
    events = list.filter(isNotificationEvent);
  }
  return { secretName: values.secret, secretKey: key, ...(events ? { events } : {}) };
}

/** "15s", "500ms", "1m" (Go-style, one unit) → milliseconds. */
export function parseDuration(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim());
  if (!m) throw new CliError(`${flag}: want a duration like 15s or 500ms, got ${JSON.stringify(value)}`, EXIT.usage);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

/**
 * The controller's credentials without @kubernetes/client-node for static kubeconfigs and in-cluster config
 * (src/runtime/kube-config.ts); exec plugins, auth providers and proxies load it on demand.
 */
async function loadAccess(path: string | undefined, context: string | undefined): Promise<KubeAccess> {
  try {
    return await loadKubeAccess({ kubeconfig: path, context });
  } catch (err) {
    if (err instanceof KubeConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

export async function runController(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        'runner-image': { type: 'string' },
        'metrics-addr': { type: 'string' },
        'leader-elect': { type: 'string' },
        'lease-name': { type: 'string' },
        identity: { type: 'string' },
        'lease-duration': { type: 'string' },
        'renew-deadline': { type: 'string' },
        'retry-period': { type: 'string' },
        'require-restricted-namespaces': { type: 'string' },
        'signing-secret': { type: 'string' },
        'public-key-configmap': { type: 'string' },
        policy: { type: 'string' },
        'notify-webhook-secret': { type: 'string' },
        'notify-webhook-key': { type: 'string' },
        'notify-events': { type: 'string' },
        retention: { type: 'string' },
        'audit-file': { type: 'string' },
        'retention-rate': { type: 'string' },
        'log-level': { type: 'string' },
        'memory-saver': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${HELP}`, EXIT.usage);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  // Before the caches fill: V8 otherwise keeps the pages a burst freed resident (measured: 10,000 finished
  // trees left ~100 MiB more anonymous memory than V8's own committed heap). Flags set this way take effect
  // for later heap growth and reductions (V8 does not freeze flags after start in Node's build).
  if (parseBool(values['memory-saver'], '--memory-saver', true)) setFlagsFromString('--memory-saver-mode');
  const metricsAddr = values['metrics-addr'] ?? '127.0.0.1:8080';
  let http;
  try {
    http = metricsAddr === '0' || metricsAddr === '' ? (false as const) : parseListenAddress(metricsAddr);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
  const leaderElect = parseBool(values['leader-elect'], '--leader-elect', true);
  const requireRestricted = parseBool(values['require-restricted-namespaces'], '--require-restricted-namespaces', true);
  const leaseDurationMs = parseDuration(values['lease-duration'], '--lease-duration');
  const renewDeadlineMs = parseDuration(values['renew-deadline'], '--renew-deadline');
  const retryPeriodMs = parseDuration(values['retry-period'], '--retry-period');
  const level = values['log-level'] ?? process.env.M87_LOG_LEVEL ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new CliError(`--log-level: unknown level ${JSON.stringify(level)}`, EXIT.usage);
  }
  const retentionEnabled = parseBool(values.retention, '--retention', true);
  const retentionRate = values['retention-rate'] === undefined ? undefined : Number(values['retention-rate']);
  if (retentionRate !== undefined && !(Number.isFinite(retentionRate) && retentionRate > 0 && retentionRate <= 1000)) {
    throw new CliError(`--retention-rate: want a number of deletions per second in (0, 1000], got ${JSON.stringify(values['retention-rate'])}`, EXIT.usage);
  }
  if (values['audit-file'] === '') throw new CliError('--audit-file: want a path', EXIT.usage);
  const notifications = notificationsConfig({ secret: values['notify-webhook-secret'], key: values['notify-webhook-key'], events: values['notify-events'] });
  const logger = pino({ level, base: { component: 'm87-controller' } });
  const kc = await loadAccess(values.kubeconfig, values.context);
  logger.info({ credentials: kc.source, server: kc.server }, 'Kubernetes API access loaded');

  const controller = await startController({
    kubeConfig: kc,
    logger,
    http,
    handleSignals: true,
    config: {
      ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
      ...(values['runner-image'] !== undefined ? { runnerImage: values['runner-image'] } : {}),
      ...(values['signing-secret'] !== undefined ? { signingSecretName: values['signing-secret'] } : {}),
      ...(values['public-key-configmap'] !== undefined ? { publicKeyConfigMapName: values['public-key-configmap'] } : {}),
      ...(values.policy !== undefined ? { policyName: values.policy } : {}),
      requireRestrictedNamespace: requireRestricted,
      ...(notifications ? { notifications } : {}),
      retention: {
        enabled: retentionEnabled,
        ...(values['audit-file'] !== undefined ? { auditFile: values['audit-file'] } : {}),
        ...(retentionRate !== undefined ? { deletionsPerSecond: retentionRate, burst: Math.max(1, Math.ceil(retentionRate * 4)) } : {}),
      },
    },
    leaderElection: leaderElect
      ? {
          ...(values['lease-name'] !== undefined ? { leaseName: values['lease-name'] } : {}),
          ...(values.identity !== undefined ? { identity: values.identity } : {}),
          ...(leaseDurationMs !== undefined ? { leaseDurationMs } : {}),
          ...(renewDeadlineMs !== undefined ? { renewDeadlineMs } : {}),
          ...(retryPeriodMs !== undefined ? { retryPeriodMs } : {}),
        }
      : false,
  });
  if (controller.httpAddress) {
    // One line on stderr for humans and for tests that start the controller with port 0.
    process.stderr.write(`m87 controller: serving metrics on http://${controller.httpAddress.host}:${controller.httpAddress.port}/metrics\n`);
  }
  try {
    await controller.done;
    logger.info('Controller stopped');
    return EXIT.ok;
  } catch (err) {
    logger.error({ err }, 'Controller failed');
    return EXIT.error;
  }
}
