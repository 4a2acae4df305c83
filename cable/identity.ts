/**
 * A node's identity: an ECDSA P-256 key pair and a self-signed X.509 certificate, created on first
 * start in the state directory (files 0600, written atomically: temp file + rename, so a crash
 * never leaves half a key). Peers pin the certificate by its SHA-256 fingerprint
 * (`tls://host:port?fp=sha256:…`), as with SSH host keys; there is no CA.
 *
 * X.509 is built with @peculiar/x509 (a maintained library on WebCrypto), not by hand.
 */

import * as x509 from "@peculiar/x509";

export interface Identity {
  /** PEM certificate. */
  certPem: string;
  /** PEM PKCS#8 private key. */
  keyPem: string;
  /** `sha256:` + hex of the SHA-256 of the certificate's DER bytes. */
  fingerprint: string;
  /** A short stable name: the first 16 hex digits of the fingerprint. */
  nodeId: string;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const CERT_FILE = "node.crt";
const KEY_FILE = "node.key";

/** Hex SHA-256 of bytes. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The pin of a certificate (DER bytes): `sha256:HEX`. */
export async function fingerprintOf(der: Uint8Array): Promise<string> {
  return `sha256:${await sha256Hex(der)}`;
}

/** Normalise a user-given pin: `sha256:HEX`, `HEX`, upper case or with colons. */
export function parseFingerprint(text: string): string | undefined {
  const hex = text.replace(/^sha256:/i, "").replaceAll(":", "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? `sha256:${hex}` : undefined;
}

/** Load the identity in `dir`, creating it (and `dir`, mode 0700) on first use. */
export async function loadOrCreateIdentity(dir: string): Promise<Identity> {
  try {
    const certPem = await Deno.readTextFile(`${dir}/${CERT_FILE}`);
    const keyPem = await Deno.readTextFile(`${dir}/${KEY_FILE}`);
    return await identityOf(certPem, keyPem);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
  x509.cryptoProvider.set(crypto);
  const serial = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${serial}`,
    name: "CN=weft-node",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 20 * 365 * 86_400_000),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "weft" }]),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = pem("PRIVATE KEY", pkcs8);
  const certPem = cert.toString("pem") + "\n";
  // The key first: a certificate without its key would be useless after a crash.
  await writeAtomic(`${dir}/${KEY_FILE}`, keyPem);
  await writeAtomic(`${dir}/${CERT_FILE}`, certPem);
  return await identityOf(certPem, keyPem);
}

async function identityOf(certPem: string, keyPem: string): Promise<Identity> {
  const der = new Uint8Array(new x509.X509Certificate(certPem).rawData);
  const fingerprint = await fingerprintOf(der);
  return { certPem, keyPem, fingerprint, nodeId: fingerprint.slice(7, 23) };
}

function pem(label: string, der: Uint8Array): string {
  let b64 = "";
  for (let i = 0; i < der.length; i += 0x8000) {
    b64 += String.fromCharCode(...der.subarray(i, i + 0x8000));
  }
  const lines = btoa(b64).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Write a secret file atomically with mode 0600. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}
