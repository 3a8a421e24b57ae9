// Generates the webhook's self-signed CA and the serving certificate the API server trusts through caBundle.
import { isIP } from "node:net";
import forge from "node-forge";

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CaOptions {
  commonName?: string;
  /** Defaults to 10 years. */
  validityDays?: number;
  now?: Date;
}

export interface ServingCertOptions {
  service: string;
  namespace: string;
  /** Extra DNS names, e.g. `localhost` or a tunnel's host name, added after the in-cluster names. */
  extraDnsNames?: string[];
  /** IP SANs, e.g. `127.0.0.1` for a webhook served from a laptop. */
  ipAddresses?: string[];
  /** Defaults to 1 year. */
  validityDays?: number;
  now?: Date;
}

export interface ServingCert extends PemPair {
  dnsNames: string[];
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}

export interface WebhookCertificates {
  ca: PemPair & { notAfter: Date; serialNumber: string };
  serving: ServingCert;
  /** base64 of the CA PEM, ready for clientConfig.caBundle. */
  caBundle: string;
}

export const CA_VALIDITY_DAYS = 3650;
export const SERVING_VALIDITY_DAYS = 365;
const DAY_MS = 86_400_000;
// Tolerates clocks a few minutes behind ours on the API server or a node.
const BACKDATE_MS = 5 * 60_000;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HOST_NAME = /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

/** Why `name` cannot be a Service or namespace name, or null when it can. */
export function dnsLabelProblem(name: string, field: string): string | null {
  if (DNS_LABEL.test(name) && name.length <= 63) return null;
  return `${field} "${name}" is not a DNS label (at most 63 lower-case letters, digits and '-', alphanumeric at both ends)`;
}

/** Why `name` cannot be an extra SAN, or null when it is a host name or an IP address. */
export function subjectAltNameProblem(name: string): string | null {
  if (isIP(name) !== 0) return null;
  if (HOST_NAME.test(name) && name.length <= 253) return null;
  return `"${name}" is neither a DNS name nor an IP address`;
}

/** The names a client inside the cluster may use to reach `service` in `namespace`. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export function caBundleOf(caCertPem: string): string {
  return Buffer.from(caCertPem, "utf8").toString("base64");
}

export function generateCa(opts: CaOptions = {}): PemPair & { notAfter: Date; serialNumber: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  setValidity(cert, opts.now ?? new Date(), opts.validityDays ?? CA_VALIDITY_DAYS);
  const subject = [{ name: "commonName", value: opts.commonName ?? "greenlight-webhook-ca" }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    certPem: toPem(forge.pki.certificateToPem(cert)),
    keyPem: toPem(forge.pki.privateKeyToPem(keys.privateKey)),
    notAfter: cert.validity.notAfter,
    serialNumber: cert.serialNumber,
  };
}

/** A serving certificate for `<service>.<namespace>.svc`, signed by `ca`; throws on a name that cannot be a SAN. */
export function generateServingCert(ca: PemPair, opts: ServingCertOptions): ServingCert {
  for (const problem of [dnsLabelProblem(opts.service, "service"), dnsLabelProblem(opts.namespace, "namespace")]) {
    if (problem) throw new Error(problem);
  }
  const extras = [...(opts.extraDnsNames ?? []), ...(opts.ipAddresses ?? [])];
  for (const name of extras) {
    const problem = subjectAltNameProblem(name);
    if (problem) throw new Error(problem);
  }
  const dnsNames = unique([...serviceDnsNames(opts.service, opts.namespace), ...extras.filter((n) => isIP(n) === 0)]);
  const ipAddresses = unique(extras.filter((n) => isIP(n) !== 0));

  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  setValidity(cert, opts.now ?? new Date(), opts.validityDays ?? SERVING_VALIDITY_DAYS);
  // The API server's Go TLS client ignores the CN and checks SANs only; the CN is for humans reading the cert.
  cert.setSubject([{ name: "commonName", value: `${opts.service}.${opts.namespace}.svc` }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ipAddresses.map((ip) => ({ type: 7, ip }))],
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    certPem: toPem(forge.pki.certificateToPem(cert)),
    keyPem: toPem(forge.pki.privateKeyToPem(keys.privateKey)),
    dnsNames,
    ipAddresses,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    serialNumber: cert.serialNumber,
  };
}

/** A fresh CA and a serving certificate it signed, plus the caBundle for the webhook configurations. */
export function generateWebhookCertificates(opts: ServingCertOptions & { caCommonName?: string }): WebhookCertificates {
  const ca = generateCa({ now: opts.now, ...(opts.caCommonName ? { commonName: opts.caCommonName } : {}) });
  const serving = generateServingCert(ca, opts);
  return { ca, serving, caBundle: caBundleOf(ca.certPem) };
}

function setValidity(cert: forge.pki.Certificate, now: Date, days: number): void {
  if (!Number.isInteger(days) || days < 1) throw new Error(`validityDays ${days} must be a whole number of days >= 1`);
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
}

// 16 random bytes with the top bit cleared: RFC 5280 wants a positive serial of at most 20 octets.
function randomSerial(): string {
  const bytes = forge.random.getBytesSync(16);
  const first = (bytes.charCodeAt(0) & 0x7f) | 0x01;
  return forge.util.bytesToHex(String.fromCharCode(first) + bytes.slice(1));
}

// forge writes CRLF line ends; LF keeps the files and the caBundle identical to what openssl or kubectl write.
function toPem(pem: string): string {
  return pem.replace(/\r\n/g, "\n");
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
