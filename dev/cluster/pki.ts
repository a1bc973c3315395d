// Throwaway PKI for one local control plane: a CA, a serving certificate for the loopback names, client
// certificates on demand (CN = user, O = groups) and the RSA key pair that signs ServiceAccount tokens.
// ECDSA P-256 for the certificates (fast to generate); nothing here outlives the plane's state directory.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { promisify } from 'node:util';
import * as der from './der.ts';

const generateKeyPairAsync = promisify(generateKeyPair);
const VALIDITY_MS = 7 * 24 * 3600 * 1000; // long enough for a dev session, short enough to stay throwaway

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// KeyUsage bit positions (RFC 5280 §4.2.1.3).
const DIGITAL_SIGNATURE = 0;
const KEY_ENCIPHERMENT = 2;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

export interface PemKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface LeafRequest {
  readonly commonName: string;
  readonly organizations?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: 'server' | 'client';
}

export interface CertificateAuthority extends PemKeyPair {
  readonly issue: (request: LeafRequest) => Promise<PemKeyPair>;
}

export interface ServiceAccountKeyPair {
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

export interface ControlPlanePki {
  readonly ca: CertificateAuthority;
  readonly serving: PemKeyPair;
  /** The API server's client certificate towards kubelets (logs, exec). */
  readonly kubeletClient: PemKeyPair;
  readonly serviceAccount: ServiceAccountKeyPair;
}

export const DEFAULT_CA_NAME = 'm87-local-ca';
/** The API server's identity towards kubelets; system:masters, so a kubelet's webhook authorizer admits it. */
export const KUBELET_CLIENT_IDENTITY = { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] } as const;

interface EcKeys {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

async function newEcKeys(): Promise<EcKeys> {
  return generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
}

function pem(label: string, bytes: Buffer): string {
  const lines = bytes.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bit string's contents.
function keyIdentifier(key: KeyObject): Buffer {
  const info = spki(key);
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, BIT STRING }; for P-256 the key is the last 65 bytes.
  return createHash('sha1').update(info.subarray(info.length - 65)).digest();
}

function name(commonName: string, organizations: readonly string[] = []): Buffer {
  const rdn = (type: string, value: string): Buffer => der.set(der.sequence(der.oid(type), der.utf8String(value)));
  return der.sequence(...organizations.map((o) => rdn(OID.organization, o)), rdn(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

function ipBytes(address: string): Buffer {
  if (!isIPv4(address)) throw new Error(`pki: only IPv4 SANs are supported, got ipAddresses entry ${JSON.stringify(address)}`);
  return Buffer.from(address.split('.').map(Number));
}

interface CertificateParams {
  readonly subject: Buffer;
  readonly issuer: Buffer;
  readonly subjectKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly extensions: readonly Buffer[];
  readonly notBefore: Date;
}

function certificate(params: CertificateParams): Buffer {
  const serial = randomBytes(16);
  const algorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial),
    algorithm,
    params.issuer,
    der.sequence(der.time(params.notBefore), der.time(new Date(params.notBefore.getTime() + VALIDITY_MS))),
    params.subject,
    spki(params.subjectKey),
    der.explicit(3, der.sequence(...params.extensions)),
  );
  const signature = sign('sha256', tbs, params.signingKey); // DER-encoded ECDSA signature, as X.509 wants
  return der.sequence(tbs, algorithm, der.bitString(signature));
}

export async function createCertificateAuthority(commonName = DEFAULT_CA_NAME): Promise<CertificateAuthority> {
  return certificateAuthority(await newEcKeys(), commonName);
}

/**
 * The CA of a running plane from its files (e.g. to issue a node's certificates). The issued certificates'
 * issuer name is rebuilt from commonName, which must be the one the CA was created with.
 */
export function loadCertificateAuthority(certPem: string, keyPem: string, commonName = DEFAULT_CA_NAME): CertificateAuthority {
  const privateKey = createPrivateKey(keyPem);
  return certificateAuthority({ privateKey, publicKey: createPublicKey(privateKey) }, commonName, certPem);
}

function certificateAuthority(keys: EcKeys, commonName: string, existingCertPem?: string): CertificateAuthority {
  const notBefore = new Date(Date.now() - 60_000); // tolerate small clock differences between processes
  const caName = name(commonName);
  const caId = keyIdentifier(keys.publicKey);
  const certPem =
    existingCertPem ??
    pem(
      'CERTIFICATE',
      certificate({
        subject: caName,
        issuer: caName,
        subjectKey: keys.publicKey,
        signingKey: keys.privateKey,
        notBefore,
        extensions: [
          extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
          extension(OID.keyUsage, true, der.namedBits([DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN])),
          extension(OID.subjectKeyIdentifier, false, der.octetString(caId)),
        ],
      }),
    );

  const issue = async (request: LeafRequest): Promise<PemKeyPair> => {
    const leaf = await newEcKeys();
    const altNames = [
      ...(request.dnsNames ?? []).map((dns) => der.implicit(2, Buffer.from(dns, 'ascii'))),
      ...(request.ipAddresses ?? []).map((ip) => der.implicit(7, ipBytes(ip))),
    ];
    const cert = certificate({
      subject: name(request.commonName, request.organizations),
      issuer: caName,
      subjectKey: leaf.publicKey,
      signingKey: keys.privateKey,
      notBefore,
      extensions: [
        extension(OID.basicConstraints, true, der.sequence()),
        extension(OID.keyUsage, true, der.namedBits([DIGITAL_SIGNATURE, KEY_ENCIPHERMENT])),
        extension(OID.extKeyUsage, false, der.sequence(der.oid(request.usage === 'server' ? OID.serverAuth : OID.clientAuth))),
        ...(altNames.length > 0 ? [extension(OID.subjectAltName, false, der.sequence(...altNames))] : []),
        extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, caId))),
      ],
    });
    return { certPem: pem('CERTIFICATE', cert), keyPem: keyPem(leaf.privateKey) };
  };

  return { certPem, keyPem: keyPem(keys.privateKey), issue };
}

/** RSA, because every Kubernetes version and every token verifier accepts it for ServiceAccount tokens. */
export async function createServiceAccountSigningKey(): Promise<ServiceAccountKeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKeyPem: keyPem(privateKey) };
}

/** extraServingAddresses: more IPv4 addresses the API server is reached at (the real node's pod network). */
export async function createControlPlanePki(options: { readonly extraServingAddresses?: readonly string[] } = {}): Promise<ControlPlanePki> {
  const [ca, serviceAccount] = await Promise.all([createCertificateAuthority(), createServiceAccountSigningKey()]);
  const [serving, kubeletClient] = await Promise.all([
    ca.issue({
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '10.0.0.1', ...(options.extraServingAddresses ?? [])],
      usage: 'server',
    }),
    ca.issue({ ...KUBELET_CLIENT_IDENTITY, usage: 'client' }),
  ]);
  return { ca, serving, kubeletClient, serviceAccount };
}
