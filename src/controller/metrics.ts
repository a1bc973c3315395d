// The controller's own metric families (DESIGN §7). Every label value comes from a closed set (outcomes,
// reason codes, phases) or from the policy (toxic-pair and tripwire names, at most 64 each), and every
// label set is created at zero on start so dashboards and alerts see the series before the first event.
// The runtime adds the workqueue, reconcile, informer and leader-election families to the same registry.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { APPROVAL_REJECTION_REASONS } from '../api/approval.ts';
import { OUTCOMES, type Outcome } from '../api/decision.ts';
import type { GovernancePolicySpec } from '../api/governance-policy.ts';
import { TerminalJobPhase } from '../api/job.ts';
import { REASON_CODES } from '../governance/codes.ts';
import { counter, gauge, histogram } from '../runtime/metrics.ts';
import { NOTIFICATION_EVENTS, NOTIFICATION_RESULTS, type NotificationEvent, type NotificationResult } from './notification-webhook.ts';
import { VERIFICATION_RESULTS, type VerificationResult } from './receipt-check.ts';

/** Seconds; decisions are expected in milliseconds but a missing policy can hold them for minutes. */
const DECISION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds; humans take minutes to hours. */
const APPROVAL_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400];

/** A finished Job's result label: its recorded phase. */
export type JobResultLabel = TerminalJobPhase;

export class ControllerMetrics {
  readonly registry: Registry;
  readonly #proposals;
  readonly #findings;
  readonly #throttled;
  readonly #decisionDuration;
  readonly #approvals;
  readonly #approvalWait;
  readonly #jobs;
  readonly #verifications;
  readonly #topology;
  readonly #tripwire;
  readonly #policyValid;
  readonly #eventsDropped;
  readonly #knownTopologies = new Set<string>();
  readonly #knownFlags = new Set<string>();
  #policyValidFn: () => boolean = () => false;
  readonly #notifications;
  readonly #retentionDeletions;
  readonly #auditRecords;
  #approvalsPendingFn: () => number = () => 0;

