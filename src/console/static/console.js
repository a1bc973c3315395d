// The approvers' console page: renders what the server's watches send (server-sent events) and posts
// verdicts. Everything shown comes from proposals agents wrote, so it is only ever set as text, never as
// HTML. A verdict is bound to the version the approver opened: the form carries that UID and hash, and the
// server refuses it if the proposal changed since.
'use strict';

const proposals = new Map();
let snapshotInfo = null;
let selectedKey = null;
/** The version of the selected proposal the approver is reviewing (the form is bound to it). */
let reviewed = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

function announce(text) {
  const a = $('announcer');
  a.textContent = '';
  // A fresh text node so screen readers announce repeated messages too.
  setTimeout(() => (a.textContent = text), 30);
}

function phaseClass(phase) {
  if (phase === 'Succeeded' || phase === 'Approved' || phase === 'Running') return 'phase phase-good';
  if (phase === 'AwaitingApproval' || phase === 'Pending' || phase === 'Throttled' || phase === 'Submitted') return 'phase phase-wait';
  return 'phase phase-bad';
}

function when(ts) {
  if (!ts) return '-';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString();
}

function listItem(view) {
  const current = view.key === selectedKey;
  const button = el(
    'button',
    { type: 'button', 'aria-current': current ? 'true' : 'false', 'data-key': view.key, onclick: () => select(view.key, true) },
    el('span', { class: 'title', text: view.summary }),
    el('span', { class: 'sub' }, el('span', { class: phaseClass(view.phase), text: view.phase }), ` ${view.namespace}/${view.name} · ${view.agent} · ${view.effects.join(', ')}`),
  );
  return el('li', {}, button);
}

function renderLists() {
  const views = [...proposals.values()];
  const pending = views.filter((v) => v.pending).sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
  const history = views
    .filter((v) => !v.pending)
    .sort((a, b) => ((b.decision && b.decision.decidedAt) || b.createdAt || '').localeCompare((a.decision && a.decision.decidedAt) || a.createdAt || ''));
  const focusedKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : undefined;
  $('pending-list').replaceChildren(...pending.map(listItem));
  $('history-list').replaceChildren(...history.map(listItem));
  $('pending-count').textContent = String(pending.length);
  $('history-count').textContent = String(history.length);
  // Keep keyboard focus on the same proposal across live re-renders.
  if (focusedKey) {
    const again = document.querySelector(`.list button[data-key="${CSS.escape(focusedKey)}"]`);
    if (again) again.focus();
  }
}

function renderIdentity() {
  const s = snapshotInfo;
  if (!s) return;
  const scope = s.namespace === null ? 'all namespaces' : `namespace ${s.namespace}`;
  const role = s.canApprove === false ? ' — your credentials do not hold the approve verb: you can review, verdicts will be refused' : '';
  $('identity').textContent = `Signed in as ${s.you.username} (${s.source}) · ${scope}${role}`;
}

function renderHealth(health) {
  const problems = Object.entries(health ?? {});
  $('notices').replaceChildren(...problems.map(([kind, message]) => el('p', { text: `Live updates of ${kind} objects failed: ${message}` })));
}

function reasonsTable(reasons) {
  return el(
    'table',
    {},
    el('caption', { class: 'visually-hidden', text: 'Every reason of the decision' }),
    el('thead', {}, el('tr', {}, ['Code', 'Outcome', 'Rule', 'Message'].map((h) => el('th', { scope: 'col', text: h })))),
    el(
      'tbody',
      {},
      reasons.map((r) =>
        el('tr', {}, el('td', {}, el('code', { text: r.code })), el('td', { class: `outcome-${r.outcome}`, text: r.outcome }), el('td', { text: r.rule }), el('td', { text: r.message })),
      ),
    ),
  );
}

function meta(pairs) {
  return el('dl', { class: 'meta' }, pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]));
}

function code(text) {
  return el('code', { class: 'hash', text: text ?? '-' });
}

function outputsSection(view) {
  if (view.outputs.length === 0) return null;
  return el(
    'section',
    { 'aria-labelledby': 'outputs-heading' },
    el('h3', { id: 'outputs-heading', text: 'Outputs declared by the proposal' }),
    view.outputs.map((o) =>
      el(
        'div',
        {},
        el('p', {}, el('strong', { text: o.type }), ` ${o.path ?? o.target ?? o.destination ?? o.source ?? ''}`, o.truncated ? ' (shown truncated)' : ''),
        o.content !== undefined ? el('pre', { 'aria-label': `Content of ${o.path ?? o.type}`, tabindex: '0', text: o.content }) : null,
      ),
    ),
  );
}

