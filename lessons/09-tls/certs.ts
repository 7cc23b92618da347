// Certificates for one run of lesson 09, made in memory and never written to
// the repository: a private key committed to a repo is a bad habit to teach,
// and a committed certificate expires one day and breaks every test.
//
// Node can read a certificate (crypto.X509Certificate) but cannot make one, so
// this uses a library: @peculiar/x509. Why that one:
// - it builds certificates on WebCrypto, so the keys and signatures come from
//   Node's own crypto (OpenSSL): ECDSA P-256, a few milliseconds per key;
// - it is written in TypeScript, kept up by the PKI.js authors, and the 1.x line
//   (pinned exactly) is the one `selfsigned` itself builds on; its 2.x line
//   wants the application to load a Reflect polyfill first, a second dependency;
// - it ships CommonJS, which the exercise checks need (they run under require());
// - `selfsigned` is a wrapper around it with weaker defaults (SHA-1 signatures,
//   RSA keys), node-forge can sign only with RSA (slow to generate), and the
//   `openssl` command is missing on many learners' machines (Windows).
import * as x509 from '@peculiar/x509';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** The name the lesson's server certificate is for: curl and browsers can use it for 127.0.0.1. */
export const SERVER_NAME = 'localhost';

/** ECDSA with the P-256 curve and SHA-256: small keys, fast to make and to check. */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
/** A certificate is valid from a minute ago (clocks differ a little) … */
const SKEW_MS = 60_000;
/** … for one day: long enough for any run, short enough to be worthless later. */
const LIFETIME_MS = 24 * 60 * 60 * 1000;

/** A private key and its certificate, both PEM text: what tls.createServer() takes as { key, cert }. */
export interface KeyAndCert {
  key: string;
  cert: string;
}

/** A certificate authority: it signs (issues) other certificates. */
export interface Authority extends KeyAndCert {
  name: string;
  /** the parsed certificate and the signing key, for issuing */
  readonly certificate: x509.X509Certificate;
  readonly signingKey: CryptoKey;
}

/** Everything one run needs. */
export interface RunCertificates {
  /** the authority the lesson's clients trust (pass `ca.cert` as `ca`) */
  ca: Authority;
  /** the real server's certificate for SERVER_NAME, issued by `ca` */
  server: KeyAndCert;
  /** an authority nobody was told to trust */
  otherCa: Authority;
  /** a certificate for the same name, issued by `otherCa`: what a man in the middle can get */
  impostor: KeyAndCert;
}

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - SKEW_MS), notAfter: new Date(now + LIFETIME_MS) };
}

/** A random serial number; a leading 0 nibble keeps it a positive number. */
function serialNumber(): string {
  return `0${randomBytes(15).toString('hex')}`;
}

function keyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

function privateKeyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

function certificatePem(cert: x509.X509Certificate): string {
  // OpenSSL wants the PEM text to end with a newline.
  return `${cert.toString('pem')}\n`;
}

/** A certificate that signs itself, for `name`, with its new key pair. */
async function signedBySelf(name: string, extensions: (keys: CryptoKeyPair) => Promise<x509.Extension[]>) {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${name}`,
    ...validity(),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: await extensions(keys),
  });
  return { keys, certificate };
}

/** A new certificate authority: a self-signed certificate allowed to sign others. */
export async function makeAuthority(name: string): Promise<Authority> {
  const { keys, certificate } = await signedBySelf(name, async ({ publicKey }) => [
    new x509.BasicConstraintsExtension(true, 0, true), // a CA, which may sign only end certificates
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ]);
  return { name, key: privateKeyPem(keys.privateKey), cert: certificatePem(certificate), certificate, signingKey: keys.privateKey };
}

/** A server certificate for `names` (DNS names only), signed by `authority`; valid for a day unless `when` says otherwise. */
export async function issue(authority: Authority, names: readonly string[], when = validity()): Promise<KeyAndCert> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${names[0]}`,
    issuer: authority.certificate.subject,
    ...when,
    publicKey: keys.publicKey,
    signingKey: authority.signingKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // The names a client checks (servername). No IP address: a client that
      // connects to 127.0.0.1 without a servername must fail the name check.
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(authority.certificate),
    ],
  });
  return { key: privateKeyPem(keys.privateKey), cert: certificatePem(certificate) };
}

/** A certificate for `name` that signs itself: no authority vouches for it. */
export async function selfSigned(name: string): Promise<KeyAndCert> {
  const { keys, certificate } = await signedBySelf(name, async () => [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }])]);
  return { key: privateKeyPem(keys.privateKey), cert: certificatePem(certificate) };
}

/**
 * The certificates of one run: a CA and the server certificate it issues,
 * and a second CA with an impostor certificate for the same name.
 */
export async function makeCertificates(name = SERVER_NAME): Promise<RunCertificates> {
  // A different CA name every run: it shows in curl and openssl that this CA is new.
  const run = randomBytes(3).toString('hex');
  const [ca, otherCa] = await Promise.all([makeAuthority(`TCP workbook CA ${run}`), makeAuthority(`Someone else's CA ${run}`)]);
  const [server, impostor] = await Promise.all([issue(ca, [name]), issue(otherCa, [name])]);
  return { ca, server, otherCa, impostor };
}
