import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { homedir, hostname, platform, release } from "node:os";
import { join } from "node:path";
import type { EnrollRequest, EnrollResponse } from "@ring3/protocol";
import { ROUTES } from "@ring3/protocol";
import { LinkClient, checkServerUrl, describeAnswer } from "./link-client.ts";

/*
 * Enrollment: an enrollment token (created by an admin) buys a per-agent credential once. The credential,
 * the server it belongs to and the server's CA are kept in the agent's state directory, readable by the
 * agent's user only (0600), and every later run reuses them without a token.
 */

export const AGENT_VERSION = "0.1.0";

/** What enrollment leaves in the state directory (`link.json`). */
export type LinkState = {
  readonly serverUrl: string;
  readonly agentId: string;
  readonly credential: string;
  readonly heartbeatIntervalSeconds: number;
  readonly enrolledAt: string;
};

const LINK_FILE = "link.json";
const CA_FILE = "server-ca.pem";

export class EnrollmentError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** /var/lib/ring3 for root, else $XDG_STATE_HOME/ring3 (~/.local/state/ring3). */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return "/var/lib/ring3";
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state");
  return join(base, "ring3");
}

/** Writes a file readable by its owner only, atomically (temporary file, fsync, rename). */
export function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // The mode of an existing temporary file is not changed by open(2).
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export function loadLinkState(stateDir: string): LinkState | undefined {
  const text = readOptional(join(stateDir, LINK_FILE));
  if (text === undefined) return undefined;
  let data: Partial<LinkState>;
  try {
    data = JSON.parse(text) as Partial<LinkState>;
  } catch {
    throw new EnrollmentError("R3_ERR_LINK_STATE", `${join(stateDir, LINK_FILE)} is not valid JSON`);
  }
  if (
    typeof data.serverUrl !== "string" ||
    typeof data.agentId !== "string" ||
    typeof data.credential !== "string" ||
    typeof data.heartbeatIntervalSeconds !== "number" ||
    typeof data.enrolledAt !== "string"
  )
    throw new EnrollmentError("R3_ERR_LINK_STATE", `${join(stateDir, LINK_FILE)} lacks a field; enroll again`);
  return data as LinkState;
}

/** The CA pinned at enrollment, if any. */
export function loadPinnedCa(stateDir: string): string | undefined {
  return readOptional(join(stateDir, CA_FILE));
}

/** /etc/machine-id, else an id made up once and kept in the state directory. */
export function machineId(stateDir: string): string {
  for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    const id = readOptional(path)?.trim();
    if (id !== undefined && /^[0-9a-f]{32}$/.test(id)) return id;
  }
  const path = join(stateDir, "machine-id");
  const kept = readOptional(path)?.trim();
  if (kept !== undefined && kept.length > 0) return kept;
  const made = randomBytes(16).toString("hex");
  writePrivateFile(path, `${made}\n`);
  return made;
}

function looksLikePem(text: string): boolean {
  return /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(text);
}

export type EnrollOptions = {
  readonly stateDir: string;
  readonly serverUrl: string | undefined;
  readonly token: string | undefined;
  /** PEM text of the CA to pin (from `--ca`); a CA already pinned for the same server is kept otherwise. */
  readonly caPem: string | undefined;
  readonly log: (message: string) => void;
  /** Aborts the enrollment request (the agent is stopping). */
  readonly signal?: AbortSignal;
};

export type Enrolled = { readonly state: LinkState; readonly ca: string | undefined; readonly reused: boolean };

/**
 * The credential to use: the one already in the state directory when it is for this server (or no server
 * was named), else a new one bought with the token. Errors say what to do (R3_ERR_ENROLL_*).
 */
export async function ensureEnrolled(options: EnrollOptions): Promise<Enrolled> {
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  const existing = loadLinkState(options.stateDir);
  const serverUrl = options.serverUrl ?? existing?.serverUrl;
  if (serverUrl === undefined)
    throw new EnrollmentError("R3_ERR_ENROLL_NO_SERVER", "no server: give --server <url> and --enroll-token <token>");
  checkServerUrl(serverUrl);
  if (options.caPem !== undefined && !looksLikePem(options.caPem))
    throw new EnrollmentError("R3_ERR_ENROLL_CA", "the --ca file is not a PEM certificate");
  if (existing !== undefined && sameServer(existing.serverUrl, serverUrl)) {
    const ca = options.caPem ?? loadPinnedCa(options.stateDir);
    if (options.caPem !== undefined) writePrivateFile(join(options.stateDir, CA_FILE), options.caPem);
    return { state: existing, ca, reused: true };
  }
  const pinned = loadPinnedCa(options.stateDir);
  if (existing !== undefined && options.caPem !== undefined && pinned !== undefined && sameCa(pinned, options.caPem)) {
    // The CA pinned at enrollment vouches for the server: the same server under another address (another
    // port for `ring3 up`, a new DNS name). The credential stays; only the address changes.
    const moved: LinkState = { ...existing, serverUrl };
    writePrivateFile(join(options.stateDir, LINK_FILE), JSON.stringify(moved, null, 2) + "\n");
    options.log(`the server of agent ${existing.agentId} moved from ${existing.serverUrl} to ${serverUrl}`);
    return { state: moved, ca: pinned, reused: true };
  }
  if (options.token === undefined)
    throw new EnrollmentError(
      "R3_ERR_ENROLL_NO_TOKEN",
      existing === undefined
        ? `not enrolled yet: give --enroll-token <token> (an admin creates one on ${serverUrl})`
        : `enrolled with ${existing.serverUrl}, not ${serverUrl}: give --enroll-token <token> to enroll with it`,
    );
  const ca = options.caPem;
  const client = new LinkClient({ serverUrl, ...(ca === undefined ? {} : { ca }), timeoutMs: 30_000 });
  const request: EnrollRequest = {
    token: options.token,
    hostname: hostname().slice(0, 255) || "unknown",
    machineId: machineId(options.stateDir),
    os: platform(),
    osVersion: release().slice(0, 128),
    agentVersion: AGENT_VERSION,
  };
  let response;
  try {
    response = await client.request("POST", ROUTES.enroll.path, {
      body: request,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    throw new EnrollmentError("R3_ERR_ENROLL_UNREACHABLE", `cannot reach ${serverUrl}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
  if (response.status === 429 || response.status >= 500)
    throw new EnrollmentError("R3_ERR_ENROLL_UNAVAILABLE", `the server cannot enroll now: ${describeAnswer(response)}`);
  if (response.status !== 200)
    throw new EnrollmentError(
      "R3_ERR_ENROLL_REFUSED",
      `the server refused the enrollment: ${describeAnswer(response)}`,
    );
  const answer = response.body as EnrollResponse;
  if (typeof answer.agentId !== "string" || typeof answer.credential !== "string")
    throw new EnrollmentError("R3_ERR_ENROLL_REFUSED", "the server's enrollment answer has no credential");
  const state: LinkState = {
    serverUrl,
    agentId: answer.agentId,
    credential: answer.credential,
    heartbeatIntervalSeconds: answer.heartbeatIntervalSeconds,
    enrolledAt: new Date().toISOString(),
  };
  if (ca !== undefined) writePrivateFile(join(options.stateDir, CA_FILE), ca);
  writePrivateFile(join(options.stateDir, LINK_FILE), JSON.stringify(state, null, 2) + "\n");
  options.log(`enrolled with ${serverUrl} as agent ${state.agentId}`);
  return { state, ca, reused: false };
}

function sameCa(a: string, b: string): boolean {
  return a.replace(/\s+/g, "") === b.replace(/\s+/g, "");
}

function sameServer(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}