function receiptSection(view) {
  const job = view.job;
  if (!job) return el('p', { id: 'job-status', text: view.decision && view.decision.outcome === 'DENY' ? 'Denied: no job was minted.' : 'No job yet.' });
  const r = job.receipt;
  const parts = [
    meta([
      ['Job', `${view.namespace}/${job.name}`],
      ['Job phase', job.phase ?? '-'],
      ['Reason', job.reason],
      ['Started', when(job.startTime)],
      ['Completed', when(job.completionTime)],
      ['Envelope hash (DEH)', code(job.envelopeHash)],
    ]),
  ];
  if (r) {
    parts.push(
      el('h3', { text: 'Receipt' }),
      meta([
        ['Status', `${r.status}${r.reasonCode ? ` (${r.reasonCode})` : ''}`],
        ['Envelope verified', r.deh.verified ? 'yes' : 'NO'],
        ['Usage', `${r.usage.steps} steps, ${r.usage.toolCalls} tool calls, ${r.usage.externalIO} external I/O, ${r.usage.runtimeMs} ms`],
      ]),
      r.steps.length === 0
        ? el('p', { text: 'No step ran.' })
        : el(
            'table',
            {},
            el('caption', { class: 'visually-hidden', text: 'Steps the runner executed' }),
            el('thead', {}, el('tr', {}, ['Step', 'Tool', 'Exit code'].map((h) => el('th', { scope: 'col', text: h })))),
            el('tbody', {}, r.steps.map((s, i) => el('tr', {}, el('td', { text: String(i + 1) }), el('td', { text: s.tool }), el('td', { text: String(s.exitCode) })))),
          ),
      el('h3', { text: 'Artifacts' }),
      r.artifacts.length === 0
        ? el('p', { text: 'None.' })
        : el('ul', {}, r.artifacts.map((a) => el('li', {}, el('code', { text: a.path }), ' sha256 ', code(a.sha256), artifactButton(view, job, a)))),
      snapshotInfo && snapshotInfo.artifacts ? null : el('p', { class: 'hint', text: 'Artifact contents are not served by the API yet; compare the digests above.' }),
    );
  }
  return el('div', { id: 'job-status' }, parts);
}

function artifactButton(view, job, artifact) {
  if (!snapshotInfo || !snapshotInfo.artifacts) return null;
  const out = el('pre', { hidden: true, tabindex: '0' });
  const button = el('button', {
    type: 'button',
    text: `Show ${artifact.path}`,
    onclick: async () => {
      const q = new URLSearchParams({ namespace: view.namespace, job: job.name, path: artifact.path });
      const res = await fetch(`/api/outputs?${q}`);
      const body = await res.json();
      out.textContent = res.ok ? body.content : body.error.message;
      out.hidden = false;
    },
  });
  return el('span', {}, ' ', button, out);
}

function approvalsList(view) {
  if (view.approvals.length === 0) return el('p', { text: 'No verdict recorded yet.' });
  return el(
    'ul',
    {},
    view.approvals.map((a) =>
      el('li', {}, `${a.verdict} by ${a.approver}`, a.state ? ` — ${a.state}${a.reason && a.reason !== 'Accepted' ? ` (${a.reason})` : ''}` : ' — not yet evaluated', a.comment ? `: “${a.comment}”` : ''),
    ),
  );
}

/** The parts of the detail that follow the live state (the review itself stays as opened). */
function liveStatus(view) {
  const parts = [
    el('p', {}, 'Phase ', el('span', { class: phaseClass(view.phase), id: 'detail-phase', text: view.phase }), view.message ? ` — ${view.message}` : ''),
  ];
  if (reviewed && view.key === reviewed.key && (view.uid !== reviewed.uid || view.proposalHash !== reviewed.proposalHash)) {
    parts.push(
      el(
        'div',
        { class: 'changed', id: 'changed-notice' },
        el('p', { text: `This proposal changed since you opened it (${view.uid !== reviewed.uid ? 'deleted and re-created' : 'hash changed'}). Your verdict would apply to the version you reviewed and will be refused.` }),
        el('button', { type: 'button', text: 'Review the current version', onclick: () => select(view.key, true) }),
      ),
    );
  } else if (reviewed && view.key === reviewed.key && reviewed.pending && !view.pending) {
    parts.push(el('p', { class: 'changed', id: 'changed-notice', text: `No longer awaiting approval (${view.phase}): a verdict will be refused.` }));
  }
  parts.push(el('h3', { text: 'Verdicts' }), approvalsList(view), el('h3', { text: 'Job and receipt' }), receiptSection(view));
  return parts;
}

