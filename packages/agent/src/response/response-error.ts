import type { ResponseErrorCode } from "@ring3/protocol";

/**
 * A refusal or failure an action reports: the executor turns it into an `ActionResult` with `ok: false`, the
 * stable `code` and whatever `details` say what was done before it stopped.
 */
export class ResponseError extends Error {
  readonly code: ResponseErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ResponseErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "ResponseError";
    this.code = code;
    this.details = details;
  }
}
