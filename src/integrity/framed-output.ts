import { createHash } from 'node:crypto';
import { MAX_OUTPUT_BYTES } from '../api/tool.ts';

/**
 * Declared outputs leave a job Pod as framed blocks in the final container's log: the Pod holds no
 * credentials to store them anywhere, and a log outlives the Pod's own process just long enough for the
 * controller to read it. Every frame names the output, its size and SHA-256; the receipt (termination
 * message) lists the same digest, so the log alone can never make the controller accept an output:
 *
 *   -----BEGIN M87 OUTPUT step=2 name=test-report size=1234 sha256=<64 hex>-----
 *   <base64, 76 characters a line>
 *   -----END M87 OUTPUT step=2 name=test-report-----
 *
 * Decoding is all or nothing: a malformed frame, a size or digest that does not match, an output over its
 * cap, a frame the receipt does not list or a listed output without a frame is an error — an output is
 * never silently truncated or dropped.
 */

/** Receipt artifact path of a declared output: `outputs/<step>/<name>`. */
export const OUTPUT_ARTIFACT_PREFIX = 'outputs/';
export function outputArtifactPath(step: number, name: string): string {
  return `${OUTPUT_ARTIFACT_PREFIX}${step}/${name}`;
}

const BEGIN = /^-----BEGIN M87 OUTPUT step=(\d{1,2}) name=([a-z][-a-z0-9]{0,62}) size=(\d{1,9}) sha256=([0-9a-f]{64})-----$/;
const END = /^-----END M87 OUTPUT step=(\d{1,2}) name=([a-z][-a-z0-9]{0,62})-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/]{1,76}={0,2}$/;
const LINE = 76;

export interface FramedOutput {
  step: number;
  name: string;
  bytes: Buffer;
  sha256: string;
}

export type FrameErrorCode = 'OUTPUT_FRAME_MALFORMED' | 'OUTPUT_DIGEST_MISMATCH' | 'OUTPUT_TOO_LARGE' | 'OUTPUT_NOT_IN_RECEIPT' | 'OUTPUT_MISSING';

export class FrameError extends Error {
  override name = 'FrameError';
  readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One output as a frame (ending in a newline). Refuses an output over the cap rather than cutting it. */
export function encodeFrame(step: number, name: string, bytes: Buffer, maxBytes: number = MAX_OUTPUT_BYTES): string {
  if (bytes.length > maxBytes) throw new FrameError('OUTPUT_TOO_LARGE', `output ${step}/${name} is ${bytes.length} bytes, more than its cap ${maxBytes}`);
  const b64 = bytes.toString('base64');
  const lines: string[] = [`-----BEGIN M87 OUTPUT step=${step} name=${name} size=${bytes.length} sha256=${sha256Hex(bytes)}-----`];
  for (let i = 0; i < b64.length; i += LINE) lines.push(b64.slice(i, i + LINE));
  lines.push(`-----END M87 OUTPUT step=${step} name=${name}-----`);
  const frame = lines.join('\n') + '\n';
  if (!BEGIN.test(lines[0]!)) throw new FrameError('OUTPUT_FRAME_MALFORMED', `output ${step}/${name}: step or name cannot be framed`);
  return frame;
}

/** Every frame in a log (other lines are ignored), each checked against its own header. */
export function decodeFrames(log: string, maxBytes: number = MAX_OUTPUT_BYTES): FramedOutput[] {
  const out: FramedOutput[] = [];
  const lines = log.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const begin = BEGIN.exec(lines[i]!.replace(/\r$/, ''));
    if (begin === null) {
      if (lines[i]!.startsWith('-----BEGIN M87 OUTPUT') || lines[i]!.startsWith('-----END M87 OUTPUT')) {
        throw new FrameError('OUTPUT_FRAME_MALFORMED', `log line ${i + 1}: not a valid frame marker`);
      }
      continue;
    }
    const [, stepText, name, sizeText, sha256] = begin as unknown as [string, string, string, string, string];
    const step = Number(stepText);
    const size = Number(sizeText);
    const where = `output ${step}/${name}`;
    if (size > maxBytes) throw new FrameError('OUTPUT_TOO_LARGE', `${where}: ${size} bytes, more than the cap ${maxBytes}`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!.replace(/\r$/, '');
      const end = END.exec(line);
      if (end !== null) {
        if (end[1] !== stepText || end[2] !== name) throw new FrameError('OUTPUT_FRAME_MALFORMED', `${where}: end marker names ${end[1]}/${end[2]}`);
        break;
      }
      if (!BASE64_LINE.test(line)) throw new FrameError('OUTPUT_FRAME_MALFORMED', `${where}: log line ${j + 1} is not base64`);
      body.push(line);
      // Never buffer more than the declared size can need.
      if (body.length * LINE > Math.ceil(size / 3) * 4 + LINE) throw new FrameError('OUTPUT_FRAME_MALFORMED', `${where}: more data than its size ${size}`);
    }
    if (j === lines.length) throw new FrameError('OUTPUT_FRAME_MALFORMED', `${where}: no end marker (the log was cut)`);
    const bytes = Buffer.from(body.join(''), 'base64');
    if (bytes.length !== size) throw new FrameError('OUTPUT_FRAME_MALFORMED', `${where}: ${bytes.length} bytes, the frame says ${size}`);
    if (sha256Hex(bytes) !== sha256) throw new FrameError('OUTPUT_DIGEST_MISMATCH', `${where}: content does not hash to the frame's sha256`);
    if (out.some((o) => o.step === step && o.name === name)) throw new FrameError('OUTPUT_FRAME_MALFORMED', `${where}: framed twice`);
    out.push({ step, name, bytes, sha256 });
    i = j;
  }
  return out;
}

/**
 * What the controller does with a terminated job Pod's log: decode the frames and match them one to one
 * with the receipt's `outputs/<step>/<name>` artifacts (the digest the runner reported in the termination
 * message). Throws FrameError on any difference.
 */
export function collectOutputs(log: string, receiptArtifacts: readonly { path: string; sha256: string }[], maxBytes: number = MAX_OUTPUT_BYTES): FramedOutput[] {
  const frames = decodeFrames(log, maxBytes);
  const expected = new Map(receiptArtifacts.filter((a) => a.path.startsWith(OUTPUT_ARTIFACT_PREFIX)).map((a) => [a.path, a.sha256]));
  for (const f of frames) {
    const path = outputArtifactPath(f.step, f.name);
    const want = expected.get(path);
    if (want === undefined) throw new FrameError('OUTPUT_NOT_IN_RECEIPT', `output ${path} is framed in the log but not in the receipt`);
    if (want !== f.sha256) throw new FrameError('OUTPUT_DIGEST_MISMATCH', `output ${path}: the receipt says sha256 ${want.slice(0, 12)}…, the log carries ${f.sha256.slice(0, 12)}…`);
    expected.delete(path);
  }
  const missing = [...expected.keys()];
  if (missing.length > 0) throw new FrameError('OUTPUT_MISSING', `output ${missing[0]} is in the receipt but not in the log`);
  return frames;
}