function verdictForm(view) {
  const challenge = view.decision && view.decision.challenge;
  const result = el('p', { class: 'result', id: 'verdict-result', role: 'status', 'aria-live': 'polite' });
  const challengeInput = challenge
    ? el('input', { id: 'challenge', name: 'challenge', type: 'text', autocomplete: 'off', required: true, 'aria-describedby': 'challenge-prompt' })
    : null;
  const comment = el('textarea', { id: 'comment', name: 'comment', rows: '2', maxlength: '2048' });
  const approve = el('button', { type: 'submit', class: 'approve', value: 'Approve', text: 'Approve' });
  const reject = el('button', { type: 'submit', class: 'reject', value: 'Reject', text: 'Reject', formnovalidate: true });
  const form = el(
    'form',
    { class: 'verdict', 'aria-labelledby': 'verdict-heading', novalidate: true },
    el('h3', { id: 'verdict-heading', text: 'Your verdict' }),
    el('p', { class: 'hint' }, 'Bound to proposal hash ', code(view.proposalHash), ' and UID ', code(view.uid), '.'),
    challenge ? [el('label', { for: 'challenge', text: 'Challenge' }), el('p', { class: 'hint', id: 'challenge-prompt', text: challenge }), challengeInput] : null,
    el('label', { for: 'comment', text: 'Comment (recorded with the Approval)' }),
    comment,
    el('div', { class: 'buttons' }, approve, reject),
    result,
  );
  if (challengeInput) {
    challengeInput.addEventListener('input', () => {
      if (result.textContent === 'Answer the challenge to approve.') {
        result.className = 'result';
        result.textContent = '';
      }
    });
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const verdict = event.submitter && event.submitter.value === 'Reject' ? 'Reject' : 'Approve';
    if (verdict === 'Approve' && challengeInput && challengeInput.value.trim() === '') {
      result.className = 'result refused';
      result.textContent = 'Answer the challenge to approve.';
      challengeInput.focus();
      return;
    }
    const body = {
      namespace: reviewed.namespace,
      name: reviewed.name,
      verdict,
      proposalUID: reviewed.uid,
      proposalHash: reviewed.proposalHash,
      ...(comment.value.trim() !== '' ? { comment: comment.value } : {}),
      ...(verdict === 'Approve' && challengeInput ? { challengeResponse: challengeInput.value } : {}),
    };
    approve.disabled = true;
    reject.disabled = true;
    result.className = 'result';
    result.textContent = `Recording ${verdict}…`;
    try {
      const res = await fetch('/api/verdict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await res.json().catch(() => ({ error: { message: `HTTP ${res.status}` } }));
      if (res.ok) {
        result.className = 'result ok';
        result.textContent = `${verdict} recorded as ${answer.approval.approver} (Approval ${answer.approval.name}).`;
      } else {
        result.className = 'result refused';
        result.textContent = `Refused (${res.status}${answer.error && answer.error.reason ? ` ${answer.error.reason}` : ''}): ${answer.error ? answer.error.message : ''}`;
        approve.disabled = false;
        reject.disabled = false;
      }
    } catch (err) {
      result.className = 'result refused';
      result.textContent = `The console did not answer: ${err}`;
      approve.disabled = false;
      reject.disabled = false;
    }
  });
  return form;
}

