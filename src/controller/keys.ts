// Key material: the Ed25519 signing key (a Secret in the controller namespace, created on first start if
// absent — create-if-absent, so concurrent replicas end up with the same key), its public half (a
// ConfigMap in every namespace where a job Pod runs, which the Pod mounts for the runner), and the HMAC
// secret for approval challenges (the Secret the policy names, created with random bytes if absent).
// Nothing here ever logs key material: only names and key ids.
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import type { KubeClient } from '../runtime/kube-access.ts';
import { getObject, kubeRequest } from '../runtime/kube-http.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { resourcePath } from '../runtime/resource.ts';
import { createIfAbsent } from '../runtime/status.ts';
import { generateSigningKey, keyIdOf, type SigningKey } from '../integrity/signing.ts';
import { PUBLIC_KEY_FILE_KEY } from './job-pod.ts';
import type { Informer } from '../runtime/informer.ts';
import { FIELD_MANAGER, MANAGED_BY, PUBLIC_KEY_LABELS } from './names.ts';
import { CONFIG_MAPS, SECRETS } from './resources.ts';

const PRIVATE_KEY_FILE_KEY = 'private.pem';

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
  type?: string;
}

interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

export class KeyMaterialError extends Error {
  override name = 'KeyMaterialError';
}

function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

