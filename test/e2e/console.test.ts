// The approvers' console (`m87 ui`) in a real headless Chromium against the e2e stack (chart RBAC and
// admission, controller, process node). `m87 ui` runs as the real CLI with a person's own kubeconfig
// context: alice (an approver) and viewer (may read, not approve). Approving in the page creates an
// Approval as alice (spec.approver, and the API server's audit log says alice created it); the viewer sees
// the refusal; a verdict on a version that was re-created after review, or on an expired decision, is
// refused and nothing is recorded; keyboard-only approval works. Screenshots go to test-results/console/.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../dev/cluster/binaries.ts';
import { waitUntil } from '../../dev/cluster/probe.ts';
import { challengeAnswer, m87Cli, propose, waitForDecision, waitForProposalPhase } from '../../dev/demo/observe.ts';
import { onProcessExit } from '../../dev/demo/processes.ts';
import { deploySpec } from '../../dev/demo/proposals.ts';
import { API_VERSION } from '../../src/api/group.ts';
import { approvalName, M87Client } from '../../src/client/index.ts';
import { proposalHash } from '../../src/integrity/document-hashes.ts';
import { kubeRequest } from '../../src/runtime/kube-http.ts';
import { auditEvents } from '../support/audit.ts';
import { launchBrowser, type Browser } from './console-browser.ts';
import { e2eStack } from './stack.ts';

const { stack, ctx } = await e2eStack('console');
const ns = stack.jobNamespace;
const admin = new M87Client(stack.admin);
const SHOTS = join(REPO_ROOT, 'test-results', 'console');
mkdirSync(SHOTS, { recursive: true });

const PATCH = `--- a/src/cart.ts\n+++ b/src/cart.ts\n@@ -10,3 +10,3 @@\n-  return items.reduce((s, i) => s + i.price, 0);\n+  return Math.round(items.reduce((s, i) => s + i.price * 100, 0)) / 100;\n`;
const name = (what: string): string => `console-${what}-${ctx.suffix}`;

/** `m87 ui` as a child process with a person's own context; resolves with the URL it prints. */
const children: ChildProcess[] = [];
async function startUi(context: string): Promise<{ url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'ui', '--kubeconfig', stack.kubeconfigPath, '--context', context, '-n', ns], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  // Stopped in afterAll; also if this worker ends without getting there (by PID, never by name).
  onProcessExit(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^Open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)$/m.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`m87 ui exited (${code}) before printing its URL: ${err}`)));
    setTimeout(() => reject(new Error(`m87 ui printed no URL within 30 s: ${err}`)), 30_000);
  });
  return { url, stderr: () => err };
}

async function proposeDeploy(n: string, environment: string, extra: Record<string, unknown> = {}): Promise<void> {
  await propose(stack.bob, ns, n, { ...deploySpec('bob', environment, stack.repository!), ...extra });
  await waitForProposalPhase(stack.admin, ns, n, ['AwaitingApproval']);
}

/** A script that trips the policy's `subprocess` tripwire: the decision then carries a challenge. */
const TRIPWIRE_SCRIPT = { type: 'python_code', path: 'scripts/smoke.py', content: 'import subprocess\nsubprocess.run(["make", "smoke"], check=True)\n' };

/** The answer a careful approver types (the prompt names it). */
async function answerFor(n: string): Promise<string | undefined> {
  const d = await waitForDecision(stack.admin, ns, n);
  if (d.spec.challenge === undefined) return undefined;
  return /matched the tripwire (\w+)\./.exec(d.spec.challenge.prompt)?.[1] ?? challengeAnswer(d.spec.challenge.prompt);
}

/** Opens a proposal from the list (a click) and waits for its review. */
async function open(page: Page, n: string): Promise<void> {
  await page.locator(`.list button[data-key="${ns}/${n}"]`).click();
  await page.locator('#detail dl.meta').first().getByText(`${ns}/${n}`, { exact: true }).waitFor();
}

async function approvalOf(n: string, approver: string) {
  return admin.find('Approval', { namespace: ns, name: approvalName(n, approver) });
}

interface Focused {
  id: string;
  key: string;
  text: string;
  outline: string;
}

let browser: Browser;
let alice: { url: string; stderr: () => string };
let viewer: { url: string; stderr: () => string };
let policyExpiry: number;
/** A tab that opened the expiring proposal while it awaited approval, kept open until it expired. */
let expiringTab: Page;

