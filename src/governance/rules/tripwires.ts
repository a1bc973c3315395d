import type { RuleContext } from '../context.ts';
import { CHALLENGE_PRIORITY, quote, type Findings } from '../findings.ts';
import { scanCode } from '../tripwires.ts';

/** Code artifacts are scanned for the policy's patterns; oversize code is denied unscanned. */
export function tripwiresRule(ctx: RuleContext, out: Findings): void {
  const t = ctx.policy.tripwires;
  ctx.spec.artifacts.forEach((a, i) => {
    if (!t.scannedTypes.has(a.type)) return;
    const where = `artifacts[${i}]${a.path !== undefined ? ` (${quote(a.path)})` : ''}`;
    const scan = scanCode(a.content ?? '', t);
    if (scan.oversize) {
      out.add('CODE_TOO_LARGE', `${where}: ${a.type} content exceeds ${t.maxCodeBytes} bytes and is not scanned.`);
      return;
    }
    if (scan.flags.length === 0) return;
    out.add('TRIPWIRE', `${where}: tripwire flags ${scan.flags.join(', ')}.`);
    out.offerChallenge({
      priority: CHALLENGE_PRIORITY.tripwire,
      answer: scan.flags[0] ?? 'tripwire',
      prompt: `Code in ${where} matched the tripwire ${scan.flags[0] ?? ''}. Type the flag name exactly to confirm you reviewed the code.`,
    });
  });
}
