import { Type, type Static } from "typebox";
import { Value } from "typebox/value";

/**
 * Response actions as the wire carries them: the server queues one for an agent, `ring3 respond` builds one
 * locally, a playbook builds one from an alert. One schema serves the server's validation and every
 * TypeScript caller (TypeBox: the JSON Schema and the type are the same declaration).
 */

const Pid = Type.Integer({ minimum: 1, maximum: 4_194_304, description: "Linux pid (pid_max is at most 2^22)" });
const Sha256 = Type.String({ pattern: "^[0-9a-fA-F]{64}$", description: "SHA-256 of the file, hex" });
const HostPort = Type.String({
  minLength: 3,
  maxLength: 300,
  description: "host:port or [ipv6]:port that stays reachable while isolated",
});

/** Guards against pid reuse: the action applies only if the process still has this start time. */
const StartTime = Type.Optional(
  Type.Integer({ minimum: 0, description: "process start time in clock ticks since boot (/proc/<pid>/stat #22)" }),
);

/** Every request may ask for a dry run: the agent reports what it would do and changes nothing. */
const Common = {
  dryRun: Type.Optional(Type.Boolean({ description: "report what would be done, change nothing" })),
};

const ProcessTarget = {
  pid: Pid,
  tree: Type.Optional(Type.Boolean({ description: "the process and all its descendants" })),
  startTime: StartTime,
  force: Type.Optional(
    Type.Boolean({ description: "act on a process on the critical list (never PID 1, kernel threads, the agent)" }),
  ),
  ...Common,
};

export const ResponseRequest = Type.Union([
  Type.Object({ action: Type.Literal("kill"), ...ProcessTarget }, { additionalProperties: false }),
  Type.Object({ action: Type.Literal("suspend"), ...ProcessTarget }, { additionalProperties: false }),
  Type.Object({ action: Type.Literal("resume"), ...ProcessTarget }, { additionalProperties: false }),
  Type.Object(
    {
      action: Type.Literal("quarantine"),
      path: Type.String({ minLength: 1, maxLength: 4096 }),
      force: Type.Optional(Type.Boolean({ description: "allow system-critical paths" })),
      ...Common,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { action: Type.Literal("restore"), id: Type.String({ minLength: 1, maxLength: 128 }), ...Common },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      action: Type.Literal("isolate"),
      allow: Type.Array(HostPort, { maxItems: 64 }),
      dns: Type.Optional(Type.Boolean()),
      dhcp: Type.Optional(Type.Boolean()),
      ...Common,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      action: Type.Literal("release"),
      token: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 128,
          description: "the break-glass token shown at isolation; a local release (ring3 respond) needs it",
        }),
      ),
      ...Common,
    },
    { additionalProperties: false },
  ),
  Type.Object({ action: Type.Literal("block"), sha256: Sha256, ...Common }, { additionalProperties: false }),
  Type.Object({ action: Type.Literal("unblock"), sha256: Sha256, ...Common }, { additionalProperties: false }),
  Type.Object({ action: Type.Literal("list") }, { additionalProperties: false }),
]);
export type ResponseRequest = Static<typeof ResponseRequest>;
export type ResponseActionName = ResponseRequest["action"];

export const RESPONSE_ACTIONS = [
  "kill",
  "suspend",
  "resume",
  "quarantine",
  "restore",
  "isolate",
  "release",
  "block",
  "unblock",
  "list",
] as const satisfies readonly ResponseActionName[];

/**
 * A request from anywhere (the server's queue, a local socket, a playbook) checked against its own variant,
 * so the message names what is wrong with a `block` rather than why it is not also a `kill`.
 */
