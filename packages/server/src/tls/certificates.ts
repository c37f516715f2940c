import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import * as der from "./der.ts";

/**
 * The server's own small PKI, created in the data dir on first start: a CA (ECDSA P-256, ten years) that
 * agents pin, and a server certificate it signs for the names the server answers on. Later starts reuse both;
 * the server certificate is reissued from the same CA when it nears expiry or a name is missing, so pinned
 * agents never notice.
 */
export type TlsMaterial = {
  readonly dir: string;
  readonly caCertPath: string;
  readonly caCertPem: string;
  /** SHA-256 of the CA certificate's DER, `AA:BB:…` (what `openssl x509 -fingerprint -sha256` prints). */
  readonly caFingerprint256: string;
  readonly keyPem: string;
  readonly certPem: string;
  /** Whether this start created the CA (first start). */
  readonly createdCa: boolean;
};

const CA_YEARS = 10;
const SERVER_DAYS = 397;
const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

export async function ensureTls(dir: string, names: readonly string[], now: Date): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = {
    caCert: join(dir, "ca.pem"),
    caKey: join(dir, "ca.key"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
  };
  let createdCa = false;
  let ca = await readPair(paths.caCert, paths.caKey);
  if (ca === undefined) {
    ca = createCa(now);
    await writeSecret(paths.caKey, ca.keyPem);
    await writePublic(paths.caCert, ca.certPem);
    createdCa = true;
  }
  const caCert = new X509Certificate(ca.certPem);
  let server = await readPair(paths.cert, paths.key);
  if (server === undefined || !serverCertUsable(new X509Certificate(server.certPem), caCert, names, now)) {
    server = createServerCert(ca, names, now);
    await writeSecret(paths.key, server.keyPem);
    await writePublic(paths.cert, server.certPem);
  }
  return {
    dir,
    caCertPath: paths.caCert,
    caCertPem: ca.certPem,
    caFingerprint256: caCert.fingerprint256,
    keyPem: server.keyPem,
    certPem: server.certPem,
    createdCa,
  };
}

type Pair = { certPem: string; keyPem: string };

async function readPair(certPath: string, keyPath: string): Promise<Pair | undefined> {
  try {
    return { certPem: await readFile(certPath, "utf8"), keyPem: await readFile(keyPath, "utf8") };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function serverCertUsable(cert: X509Certificate, ca: X509Certificate, names: readonly string[], now: Date): boolean {
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
  if (Date.parse(cert.validTo) - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) return false;
  return names.every((name) => (isIP(name) !== 0 ? cert.checkIP(name) : cert.checkHost(name)) !== undefined);
}

function createCa(now: Date): Pair {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const name = distinguishedName(`ring3 CA ${now.toISOString().slice(0, 10)}`);
  const certDer = certificate({
    issuer: name,
    subject: name,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    publicKey,
    signingKey: privateKey,
    extensions: [
      // RFC 5280 §4.2.1.9: cA TRUE, pathLenConstraint 0 (it signs server certificates only), critical.
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true), der.smallInteger(0))),
      // keyCertSign (bit 5) and cRLSign (bit 6): 0b0000_0110, one unused trailing bit.
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0x06]), 1)),
      extension(OID.subjectKeyIdentifier, false, der.octetString(keyId(publicKey))),
    ],
  });
  return {
    certPem: pem("CERTIFICATE", certDer),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function createServerCert(ca: Pair, names: readonly string[], now: Date): Pair {
  const caKey = createPrivateKey(ca.keyPem);
  const caCert = new X509Certificate(ca.certPem);
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const altNames = names.map((name) =>
    isIP(name) === 0 ? der.implicit(2, Buffer.from(name, "ascii")) : der.implicit(7, ipBytes(name)),
  );
  const certDer = certificate({
    issuer: Buffer.from(caSubjectDer(caCert)),
    subject: distinguishedName(names[0] ?? "localhost"),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + SERVER_DAYS * DAY_MS),
    publicKey,
    signingKey: caKey,
    extensions: [
      extension(OID.basicConstraints, true, der.sequence()),
      // digitalSignature (bit 0): 0b1000_0000, seven unused bits.
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0x80]), 7)),
      extension(OID.extKeyUsage, false, der.sequence(der.objectId(OID.serverAuth))),
      extension(OID.subjectAltName, false, der.sequence(...altNames)),
      extension(OID.subjectKeyIdentifier, false, der.octetString(keyId(publicKey))),
      extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, keyId(caCert.publicKey)))),
    ],
  });
  return {
    certPem: pem("CERTIFICATE", certDer),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

type CertificateInput = {
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  signingKey: KeyObject;
  extensions: Buffer[];
};

/** RFC 5280 §4.1: TBSCertificate signed with ECDSA-SHA256 (node's signature is already DER `Ecdsa-Sig-Value`). */
function certificate(input: CertificateInput): Buffer {
  const algorithm = der.sequence(der.objectId(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // §4.1.2.2: a positive integer of at most 20 octets
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial),
    algorithm,
    input.issuer,
    der.sequence(der.time(input.notBefore), der.time(input.notAfter)),
    input.subject,
    input.publicKey.export({ type: "spki", format: "der" }),
    der.explicit(3, der.sequence(...input.extensions)),
  );
  const signature = sign("sha256", tbs, input.signingKey);
  return der.sequence(tbs, algorithm, der.bitString(signature));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.objectId(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

function distinguishedName(commonName: string): Buffer {
  return der.sequence(
    der.set(der.sequence(der.objectId(OID.organization), der.utf8String("ring3"))),
    der.set(der.sequence(der.objectId(OID.commonName), der.utf8String(commonName))),
  );
}

/** The CA's subject exactly as encoded in its certificate: the issuer of what it signs must match byte for byte. */
function caSubjectDer(ca: X509Certificate): Buffer {
  // Certificate → TBSCertificate → [version, serial, signature, issuer, validity, subject…]; the CA is self-signed,
  // so its issuer (the fourth element) is its subject.
  return nthElement(nthElement(ca.raw, 0), 3);
}

/** The n-th element (tag, length and content) inside a DER SEQUENCE. */
function nthElement(seq: Buffer, n: number): Buffer {
  let offset = headerLength(seq);
  for (let i = 0; ; i++) {
    const size = headerLength(seq.subarray(offset)) + contentLength(seq.subarray(offset));
    if (i === n) return seq.subarray(offset, offset + size);
    offset += size;
  }
}

function headerLength(bytes: Buffer): number {
  const first = bytes[1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(bytes: Buffer): number {
  const first = bytes[1]!;
  if (first < 0x80) return first;
  let n = 0;
  for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + bytes[2 + i]!;
  return n;
}

/** 160 bits of SHA-256 over the SubjectPublicKeyInfo (RFC 5280 §4.2.1.2 accepts any method giving unique ids). */
function keyId(publicKey: KeyObject): Buffer {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest()
    .subarray(0, 20);
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  // An embedded IPv4 tail (`::ffff:10.0.0.1`) is the last two groups written in dotted form.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    ip = ip.slice(0, v4.index) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16);
  }
  const [head = "", tail = ""] = ip.split("::");
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = ip.includes("::") ? groups(tail) : [];
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

function pem(label: string, bytes: Buffer): string {
  const lines = bytes.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

async function writeSecret(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

async function writePublic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}