/** Reads a signing key from Secret data; the public key and key id are derived from the private key. */
function signingKeyFromSecret(secret: SecretObject, where: string): SigningKey {
  const pem = secret.data?.[PRIVATE_KEY_FILE_KEY];
  if (pem === undefined) throw new KeyMaterialError(`Secret ${where}: data.${PRIVATE_KEY_FILE_KEY} is missing`);
  let privateKey;
  try {
    privateKey = createPrivateKey(Buffer.from(pem, 'base64').toString('utf8'));
  } catch {
    throw new KeyMaterialError(`Secret ${where}: data.${PRIVATE_KEY_FILE_KEY} is not a PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new KeyMaterialError(`Secret ${where}: data.${PRIVATE_KEY_FILE_KEY} is a ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Loads the signing key Secret, creating it with a fresh key when absent. */
export async function ensureSigningKey(kc: KubeClient, namespace: string, name: string, opts: { signal?: AbortSignal } = {}): Promise<SigningKey> {
  const fresh = generateSigningKey();
  const { object } = await createIfAbsent<SecretObject>(
    kc,
    SECRETS,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, 'app.kubernetes.io/component': 'signing-key' } },
      type: 'Opaque',
      data: { [PRIVATE_KEY_FILE_KEY]: b64(fresh.privateKeyPem), [PUBLIC_KEY_FILE_KEY]: b64(fresh.publicKeyPem) },
    },
    { fieldManager: FIELD_MANAGER, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  return signingKeyFromSecret(object, `${namespace}/${name}`);
}

/**
 * Publishes the public key as ConfigMap `name` (key public.pem) in the namespaces that need it. Whether it
 * is there is read from an informer of exactly those ConfigMaps, so a deleted one is created again on the
 * next ensure() (nothing remembers "published" past the object's deletion) and a job Pod costs no request
 * once its namespace has the key.
 */
export class PublicKeyPublisher {
  readonly #kc: KubeClient;
  readonly #name: string;
  readonly #key: SigningKey;
  readonly #informer: Informer<KubeObject>;
  /** Namespace → UID of the ConfigMap we created or verified, until the informer shows it (or its deletion). */
  readonly #published = new Map<string, string>();
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(kc: KubeClient, name: string, key: SigningKey, informer: Informer<KubeObject>) {
    this.#kc = kc;
    this.#name = name;
    this.#key = key;
    this.#informer = informer;
    const forget = (obj: KubeObject): void => {
      const ns = obj.metadata.namespace;
      if (ns !== undefined && obj.metadata.name === name && this.#published.get(ns) === obj.metadata.uid) this.#published.delete(ns);
    };
    informer.addHandlers({ onAdd: forget, onUpdate: (_old, obj) => forget(obj), onDelete: forget });
  }

  get configMapName(): string {
    return this.#name;
  }

  /** Whether the namespace has the current public key (as far as the cache and our own writes show). */
  isPublished(namespace: string): boolean {
    const cached: ConfigMapObject | undefined = this.#informer.getByName(namespace, this.#name);
    if (cached !== undefined) return cached.metadata.deletionTimestamp === undefined && cached.data?.[PUBLIC_KEY_FILE_KEY] === this.#key.publicKeyPem;
    return this.#published.has(namespace);
  }

  async ensure(namespace: string, fence: () => void): Promise<void> {
    if (this.isPublished(namespace)) return;
    let p = this.#inFlight.get(namespace);
    if (!p) {
      p = this.#publish(namespace, fence).finally(() => this.#inFlight.delete(namespace));
      this.#inFlight.set(namespace, p);
    }
    return p;
  }

  async #publish(namespace: string, fence: () => void): Promise<void> {
    const body: ConfigMapObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.#name,
        namespace,
        labels: { ...PUBLIC_KEY_LABELS },
        annotations: { 'governance.m87.io/key-id': this.#key.keyId },
      },
      data: { [PUBLIC_KEY_FILE_KEY]: this.#key.publicKeyPem },
    };
    const { object, created } = await createIfAbsent<ConfigMapObject>(this.#kc, CONFIG_MAPS, body, { fence, fieldManager: FIELD_MANAGER });
    let current = object;
    if (!created && object.data?.[PUBLIC_KEY_FILE_KEY] !== this.#key.publicKeyPem) {
      // Stale (the signing key was replaced): publish the current one, guarded by resourceVersion.
      current = await kubeRequest<ConfigMapObject>(this.#kc, {
        method: 'PUT',
        path: resourcePath(CONFIG_MAPS, { namespace, name: this.#name }),
        body: { ...body, metadata: { ...body.metadata, resourceVersion: object.metadata.resourceVersion } },
        query: { fieldManager: FIELD_MANAGER },
        fence,
      });
    }
    if (current.metadata.uid !== undefined && this.#informer.getByName(namespace, this.#name)?.metadata.uid !== current.metadata.uid) {
      this.#published.set(namespace, current.metadata.uid);
    }
  }
}

export interface SecretRef {
  namespace: string;
  name: string;
  key: string;
}

const CHALLENGE_SECRET_BYTES = 32;
const CHALLENGE_REFRESH_MS = 10 * 60_000;

/** The challenge HMAC key named by the policy; created with random bytes when the Secret is absent. */
export class ChallengeSecrets {
  readonly #kc: KubeClient;
  readonly #now: () => number;
  #cache: { ref: string; value: Buffer; loadedAt: number } | undefined;

  /** `now` is the controller's clock (epoch ms). */
  constructor(kc: KubeClient, now: () => number) {
    this.#kc = kc;
    this.#now = now;
  }

  async get(ref: SecretRef, fence: () => void): Promise<Buffer> {
    const id = refId(ref);
    const now = this.#now();
    if (this.#cache?.ref === id && now - this.#cache.loadedAt < CHALLENGE_REFRESH_MS) return this.#cache.value;
    const where = `${ref.namespace}/${ref.name}`;
    let secret = await getObject<SecretObject>(this.#kc, SECRETS, { namespace: ref.namespace, name: ref.name });
    if (secret === undefined) {
      ({ object: secret } = await createIfAbsent<SecretObject>(
        this.#kc,
        SECRETS,
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name: ref.name,
            namespace: ref.namespace,
            labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, 'app.kubernetes.io/component': 'challenge-secret' },
          },
          type: 'Opaque',
          data: { [ref.key]: b64(randomBytes(CHALLENGE_SECRET_BYTES)) },
        },
        { fence, fieldManager: FIELD_MANAGER },
      ));
    }
    const encoded = secret.data?.[ref.key];
    if (encoded === undefined) throw new KeyMaterialError(`Secret ${where}: data.${ref.key} (spec.approvals.challengeSecretRef.key) is missing`);
    const value = Buffer.from(encoded, 'base64');
    if (value.length < 16) throw new KeyMaterialError(`Secret ${where}: data.${ref.key} is shorter than 16 bytes`);
    this.#cache = { ref: id, value, loadedAt: now };
    return value;
  }
}

function refId(ref: SecretRef): string {
  return `${ref.namespace}/${ref.name}/${ref.key}`;
}
