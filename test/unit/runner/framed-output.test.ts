import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { collectOutputs, decodeFrames, encodeFrame, FrameError, outputArtifactPath, sha256Hex } from '../../../src/integrity/framed-output.ts';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof FrameError) return e.code;
    throw e;
  }
  return undefined;
};

describe('framed outputs', () => {
  const patch = Buffer.from('--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n');
  const binary = randomBytes(5000);
  const log = ['{"level":"info","msg":"runner"}', encodeFrame(1, 'patch', patch) + encodeFrame(2, 'test-report', binary), 'trailing line'].join('\n');
  const receipt = [
    { path: outputArtifactPath(1, 'patch'), sha256: sha256Hex(patch) },
    { path: outputArtifactPath(2, 'test-report'), sha256: sha256Hex(binary) },
    { path: '.m87/steps/01-echo.out', sha256: 'a'.repeat(64) },
  ];

  it('round-trips binary content among other log lines and matches the receipt one to one', () => {
    const out = collectOutputs(log, receipt);
    expect(out.map((o) => [o.step, o.name])).toEqual([
      [1, 'patch'],
      [2, 'test-report'],
    ]);
    expect(out[0]!.bytes.equals(patch)).toBe(true);
    expect(out[1]!.bytes.equals(binary)).toBe(true);
    expect(encodeFrame(2, 'x', binary).split('\n').slice(1, -2).every((l) => l.length <= 76)).toBe(true);
  });

  it('an empty output is a frame too', () => {
    expect(decodeFrames(encodeFrame(0, 'empty', Buffer.alloc(0)))[0]!.bytes.length).toBe(0);
  });

  it('a changed byte in the content is a digest mismatch', () => {
    const lines = log.split('\n');
    const i = lines.findIndex((l) => l.startsWith('-----BEGIN M87 OUTPUT step=2')) + 1;
    lines[i] = (lines[i]![0] === 'A' ? 'B' : 'A') + lines[i]!.slice(1);
    expect(code(() => collectOutputs(lines.join('\n'), receipt))).toBe('OUTPUT_DIGEST_MISMATCH');
  });

  it('a log whose frame header and content were both replaced still fails against the receipt digest', () => {
    const forged = Buffer.from('--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+rm -rf\n');
    const forgedLog = encodeFrame(1, 'patch', forged) + encodeFrame(2, 'test-report', binary);
    expect(code(() => collectOutputs(forgedLog, receipt))).toBe('OUTPUT_DIGEST_MISMATCH');
  });

  it('an output over its cap is refused when framed and when decoded, never truncated', () => {
    const big = Buffer.alloc(2048, 1);
    expect(code(() => encodeFrame(0, 'big', big, 1024))).toBe('OUTPUT_TOO_LARGE');
    expect(code(() => decodeFrames(encodeFrame(0, 'big', big), 1024))).toBe('OUTPUT_TOO_LARGE');
  });

  it('a cut log (no end marker), a size that does not match, or a non-base64 line is malformed', () => {
    const frame = encodeFrame(3, 'report', binary);
    expect(code(() => decodeFrames(frame.split('\n').slice(0, 5).join('\n')))).toBe('OUTPUT_FRAME_MALFORMED');
    const lines = frame.split('\n');
    expect(code(() => decodeFrames([lines[0], ...lines.slice(2)].join('\n')))).toBe('OUTPUT_FRAME_MALFORMED');
    lines[1] = 'not base64 at all!';
    expect(code(() => decodeFrames(lines.join('\n')))).toBe('OUTPUT_FRAME_MALFORMED');
    expect(code(() => decodeFrames(frame.replace('size=5000', 'size=4999')))).toBe('OUTPUT_FRAME_MALFORMED');
    expect(code(() => decodeFrames('-----BEGIN M87 OUTPUT step=1 name=../etc size=1 sha256=x-----\n'))).toBe('OUTPUT_FRAME_MALFORMED');
  });

  it('a frame the receipt does not list, a listed output without a frame, or a frame twice is refused', () => {
    expect(code(() => collectOutputs(`${log}\n${encodeFrame(4, 'extra', patch)}`, receipt))).toBe('OUTPUT_NOT_IN_RECEIPT');
    expect(code(() => collectOutputs(encodeFrame(1, 'patch', patch), receipt))).toBe('OUTPUT_MISSING');
    expect(code(() => decodeFrames(encodeFrame(1, 'patch', patch) + encodeFrame(1, 'patch', patch)))).toBe('OUTPUT_FRAME_MALFORMED');
  });
});
