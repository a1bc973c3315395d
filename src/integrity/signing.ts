import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { sha256Hex } from '../hash/canonical.ts';

/**
 * Ed25519 signatures over the deployment envelope hash (DEH): made once, when the Job is minted, and carried
 * unchanged to the job Pod. The message carries a domain-separation prefix so the signature can never be
 * replayed as a signature over anything else the key might sign.
 */
export interface SigningKey {
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

const DEH_DOMAIN = 'm87-deh-v1:';

/** Key id: first 16 hex chars of SHA-256 of the public key's SPKI DER. Stable for a key, says nothing secret. */
export function keyIdOf(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return sha256Hex(key.export({ format: 'der', type: 'spki' })).slice(0, 16);
}

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

// Parsing a PEM costs more than the Ed25519 operation itself; a process holds very few keys, so parsed keys
// are kept (bounded, in case a caller cycles through many).
const parsedKeys = new Map<string, KeyObject>();
function parsed(pem: string, kind: 'private' | 'public'): KeyObject {
  const cacheKey = `${kind}\n${pem}`; // a private PEM also yields a public key: never mix the two
  let key = parsedKeys.get(cacheKey);
  if (key === undefined) {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
    if (parsedKeys.size >= 16) parsedKeys.clear();
    parsedKeys.set(cacheKey, key);
  }
  return key;
}

function signMessage(privateKeyPem: string, message: string): string {
  return sign(null, Buffer.from(message, 'utf8'), parsed(privateKeyPem, 'private')).toString('base64');
}

/** Never throws: a malformed key or signature is simply "not verified" (fail closed). */
function verifyMessage(publicKeyPem: string, message: string, signatureB64: string): boolean {
  try {
    const key = parsed(publicKeyPem, 'public');
    if (key.asymmetricKeyType !== 'ed25519') return false;
    const sig = Buffer.from(signatureB64, 'base64');
    if (sig.length !== 64) return false;
    return verify(null, Buffer.from(message, 'utf8'), key, sig);
  } catch {
    return false;
  }
}

export function signDeh(privateKeyPem: string, deh: string): string {
  return signMessage(privateKeyPem, DEH_DOMAIN + deh);
}

export function verifyDeh(publicKeyPem: string, deh: string, signatureB64: string): boolean {
  return verifyMessage(publicKeyPem, DEH_DOMAIN + deh, signatureB64);
}
