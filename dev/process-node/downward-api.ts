// Downward-API rendering in kubelet's exact formats, so the runner parses the same bytes it would get from a
// real kubelet: maps (labels, annotations) are `key="value"` lines sorted by key, values quoted like Go's
// strconv.Quote (kubelet's fieldpath.FormatMap uses %q), joined by '\n' without a trailing newline.
import type { PodSpecLike, PodLike } from './pod-types.ts';

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Go's strconv.Quote for a valid Unicode string (JSON from the apiserver is always valid UTF-8). */
export function goQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
      default:
        break;
    }
    if (cp === 0x20 || PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // lone surrogate: Go would see invalid UTF-8
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return out + '"';
}

/** Byte-wise (Go string) order, independent of locale and UTF-16 quirks. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** kubelet's fieldpath.FormatMap. */
export function formatMap(map: Readonly<Record<string, string>> | undefined): string {
  const keys = Object.keys(map ?? {}).sort(compareBytes);
  return keys.map((k) => `${k}=${goQuote(map![k]!)}`).join('\n');
}

export class FieldRefError extends Error {}

/**
 * Value of a downward-API fieldPath for a Pod (volumes and env share these). Unsupported paths throw, so a
 * Pod never starts with a silently empty value.
 */
export function resolveFieldPath(pod: PodLike, fieldPath: string, podIP: string | undefined, field: string): string {
  const meta = pod.metadata;
  const subscript = /^metadata\.(labels|annotations)\['([^']*)'\]$/.exec(fieldPath);
  if (subscript) {
    const map = subscript[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[subscript[2]!] ?? '';
  }
  const spec: PodSpecLike = pod.spec;
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'spec.nodeName':
      return spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return spec.serviceAccountName ?? '';
    case 'status.podIP':
      return podIP ?? '';
    case 'status.hostIP':
      return '127.0.0.1';
    default:
      throw new FieldRefError(`${field}: fieldPath ${JSON.stringify(fieldPath)} is not supported by the process node`);
  }
}
