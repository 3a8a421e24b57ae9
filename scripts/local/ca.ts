// The local stack's CA, made once and kept under <home>/tls, and the serving certificate it signs for this machine.
/*
 * The CA is what a user trusts (a curl --cacert, NODE_EXTRA_CA_CERTS, a webhook configuration's caBundle), so it is
 * generated on the first start only and reused after: trusting it once must keep working. The serving certificate is
 * cheap to replace and is re-issued whenever it no longer fits: missing, not signed by this CA, expiring within 30
 * days, or not covering a host the stack is now reached by (a new --host or --public-host).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { caBundleOf, generateCa, generateServingCert, type PemPair } from "../../webhooks/certs/certs.ts";
import { DEFAULT_NAMESPACE, DEFAULT_SERVICE } from "../../webhooks/config/configurations.ts";

export const TLS_DIR = "tls";
export const CA_COMMON_NAME = "greenlight-local-ca";
/** A serving certificate this close to its end is replaced at start. */
export const RENEW_BEFORE_MS = 30 * 86_400_000;

export interface LocalTlsOptions {
  /** The directory for ca.crt, ca.key, tls.crt, tls.key and ca.bundle; created (0700) when missing. */
  dir: string;
  /** Host names and IP addresses the serving certificate must cover. */
  hosts: readonly string[];
  now?: Date;
  /** How long to wait for a racing start to write the other CA file before calling it missing; default 3 s. */
  settleMs?: number;
}

export interface LocalTls {
  dir: string;
  caCertPath: string;
  caKeyPath: string;
  certPath: string;
  keyPath: string;
  /** A file holding `caBundle`, for `clientConfig.caBundle`. */
  bundlePath: string;
  /** base64 of the CA PEM. */
  caBundle: string;
  caCertPem: string;
  /** SHA-256 of the CA certificate, colon-separated hex, as `openssl x509 -noout -fingerprint -sha256` prints it. */
  fingerprint: string;
  /** True when this call made the CA (the first start); false when it reused one. */
  caCreated: boolean;
  /** True when this call issued a new serving certificate. */
  servingIssued: boolean;
  caNotAfter: Date;
  servingNotAfter: Date;
}

/** A CA on disk that cannot be used; the message names the file and the fix. */
export class LocalCaError extends Error {
  override readonly name = "LocalCaError";
}

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

function startOver(dir: string): string {
  return `delete ${dir} to make a new CA (then trust the new ca.crt and update caBundle wherever you used the old one)`;
}

/** The CA pair on disk, checked: parses, key matches, still valid. */
function checkCa(dir: string, pair: PemPair, now: Date): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.certPem);
    if (!cert.checkPrivateKey(createPrivateKey(pair.keyPem))) {
      throw new Error("ca.key is not the key of ca.crt");
    }
  } catch (error) {
    throw new LocalCaError(`the local CA in ${dir} is unusable (${(error as Error).message}): ${startOver(dir)}`);
  }
  if (!cert.ca) throw new LocalCaError(`${join(dir, "ca.crt")} is not a CA certificate: ${startOver(dir)}`);
  if (new Date(cert.validTo).getTime() <= now.getTime()) {
    throw new LocalCaError(`the local CA in ${dir} expired on ${cert.validTo}: ${startOver(dir)}`);
  }
  return cert;
}