async function setExpiry(seconds: number): Promise<void> {
  const patched = await kubeRequest<{ metadata: { generation: number } }>(stack.admin, {
    method: 'PATCH',
    path: `/apis/${API_VERSION}/governancepolicies/default`,
    contentType: 'application/merge-patch+json',
    body: { spec: { approvals: { expirySeconds: seconds } } },
  });
  // The controller decides under the policy once its status observed that generation.
  await waitUntil(
    async () => {
      const p = await admin.get('GovernancePolicy', { name: 'default' });
      return p.status?.observedGeneration === patched.metadata.generation ? true : undefined;
    },
    { what: `the controller to observe policy expirySeconds=${seconds}`, timeoutMs: 20_000, intervalMs: 100 },
  );
}

beforeAll(async () => {
  browser = await launchBrowser();
  [alice, viewer] = await Promise.all([startUi('alice'), startUi('viewer')]);
  // One proposal decided under the shortest approval window (60 s), so that it expires during this file.
  policyExpiry = (await admin.get('GovernancePolicy', { name: 'default' })).spec.approvals.expirySeconds;
  await setExpiry(60);
  try {
    await proposeDeploy(name('expire'), 'qa');
  } finally {
    await setExpiry(policyExpiry);
  }
  expiringTab = await browser.context.newPage();
  await expiringTab.goto(alice.url);
  await open(expiringTab, name('expire'));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((resolve) => c.once('exit', resolve))));
});