function renderDetail(focus) {
  const main = $('detail');
  const view = selectedKey ? proposals.get(selectedKey) : undefined;
  if (!view || !reviewed) {
    main.replaceChildren(el('h2', { id: 'detail-heading', text: selectedKey ? 'This proposal no longer exists' : 'Select a proposal' }));
    return;
  }
  const r = reviewed;
  const d = r.decision;
  const parts = [
    el('h2', { id: 'detail-heading', text: r.summary }),
    meta([
      ['Proposal', `${r.namespace}/${r.name}`],
      ['Agent', r.agent],
      ['Submitted by', r.submittedBy],
      ['Intent', r.intent ? `${r.intent.mode}: ${r.intent.goal}` : undefined],
      ['Risk score', r.riskScore === undefined ? undefined : String(r.riskScore)],
      ['Created', when(r.createdAt)],
      ['Decided', d ? `${d.outcome} at ${when(d.decidedAt)}` : 'not yet'],
      ['Expires', d && d.expiresAt ? `${when(d.expiresAt)}${r.expired ? ' (expired)' : ''}` : undefined],
      ['Approvals needed', d ? String(d.requiredApprovals) : undefined],
    ]),
    el('div', { id: 'live' }, liveStatus(view)),
    el('h3', { text: 'Effects' }),
    el('p', {}, r.effects.join(', '), d ? ` (allowed: ${d.allowedEffects.join(', ') || 'none'})` : ''),
    el('h3', { text: 'Every reason' }),
    d ? reasonsTable(d.reasons) : el('p', { text: 'Not decided yet.' }),
    d && d.challenge ? [el('h3', { text: 'Challenge' }), el('p', { text: d.challenge })] : null,
    el('h3', { text: 'Steps' }),
    el('ol', {}, r.steps.map((s) => el('li', {}, el('code', { text: s.tool }), ' ', el('code', { text: JSON.stringify(s.args) })))),
    outputsSection(r),
    el('h3', { text: 'Envelope and hashes' }),
    meta([
      ['Proposal hash', code(r.proposalHash)],
      ['Envelope hash (DEH)', code(d && d.envelopeHash)],
    ]),
    r.envelope
      ? el('details', {}, el('summary', { text: 'The effective envelope the job is bound to' }), el('pre', { tabindex: '0', text: JSON.stringify(r.envelope, null, 2) }))
      : null,
    r.pending ? verdictForm(r) : null,
  ];
  main.replaceChildren(...parts.flat().filter((p) => p !== null && p !== undefined && p !== false));
  if (focus) main.focus();
}

function select(key, focus) {
  selectedKey = key;
  reviewed = proposals.get(key) ?? null;
  renderLists();
  renderDetail(focus);
  if (reviewed) announce(`Showing ${reviewed.summary}, ${reviewed.phase}`);
}

function updateLive(view) {
  const live = $('live');
  if (live && reviewed && view.key === reviewed.key) live.replaceChildren(...liveStatus(view).filter((p) => p !== null));
}

function onSnapshot(s) {
  snapshotInfo = s;
  proposals.clear();
  for (const v of s.proposals) proposals.set(v.key, v);
  renderIdentity();
  renderHealth(s.health);
  renderLists();
  if (selectedKey && reviewed) {
    const v = proposals.get(selectedKey);
    if (v) updateLive(v);
  }
}

function onProposal(view) {
  const before = proposals.get(view.key);
  proposals.set(view.key, view);
  renderLists();
  if (!before && view.pending) announce(`New proposal awaiting approval: ${view.summary}`);
  else if (before && before.phase !== view.phase) announce(`${view.namespace}/${view.name} is now ${view.phase}`);
  if (view.key === selectedKey) {
    if (!reviewed) select(view.key, false);
    else updateLive(view);
  }
}

function onRemoved({ key }) {
  const before = proposals.get(key);
  proposals.delete(key);
  renderLists();
  if (before) announce(`${key} was deleted`);
  if (key === selectedKey && reviewed) {
    const live = $('live');
    if (live) live.replaceChildren(el('p', { class: 'changed', id: 'changed-notice', text: 'This proposal was deleted. A verdict will be refused.' }));
  }
}

function connect() {
  const source = new EventSource('/api/events');
  source.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
  source.addEventListener('proposal', (e) => onProposal(JSON.parse(e.data)));
  source.addEventListener('removed', (e) => onRemoved(JSON.parse(e.data)));
  source.addEventListener('health', (e) => renderHealth(JSON.parse(e.data)));
  source.addEventListener('open', () => document.body.setAttribute('data-live', 'open'));
  source.addEventListener('error', () => {
    document.body.setAttribute('data-live', 'reconnecting');
    $('notices').replaceChildren(el('p', { text: 'Lost the connection to m87 ui; reconnecting…' }));
  });
}

connect();