/** Reads the CA, or makes it when neither file exists. Two starts racing here end up sharing one CA. */
async function loadOrCreateCa(
  dir: string,
  now: Date,
  settleMs: number,
): Promise<{ pair: PemPair; cert: X509Certificate; created: boolean }> {
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  const [certPem, keyPem] = await Promise.all([readText(certPath), readText(keyPath)]);
  if (certPem !== undefined && keyPem !== undefined) {
    const pair = { certPem, keyPem };
    return { pair, cert: checkCa(dir, pair, now), created: false };
  }
  if (certPem !== undefined || keyPem !== undefined) {
    const missing = certPem === undefined ? certPath : keyPath;
    // A start that is writing the CA right now leaves this state for a moment: give it that moment.
    for (let waited = 0; waited < settleMs; waited += 100) {
      await sleep(100);
      const [c, k] = await Promise.all([readText(certPath), readText(keyPath)]);
      if (c !== undefined && k !== undefined) {
        const pair = { certPem: c, keyPem: k };
        return { pair, cert: checkCa(dir, pair, now), created: false };
      }
    }
    throw new LocalCaError(`${missing} is missing but its partner exists: ${startOver(dir)}`);
  }
  const ca = generateCa({ now, commonName: CA_COMMON_NAME });
  try {
    // "wx": of two starts racing, exactly one writes the key; the other waits for its certificate above.
    await writeFile(keyPath, ca.keyPem, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if (errorCode(error) === "EEXIST") return loadOrCreateCa(dir, now, settleMs);
    throw error;
  }
  await writeFile(certPath, ca.certPem, { mode: 0o644, flag: "wx" });
  const pair = { certPem: ca.certPem, keyPem: ca.keyPem };
  return { pair, cert: checkCa(dir, pair, now), created: true };
}

/** Whether `cert` covers `host` (a DNS name or an IP address). */
function covers(cert: X509Certificate, host: string): boolean {
  return isIP(host) !== 0 ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

/** Why the serving pair on disk must be replaced, or undefined when it still fits. */
function servingProblem(
  pair: { certPem?: string; keyPem?: string },
  ca: X509Certificate,
  hosts: readonly string[],
  now: Date,
): string | undefined {
  if (pair.certPem === undefined || pair.keyPem === undefined) return "missing";
  try {
    const cert = new X509Certificate(pair.certPem);
    if (!cert.checkPrivateKey(createPrivateKey(pair.keyPem))) return "key does not match";
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return "not signed by this CA";
    if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return "expiring";
    const uncovered = hosts.find((host) => !covers(cert, host));
    return uncovered === undefined ? undefined : `does not cover ${uncovered}`;
  } catch (error) {
    return `unreadable: ${(error as Error).message}`;
  }
}

/** Replaces a file whole: a reader (the HTTPS server's reload) never sees half of it. */
async function replaceFile(path: string, content: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, content, { mode });
  await chmod(temp, mode);
  await rename(temp, path);
}

/** The CA (made once, reused after) and a serving certificate for `hosts` signed by it. */
export async function ensureLocalTls(options: LocalTlsOptions): Promise<LocalTls> {
  const now = options.now ?? new Date();
  const dir = options.dir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreateCa(dir, now, options.settleMs ?? 3_000);

  const certPath = join(dir, "tls.crt");
  const keyPath = join(dir, "tls.key");
  const [servingCert, servingKey] = await Promise.all([readText(certPath), readText(keyPath)]);
  const problem = servingProblem({ certPem: servingCert, keyPem: servingKey }, ca.cert, options.hosts, now);
  let servingPem = servingCert ?? "";
  if (problem !== undefined) {
    const serving = generateServingCert(ca.pair, {
      service: DEFAULT_SERVICE,
      namespace: DEFAULT_NAMESPACE,
      extraDnsNames: options.hosts.filter((host) => isIP(host) === 0),
      ipAddresses: options.hosts.filter((host) => isIP(host) !== 0),
      now,
    });
    // The key goes first: a pair read between the two renames fails to load, and the server keeps the old one.
    await replaceFile(keyPath, serving.keyPem, 0o600);
    await replaceFile(certPath, serving.certPem, 0o644);
    servingPem = serving.certPem;
  }

  const caBundle = caBundleOf(ca.pair.certPem);
  const bundlePath = join(dir, "ca.bundle");
  await replaceFile(bundlePath, `${caBundle}\n`, 0o644);
  return {
    dir,
    caCertPath: join(dir, "ca.crt"),
    caKeyPath: join(dir, "ca.key"),
    certPath,
    keyPath,
    bundlePath,
    caBundle,
    caCertPem: ca.pair.certPem,
    fingerprint: ca.cert.fingerprint256,
    caCreated: ca.created,
    servingIssued: problem !== undefined,
    caNotAfter: new Date(ca.cert.validTo),
    servingNotAfter: new Date(new X509Certificate(servingPem).validTo),
  };
}
