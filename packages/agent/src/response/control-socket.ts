import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { ActionResult } from "@ring3/protocol";
import type { ResponseExecutor } from "./response-executor.ts";
import { ResponseError } from "./response-error.ts";

/** `<stateDir>/respond.sock`: where a running agent takes `ring3 respond` requests. */
export const CONTROL_SOCKET_NAME = "respond.sock";

/** A request line is a few hundred bytes; anything near this is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;

/**
 * The running agent's local door for `ring3 respond`: one JSON request line in, one ActionResult line out, on
 * a Unix socket in the state directory (0700, the socket itself 0600), so only root reaches it. Through it a
 * block is enforced by the agent that holds the exec guard, and every action lands in one action log.
 */
export class ResponseControlServer {
  private readonly executor: ResponseExecutor;
  readonly path: string;
  private server: Server | undefined;

  constructor(executor: ResponseExecutor, path: string) {
    this.executor = executor;
    this.path = path;
  }

  async listen(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    // A socket file left by an agent that died is stale once nobody answers on it; anything else is not ours.
    const existing = await lstat(this.path).catch(() => undefined);
    if (existing !== undefined) {
      if (!existing.isSocket()) throw new Error(`${this.path} exists and is not a socket`);
      if (await listening(this.path)) throw new Error(`another agent already answers on ${this.path}`);
      await unlink(this.path);
    }
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    await chmod(this.path, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }

  private serve(socket: Socket): void {
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("error", () => undefined);
    const answer = (result: ActionResult): void => {
      socket.end(JSON.stringify(result) + "\n");
    };
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf("\n");
      if (newline < 0 && buffer.length <= MAX_REQUEST_BYTES) return;
      socket.removeAllListeners("data");
      socket.pause();
      let request: unknown;
      try {
        if (newline < 0) throw new ResponseError("R3_ERR_RESPONSE_INVALID", "request line too long");
        request = JSON.parse(buffer.slice(0, newline)) as unknown;
      } catch (error) {
        // Not even JSON: still goes through execute, so the refusal is validated and logged like any other.
        request = { invalid: (error as Error).message };
      }
      void this.executor.execute(request, { origin: "local" }).then(answer);
    });
  }
}

/** Whether something accepts connections on the socket (connects and hangs up without a request). */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * Sends one request to a running agent. Undefined when none listens (no socket, or a stale one), so the
 * caller can act by itself instead.
 */
export function requestViaSocket(path: string, request: unknown, timeoutMs: number): Promise<ActionResult | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let data = "";
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the agent on ${path} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      connected = true;
      socket.write(JSON.stringify(request) + "\n");
    });
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected && (error.code === "ENOENT" || error.code === "ECONNREFUSED")) resolve(undefined);
      else reject(error);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data) as ActionResult);
      } catch {
        reject(new Error(`the agent on ${path} sent no result`));
      }
    });
  });
}