  constructor(opts: { registry?: Registry; isLeader?: () => boolean; defaultMetrics?: boolean } = {}) {
    this.registry = opts.registry ?? new Registry();
    const r = this.registry;
    if (opts.defaultMetrics ?? false) collectDefaultMetrics({ register: r });
    this.#proposals = counter(r, 'm87_proposals_total', 'Proposals decided, by decision outcome.', ['outcome']);
    this.#findings = counter(
      r,
      'm87_decisions_total',
      'Findings recorded in Decisions, by finding outcome, rule and reason code (a decision counts once per finding).',
      ['outcome', 'rule', 'code'],
    );
    this.#throttled = counter(r, 'm87_proposals_throttled_total', 'Times a proposal was held back by the per-submitter rate limit.', []);
    this.#decisionDuration = histogram(
      r,
      'm87_decision_duration_seconds',
      'Seconds from Proposal creation to its recorded Decision.',
      [],
      DECISION_BUCKETS,
    );
    this.#approvals = counter(r, 'm87_approvals_total', 'Approvals evaluated, by state and reason.', ['state', 'reason']);
    this.#approvalWait = histogram(
      r,
      'm87_approval_wait_seconds',
      'Seconds from a REQUIRE_HUMAN Decision to the approval quorum that minted its Job.',
      [],
      APPROVAL_BUCKETS,
    );
    this.#jobs = counter(r, 'm87_jobs_total', 'Jobs finished, by result.', ['result']);
    this.#verifications = counter(
      r,
      'm87_envelope_verifications_total',
      'Runner receipts checked by the controller, by result (verified, refused, mismatch, invalid, missing).',
      ['result'],
    );
    this.#topology = counter(r, 'm87_topology_hits_total', 'Toxic session topologies found in decisions, by topology (policy toxicPairs name).', ['topology']);
    this.#tripwire = counter(r, 'm87_tripwire_hits_total', 'Code tripwires found in decisions, by flag (policy tripwire name).', ['flag']);
    const policyValid = (): boolean => this.#policyValidFn();
    this.#policyValid = gauge(r, 'm87_policy_valid', '1 when the default GovernancePolicy exists and is valid, else 0 (nothing is decided).', [], function collect() {
      this.set(policyValid() ? 1 : 0);
    });
    this.#eventsDropped = counter(r, 'm87_events_dropped_total', 'Kubernetes Events not sent because of the event rate limit or too many in flight.', []);
    this.#eventsDropped.inc(0);
    const isLeader = opts.isLeader ?? (() => false);
    gauge(r, 'm87_leader', '1 while this replica is the leader (the only one that writes).', [], function collect() {
      this.set(isLeader() ? 1 : 0);
    });

    this.#notifications = counter(
      r,
      'm87_notifications_total',
      'Webhook notification attempts and their fate, by event (AwaitingApproval, Expired, Failed) and result (delivered, failed, dropped, superseded).',
      ['event', 'result'],
    );
    for (const event of NOTIFICATION_EVENTS) for (const result of NOTIFICATION_RESULTS) this.#notifications.inc({ event, result }, 0);
    const approvalsPending = (): number => this.#approvalsPendingFn();
    gauge(r, 'm87_approvals_pending', 'Proposals awaiting approval now (phase AwaitingApproval in the controller cache; every replica reports it).', [], function collect() {
      this.set(approvalsPending());
    });

    this.#retentionDeletions = counter(
      r,
      'm87_retention_deletions_total',
      'Deletions made by retention, by kind (Pod, NetworkPolicy, Proposal) and reason (KeepForElapsed, HistoryTTL, NamespaceCap).',
      ['kind', 'reason'],
    );
    for (const kind of ['Pod', 'NetworkPolicy'] as const) this.#retentionDeletions.inc({ kind, reason: 'KeepForElapsed' }, 0);
    for (const reason of ['HistoryTTL', 'NamespaceCap'] as const) this.#retentionDeletions.inc({ kind: 'Proposal', reason }, 0);
    this.#auditRecords = counter(r, 'm87_audit_records_total', 'Audit records of proposal trees, by result (written; failed: nothing was deleted).', ['result']);
    for (const result of ['written', 'failed'] as const) this.#auditRecords.inc({ result }, 0);

    for (const outcome of OUTCOMES) this.#proposals.inc({ outcome }, 0);
    for (const [code, info] of Object.entries(REASON_CODES)) {
      for (const outcome of info.outcomes) this.#findings.inc({ outcome, rule: info.rule, code }, 0);
    }
    this.#throttled.inc(0);
    this.#decisionDuration.zero({});
    this.#approvals.inc({ state: 'Accepted', reason: 'Accepted' }, 0);
    for (const reason of APPROVAL_REJECTION_REASONS) this.#approvals.inc({ state: 'Rejected', reason }, 0);
    this.#approvalWait.zero({});
    for (const result of TerminalJobPhase.options) this.#jobs.inc({ result }, 0);
    for (const result of VERIFICATION_RESULTS) this.#verifications.inc({ result }, 0);
    this.#policyValid.set(0);
  }

  /** Creates the topology and tripwire series of a (new) policy at zero. */
  initPolicyLabels(policy: Pick<GovernancePolicySpec, 'toxicPairs' | 'tripwires'>): void {
    for (const p of policy.toxicPairs) {
      if (!this.#knownTopologies.has(p.name)) {
        this.#knownTopologies.add(p.name);
        this.#topology.inc({ topology: p.name }, 0);
      }
    }
    for (const t of policy.tripwires.patterns) {
      if (!this.#knownFlags.has(t.name)) {
        this.#knownFlags.add(t.name);
        this.#tripwire.inc({ flag: t.name }, 0);
      }
    }
  }

  /** Where m87_policy_valid reads its value at scrape time. */
  setPolicyValid(fn: () => boolean): void {
    this.#policyValidFn = fn;
  }

  /** Where m87_approvals_pending reads its value at scrape time. */
  setApprovalsPending(fn: () => number): void {
    this.#approvalsPendingFn = fn;
  }

  notification(event: NotificationEvent, result: NotificationResult): void {
    this.#notifications.inc({ event, result });
  }

  decided(d: {
    outcome: Outcome;
    reasons: readonly { code: string; rule: string; outcome: Outcome; message: string }[];
    durationSeconds: number;
    topologies: readonly string[];
    tripwireFlags: readonly string[];
  }): void {
    this.#proposals.inc({ outcome: d.outcome });
    for (const r of d.reasons) {
      // Only known codes become label values (an unknown code would be an unbounded label).
      if (Object.hasOwn(REASON_CODES, r.code)) this.#findings.inc({ outcome: r.outcome, rule: r.rule, code: r.code });
    }
    if (Number.isFinite(d.durationSeconds) && d.durationSeconds >= 0) this.#decisionDuration.observe(d.durationSeconds);
    for (const t of d.topologies) if (this.#knownTopologies.has(t)) this.#topology.inc({ topology: t });
    for (const f of d.tripwireFlags) if (this.#knownFlags.has(f)) this.#tripwire.inc({ flag: f });
  }

  retentionDeleted(kind: 'Pod' | 'NetworkPolicy' | 'Proposal', reason: string): void {
    this.#retentionDeletions.inc({ kind, reason });
  }

  auditRecord(result: 'written' | 'failed'): void {
    this.#auditRecords.inc({ result });
  }

  eventDropped(): void {
    this.#eventsDropped.inc();
  }

  throttled(): void {
    this.#throttled.inc();
  }

  approval(state: 'Accepted' | 'Rejected', reason: string): void {
    this.#approvals.inc({ state, reason });
  }

  approvalWait(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.#approvalWait.observe(seconds);
  }

  jobFinished(result: JobResultLabel, verification: VerificationResult): void {
    this.#jobs.inc({ result });
    this.#verifications.inc({ result: verification });
  }

  /** Names of known topologies / tripwire flags a decision's reasons mention. */
  hitsIn(reasons: readonly { code: string; message: string }[]): { topologies: string[]; tripwireFlags: string[] } {
    const topologies = new Set<string>();
    const flags = new Set<string>();
    for (const r of reasons) {
      if (r.code === 'TOXIC_TOPOLOGY') for (const t of this.#knownTopologies) if (mentions(r.message, t)) topologies.add(t);
      if (r.code === 'TRIPWIRE') for (const f of this.#knownFlags) if (mentions(r.message, f)) flags.add(f);
    }
    return { topologies: [...topologies], tripwireFlags: [...flags] };
  }
}

/** Whole-word mention (names are [a-z0-9_], so "eval" does not match inside "evaluate"). */
function mentions(message: string, name: string): boolean {
  let from = 0;
  for (;;) {
    const i = message.indexOf(name, from);
    if (i < 0) return false;
    const before = message[i - 1];
    const after = message[i + name.length];
    if ((before === undefined || !/[a-z0-9_]/.test(before)) && (after === undefined || !/[a-z0-9_]/.test(after))) return true;
    from = i + 1;
  }
}
