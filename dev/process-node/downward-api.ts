// Downward-API rendering in kubelet's exact formats (pkg/fieldpath), so the runner reads the same bytes it
// would get from a real kubelet: a single key (`metadata.annotations['<key>']`) is its raw value, an absent
// key the empty string; a whole map (`metadata.labels`, `metadata.annotations`) is `key="value"` lines sorted
// by key, values quoted like Go's strconv.Quote (FormatMap uses %q), joined by '\n' without a trailing newline.
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

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** apimachinery's validation.IsQualifiedName: `[prefix/]name`, name ≤ 63, prefix a DNS-1123 subdomain ≤ 253. */
export function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts.at(-1)!;
  const prefix = parts.length === 2 ? parts[0]! : undefined;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return false;
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

/** kubelet's fieldpath.SplitMaybeSubscriptedPath: `path['subscript']` → [path, subscript]. */
function splitSubscript(fieldPath: string): [string, string] | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const inner = fieldPath.slice(0, -2);
  const at = inner.indexOf("['");
  if (at <= 0) return undefined;
  return [inner.slice(0, at), inner.slice(at + 2)];
}

/**
 * Value of a downward-API fieldPath for a Pod (volumes and env share these). Unsupported paths throw, so a
 * Pod never starts with a silently empty value.
 */
export function resolveFieldPath(pod: PodLike, fieldPath: string, podIP: string | undefined, field: string): string {
  const meta = pod.metadata;
  const subscripted = splitSubscript(fieldPath);
  if (subscripted !== undefined) {
    const [path, key] = subscripted;
    // As kubelet's ExtractFieldPathAsString: annotation keys are checked lower-cased, label keys as they are.
    if (path === 'metadata.annotations' || path === 'metadata.labels') {
      if (!isQualifiedName(path === 'metadata.annotations' ? key.toLowerCase() : key)) {
        throw new FieldRefError(`${field}: invalid key subscript in ${fieldPath}`);
      }
      const map = path === 'metadata.annotations' ? meta.annotations : meta.labels;
      return map?.[key] ?? '';
    }
    throw new FieldRefError(`${field}: fieldPath ${JSON.stringify(path)} does not support subscript`);
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
