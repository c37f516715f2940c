import { createHash, randomBytes } from "node:crypto";

/**
 * Secrets the server hands out carry a prefix naming their kind, so a credential sent to the wrong kind of
 * route is told apart without a lookup (and secret scanners can recognise them in leaked text).
 */
export const SECRET_PREFIXES = { session: "r3s_", agent: "r3a_", enrollment: "r3e_" } as const;
export type SecretKind = keyof typeof SECRET_PREFIXES;

/** 256 random bits, base64url, behind the kind's prefix. */
export function newSecret(kind: SecretKind): string {
  return SECRET_PREFIXES[kind] + randomBytes(32).toString("base64url");
}

/**
 * What the store keeps instead of the secret. A plain SHA-256 suffices: the secret is 256 random bits, so
 * there is nothing to brute-force that a slow hash would protect (passwords get scrypt, see passwords.ts).
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function secretKind(secret: string): SecretKind | undefined {
  for (const [kind, prefix] of Object.entries(SECRET_PREFIXES)) {
    if (secret.startsWith(prefix)) return kind as SecretKind;
  }
  return undefined;
}

/** A password for the first admin: 20 characters of base64url (120 bits), shown once. */
export function newPassword(): string {
  return randomBytes(15).toString("base64url");
}
