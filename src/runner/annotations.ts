/**
 * Parser for kubelet's downward-API map files (`metadata.annotations`): one `key="value"` line per entry,
 * the value quoted like Go's strconv.Quote. Anything that is not exactly that is an error, never a guess:
 * a duplicate key, a stray quote or an invalid escape could otherwise make two readers see different values.
 */
export class AnnotationsParseError extends Error {
  override name = 'AnnotationsParseError';
}

const KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  '\\': 0x5c,
  '"': 0x22,
};
const HEX = /^[0-9A-Fa-f]+$/;

function fail(line: number, message: string): never {
  throw new AnnotationsParseError(`annotations line ${line}: ${message}`);
}

/** Go's strconv.Unquote for a double-quoted string; escapes may produce raw bytes, which must form valid UTF-8. */
export function goUnquote(quoted: string, line = 0): string {
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) fail(line, 'value is not a double-quoted string');
  const body = quoted.slice(1, -1);
  const bytes: number[] = [];
  const pushText = (s: string) => {
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
  };
  const pushCodePoint = (cp: number, at: number) => {
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(line, `escape at offset ${at} is not a valid code point`);
    pushText(String.fromCodePoint(cp));
  };
  let i = 0;
  while (i < body.length) {
    const ch = body[i]!;
    if (ch === '"') fail(line, `unescaped quote at offset ${i}`);
    if (ch === '\n' || ch === '\r') fail(line, 'raw line break inside a value');
    if (ch !== '\\') {
      const cp = body.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) fail(line, `invalid character at offset ${i}`);
      const s = String.fromCodePoint(cp);
      pushText(s);
      i += s.length;
      continue;
    }
    const esc = body[i + 1];
    if (esc === undefined) fail(line, 'value ends inside an escape');
    const simple = SIMPLE_ESCAPES[esc];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
      continue;
    }
    const width = esc === 'x' ? 2 : esc === 'u' ? 4 : esc === 'U' ? 8 : 0;
    if (width > 0) {
      const digits = body.slice(i + 2, i + 2 + width);
      if (digits.length !== width || !HEX.test(digits)) fail(line, `bad \\${esc} escape at offset ${i}`);
      const n = Number.parseInt(digits, 16);
      if (esc === 'x') bytes.push(n);
      else pushCodePoint(n, i);
      i += 2 + width;
      continue;
    }
    if (esc >= '0' && esc <= '7') {
      const digits = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(digits)) fail(line, `bad octal escape at offset ${i}`);
      const n = Number.parseInt(digits, 8);
      if (n > 0xff) fail(line, `octal escape at offset ${i} exceeds a byte`);
      bytes.push(n);
      i += 4;
      continue;
    }
    fail(line, `unknown escape \\${esc} at offset ${i}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  } catch {
    fail(line, 'value is not valid UTF-8');
  }
}

/** Parses the whole file. Blank lines are ignored; every other line must be `key="value"`. */
export function parseAnnotationsFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split('\n');
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === '') return;
    const eq = raw.indexOf('=');
    if (eq <= 0) fail(line, 'expected key="value"');
    const key = raw.slice(0, eq);
    if (!KEY.test(key) || key.length > 317) fail(line, `invalid annotation key ${JSON.stringify(key.slice(0, 80))}`);
    if (out.has(key)) fail(line, `duplicate annotation ${key}`);
    out.set(key, goUnquote(raw.slice(eq + 1), line));
  });
  return out;
}