export function checkResponseRequest(
  value: unknown,
): { readonly ok: true; readonly request: ResponseRequest } | { readonly ok: false; readonly message: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, message: "a response request must be an object" };
  const action = (value as { action?: unknown }).action;
  const variant = ResponseRequest.anyOf.find((schema) => schema.properties.action.const === action);
  if (variant === undefined)
    return { ok: false, message: `unknown action ${JSON.stringify(action)} (one of ${RESPONSE_ACTIONS.join(", ")})` };
  if (Value.Check(variant, value)) return { ok: true, request: value };
  const problems = [...Value.Errors(variant, value)]
    .slice(0, 3)
    .map((e) => `${e.instancePath === "" ? "request" : e.instancePath} ${e.message}`);
  return { ok: false, message: `invalid ${String(action)} request: ${problems.join("; ")}` };
}

/**
 * What every action returns. `ok: false` carries a stable `code` (`R3_ERR_RESPONSE_*`); `details` is the
 * action's own structured output (the quarantine id, the pids killed, the break-glass token…).
 */
export const ActionResult = Type.Object({
  action: Type.String(),
  ok: Type.Boolean(),
  dryRun: Type.Optional(Type.Boolean()),
  code: Type.Optional(Type.String()),
  message: Type.String(),
  startedAt: Type.String({ description: "ISO 8601" }),
  durationMs: Type.Number({ minimum: 0 }),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type ActionResult = Static<typeof ActionResult>;

/**
 * The stable codes an `ActionResult` with `ok: false` carries. Callers branch on these, never on the message.
 */
export const RESPONSE_ERROR_CODES = {
  /** The request does not match `ResponseRequest` (the agent validates whatever reaches it). */
  R3_ERR_RESPONSE_INVALID: "the request is not a valid response request",
  /** PID 1, the agent itself or one of its ancestors, a kernel thread, a protected (critical) process. */
  R3_ERR_RESPONSE_PROTECTED: "the target is protected by a guardrail",
  R3_ERR_RESPONSE_NO_SUCH_PROCESS: "no process with that pid",
  /** The pid now belongs to another process than the one the request named (start time differs). */
  R3_ERR_RESPONSE_PID_REUSED: "the pid was reused by another process",
  /** Processes of the target survived SIGKILL (uninterruptible sleep) within the action's timeout. */
  R3_ERR_RESPONSE_SURVIVED: "some processes did not exit",
  R3_ERR_RESPONSE_NOT_SUSPENDED: "the process is not suspended by ring3",
  /** A system-critical path, refused unless `force`. */
  R3_ERR_RESPONSE_CRITICAL_PATH: "the path is system-critical",
  R3_ERR_RESPONSE_NOT_A_FILE: "the path is not a regular file",
  R3_ERR_RESPONSE_NO_SUCH_FILE: "no such file",
  R3_ERR_RESPONSE_QUARANTINE_NOT_FOUND: "no quarantined file with that id",
  /** Something now exists at the quarantined file's original path. */
  R3_ERR_RESPONSE_RESTORE_EXISTS: "the original path is occupied",
  R3_ERR_RESPONSE_NOT_ISOLATED: "the host is not isolated",
  /** A local release without the break-glass token, or with a wrong one. */
  R3_ERR_RESPONSE_TOKEN_INVALID: "the break-glass token is missing or wrong",
  /** An allowed management endpoint that is not host:port, or a host name that does not resolve. */
  R3_ERR_RESPONSE_BAD_ENDPOINT: "an allowed endpoint is invalid",
  /** The kernel or a tool refused (nft, fanotify, cgroup writes…); the message says which and why. */
  R3_ERR_RESPONSE_FAILED: "the action failed",
  /** A part the action needs is missing here (no nft binary, no native addon, not root). */
  R3_ERR_RESPONSE_UNAVAILABLE: "the action is unavailable on this host",
  R3_ERR_RESPONSE_TIMEOUT: "the action did not finish within its timeout",
  /** The agent stopped (crash, kill -9, reboot) while the action ran: it may or may not have taken effect. */
  R3_ERR_RESPONSE_INTERRUPTED: "the agent stopped while the action ran",
  /** An automatic (playbook) action over its rate limit. */
  R3_ERR_RESPONSE_RATE_LIMITED: "too many automatic actions",
} as const;
export type ResponseErrorCode = keyof typeof RESPONSE_ERROR_CODES;