describe('m87 ui in headless Chromium', () => {
  it('the URL token becomes a cookie; the page shows the pending proposal in full and alice approves it as herself', async () => {
    const n = name('approve');
    await proposeDeploy(n, 'staging', { artifacts: [{ type: 'diff', path: 'src/cart.ts', content: PATCH }] });
    const page = await browser.context.newPage();
    await page.goto(alice.url);
    // The token is gone from the address bar (now an HttpOnly cookie); the identity is the API server's.
    expect(new URL(page.url()).search).toBe('');
    await expect.poll(() => page.locator('#identity').textContent()).toMatch(/^Signed in as alice /);
    await open(page, n);
    const proposal = await admin.get('Proposal', { namespace: ns, name: n });
    const decision = await admin.get('Decision', { namespace: ns, name: n });
    const detail = page.locator('#detail');
    await expect.poll(() => detail.textContent()).toContain('Smoke-test and deploy checkout v1.4.2 to staging');
    const text = (await detail.textContent()) ?? '';
    // Every reason, the effects, both hashes, the declared patch, the envelope and the challenge.
    for (const r of decision.spec.reasons) expect(text).toContain(r.code);
    expect(text).not.toMatch(/null|undefined|\[object Object\]/);
    expect(text).toContain('DEPLOY, READ_REPO, RUN_TESTS');
    expect(text).toContain(proposalHash(proposal.spec));
    expect(text).toContain(decision.spec.envelopeHash ?? 'no envelope hash');
    expect(await page.locator('pre[aria-label="Content of src/cart.ts"]').textContent()).toBe(PATCH);
    await page.getByText('The effective envelope the job is bound to').click();
    expect(await page.locator('details pre').textContent()).toContain(decision.spec.effectiveEnvelope?.modelId ?? 'no envelope');
    const answer = await answerFor(n);
    if (answer !== undefined) {
      expect(text).toContain(decision.spec.challenge?.prompt ?? '');
      await page.getByLabel('Challenge').fill(answer);
    }
    await page.getByLabel('Comment (recorded with the Approval)').fill('Checked the patch and the envelope.');
    await page.screenshot({ path: join(SHOTS, '01-review.png'), fullPage: true });
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect.poll(() => page.locator('#verdict-result').textContent()).toMatch(/^Approve recorded as alice \(Approval /);

    const approval = await approvalOf(n, 'alice');
    expect(approval?.spec).toMatchObject({
      approver: 'alice',
      verdict: 'Approve',
      proposalUID: proposal.metadata.uid,
      proposalHash: proposalHash(proposal.spec),
      comment: 'Checked the patch and the envelope.',
    });
    // The API server's view: alice herself created it (and nobody else created approvals for it).
    const creates = (await auditEvents(stack.admin)).filter((e) => e.verb === 'create' && e.objectRef?.resource === 'approvals' && e.objectRef.name === approvalName(n, 'alice'));
    expect(creates.map((e) => [e.user.username, e.responseStatus?.code])).toEqual([['alice', 201]]);

    // Live updates: the proposal leaves the pending list and its receipt appears, without reloading.
    await waitForProposalPhase(stack.admin, ns, n, ['Succeeded'], 90_000);
    await expect.poll(() => page.locator('#detail-phase').textContent(), { timeout: 15_000 }).toBe('Succeeded');
    await expect.poll(() => page.locator('#history-list').textContent()).toContain('Smoke-test and deploy checkout v1.4.2 to staging');
    expect(await page.locator(`#pending-list button[data-key="${ns}/${n}"]`).count()).toBe(0);
    const receipt = (await page.locator('#job-status').textContent()) ?? '';
    expect(receipt).toContain('Envelope verifiedyes');
    expect(receipt).toContain('run-tests');
    expect(await page.locator('#detail').textContent()).toContain('Approve by alice — Accepted');
    await page.locator('#job-status').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, '02-approved-receipt.png') });
    await page.close();
  });

  it('a non-approver (viewer) sees the refusal in the page, and nothing is recorded', async () => {
    const n = name('viewer');
    await proposeDeploy(n, 'review');
    const page = await browser.context.newPage();
    await page.goto(viewer.url);
    await expect.poll(() => page.locator('#identity').textContent()).toMatch(/^Signed in as viewer .*do not hold the approve verb/);
    await open(page, n);
    const answer = await answerFor(n);
    if (answer !== undefined) await page.getByLabel('Challenge').fill(answer);
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect.poll(() => page.locator('#verdict-result').textContent()).toMatch(/^Refused \(403 Forbidden\): you \(viewer\) are not an approver/);
    await page.screenshot({ path: join(SHOTS, '03-viewer-refused.png'), fullPage: true });
    expect(await approvalOf(n, 'viewer')).toBeUndefined();
    expect((await admin.get('Proposal', { namespace: ns, name: n })).status?.phase).toBe('AwaitingApproval');
    await page.close();
  });

  it('a verdict on the version alice reviewed is refused once the proposal was re-created with another spec', async () => {
    const n = name('viewer'); // still awaiting approval
    const page = await browser.context.newPage();
    await page.goto(alice.url);
    await open(page, n);
    const reviewedHash = (await admin.get('Proposal', { namespace: ns, name: n })).status?.proposalHash;
    const answer = await answerFor(n);
    // Behind alice's back: the proposal is deleted and re-created under the same name, asking for more.
    await kubeRequest(stack.admin, { method: 'DELETE', path: `/apis/${API_VERSION}/namespaces/${ns}/proposals/${n}` });
    await waitUntil(async () => ((await admin.find('Proposal', { namespace: ns, name: n })) === undefined ? true : undefined), { what: `${n} deleted`, timeoutMs: 20_000, intervalMs: 100 });
    await proposeDeploy(n, 'production-eu');
    const now = await admin.get('Proposal', { namespace: ns, name: n });
    expect(now.status?.proposalHash).not.toBe(reviewedHash);
    // The page says so at once (live), and the form stays bound to what alice reviewed.
    await expect.poll(() => page.locator('#changed-notice').textContent(), { timeout: 15_000 }).toMatch(/changed since you opened it \(deleted and re-created\)/);
    if (answer !== undefined) await page.getByLabel('Challenge').fill(answer);
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect.poll(() => page.locator('#verdict-result').textContent()).toMatch(/^Refused \(409 Changed\): .*deleted and re-created since you reviewed it/);
    await page.screenshot({ path: join(SHOTS, '04-recreated-refused.png'), fullPage: true });
    expect(await approvalOf(n, 'alice')).toBeUndefined();
    expect((await admin.get('Proposal', { namespace: ns, name: n })).status?.phase).toBe('AwaitingApproval');

    // Reviewing the current version and rejecting it records a Reject bound to the new UID and hash.
    await page.getByRole('button', { name: 'Review the current version' }).click();
    await expect.poll(() => page.locator('#detail').textContent()).toContain(now.status?.proposalHash ?? 'no hash');
    await page.getByLabel('Comment (recorded with the Approval)').fill('Not to production-eu this week.');
    await page.getByRole('button', { name: 'Reject', exact: true }).click();
    await expect.poll(() => page.locator('#verdict-result').textContent()).toMatch(/^Reject recorded as alice/);
    expect((await approvalOf(n, 'alice'))?.spec).toMatchObject({ verdict: 'Reject', proposalUID: now.metadata.uid, proposalHash: now.status?.proposalHash, comment: 'Not to production-eu this week.' });
    await expect.poll(() => page.locator('#detail-phase').textContent(), { timeout: 20_000 }).toBe('Rejected');
    await page.close();
  });

  it('keyboard only: Tab to the proposal, Enter, answer the challenge, comment, Approve with Enter', async () => {
    const n = name('keys');
    await proposeDeploy(n, 'canary', { artifacts: [TRIPWIRE_SCRIPT] });
    const answer = await answerFor(n);
    expect(answer).toBe('subprocess');
    const page = await browser.context.newPage();
    await page.goto(alice.url);
    await page.locator(`.list button[data-key="${ns}/${n}"]`).waitFor();
    // Evaluated in the page (a string: this project's TypeScript has no DOM types).
    const focused = () =>
      page.evaluate<Focused>(
        "(() => { const a = document.activeElement; return { id: a?.id ?? '', key: a?.dataset?.key ?? '', text: a?.textContent ?? '', outline: a ? getComputedStyle(a).outlineStyle : 'none' }; })()",
      );
    const tabTo = async (matches: (f: Focused) => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        if (matches(await focused())) return;
      }
      throw new Error(`Tab never reached ${what}`);
    };
    await tabTo((f) => f.key === `${ns}/${n}`, 'the proposal in the list');
    // Focus is visible (an outline, not only a colour).
    expect((await focused()).outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused()).id).toBe('detail');
    // Approve without answering: the page asks for the answer and puts the focus in the field.
    await tabTo((f) => f.text === 'Approve', 'the Approve button');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#verdict-result').textContent()).toBe('Answer the challenge to approve.');
    expect((await focused()).id).toBe('challenge');
    await page.keyboard.type(answer ?? '');
    await tabTo((f) => f.id === 'comment', 'the comment field');
    await page.keyboard.type('Approved from the keyboard.');
    await tabTo((f) => f.text === 'Approve', 'the Approve button');
    await page.screenshot({ path: join(SHOTS, '05-keyboard-focus.png') });
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#verdict-result').textContent()).toMatch(/^Approve recorded as alice/);
    expect((await approvalOf(n, 'alice'))?.spec).toMatchObject({ approver: 'alice', verdict: 'Approve', challengeResponse: 'subprocess', comment: 'Approved from the keyboard.' });
    // The controller accepted the answer: the page shows the verdict Accepted (live).
    await expect.poll(() => page.locator('#live').textContent(), { timeout: 20_000 }).toContain('Approve by alice — Accepted');
    await page.close();
  });

  it('an expired decision cannot be approved: the open page learns it expired, and its verdict is refused', async () => {
    const n = name('expire');
    const decision = await admin.get('Decision', { namespace: ns, name: n });
    const expiresAt = Date.parse(decision.spec.expiresAt ?? '');
    expect(expiresAt - Date.parse(decision.spec.decidedAt)).toBeLessThanOrEqual(60_000);
    await waitForProposalPhase(stack.admin, ns, n, ['Expired'], Math.max(0, expiresAt - Date.now()) + 30_000);
    await expect.poll(() => expiringTab.locator('#detail-phase').textContent(), { timeout: 15_000 }).toBe('Expired');
    expect(await expiringTab.locator('#changed-notice').textContent()).toMatch(/No longer awaiting approval \(Expired\)/);
    const answer = await answerFor(n);
    if (answer !== undefined) await expiringTab.getByLabel('Challenge').fill(answer);
    await expiringTab.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect.poll(() => expiringTab.locator('#verdict-result').textContent()).toMatch(/^Refused \(409 Conflict\): proposal .* is Expired, not awaiting approval/);
    await expiringTab.screenshot({ path: join(SHOTS, '06-expired-refused.png'), fullPage: true });
    expect(await approvalOf(n, 'alice')).toBeUndefined();
  }, 150_000);

  it('m87 ui said whom it acts as, and never printed the token to its log', () => {
    expect(alice.stderr()).toMatch(/m87 ui: acting as alice \(kubeconfig .* \(context alice\)\), namespace /);
    expect(alice.stderr()).not.toContain(new URL(alice.url).searchParams.get('token') ?? 'no token');
  });

  it('m87 ui refuses to start without a usable kubeconfig context, or on a non-loopback address', async () => {
    const noContext = await m87Cli(['ui', '--kubeconfig', stack.kubeconfigPath, '--context', 'nobody', '-n', ns], 30_000);
    expect(noContext.code).not.toBe(0);
    expect(noContext.stderr).toContain('has no context "nobody"');
    expect(noContext.stdout).not.toContain('Open http');
    const wide = await m87Cli(['ui', '--kubeconfig', stack.kubeconfigPath, '--context', 'alice', '-n', ns, '--listen', '0.0.0.0:0'], 30_000);
    expect(wide.code).toBe(2);
    expect(wide.stderr).toMatch(/refusing to listen on 0\.0\.0\.0: not a loopback address/);
    expect(wide.stdout).not.toContain('Open http');
  });
});
