import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { SecureContext } from "node:tls";

/** Where the simulated agents connect: TLS with the server's CA pinned (one context for all), or plain HTTP. */
export type ServerAddress = { readonly host: string; readonly port: number; readonly tls: SecureContext | undefined };

export type RawResponse = { readonly status: number; readonly text: string; readonly headers: Record<string, string> };

/**
 * One simulated agent's HTTP/1.1 client for `bench:fleet`: requests written by hand on kept-alive sockets,
 * at most one kept idle and a second opened while the first is busy — the agent link's pattern (a heartbeat
 * never waits behind a batch). The server reads the same bytes as from `node:https`; the client side costs
 * far less. That matters here because the simulated fleet runs on the server's own two cores: with
 * `node:https` clients (ClientRequest, the Agent's socket pool, header objects, a SecureContext per TLS
 * connection given `ca`), 5,000 agents took 63% of a core and their enrollment 25 s; with this client, 37%
 * and 14.5 s.
 *
 * Only what the server sends is understood: a response with `content-length` (fastify sets it on every
 * JSON reply), never chunked, one response per request.
 */
export class KeepAliveClient {
  private readonly server: ServerAddress;
  private idle: Connection | undefined;
  private readonly open = new Set<Connection>();

  constructor(server: ServerAddress) {
    this.server = server;
  }

  async request(
    method: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body: Buffer,
    timeoutMs: number,
  ): Promise<RawResponse> {
    let connection = this.idle;
    this.idle = undefined;
    if (connection === undefined) {
      connection = new Connection(this.server, (closed) => {
        this.open.delete(closed);
        if (this.idle === closed) this.idle = undefined;
      });
      this.open.add(connection);
    }
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.server.host}:${this.server.port}\r\ncontent-length: ${body.length}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    try {
      const response = await connection.exchange(
        Buffer.concat([Buffer.from(`${head}\r\n`, "latin1"), body]),
        timeoutMs,
      );
      if (connection.reusable && this.idle === undefined) this.idle = connection;
      else connection.destroy();
      return response;
    } catch (error) {
      connection.destroy();
      throw error;
    }
  }

  destroy(): void {
    for (const connection of this.open) connection.destroy();
  }
}

type Pending = {
  readonly resolve: (response: RawResponse) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
};

/** One socket carrying one request at a time. */
class Connection {
  private readonly socket: Socket;
  private received: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  /** False once the server said `connection: close` or the socket ended. */
  reusable = true;

  constructor(server: ServerAddress, onClose: (connection: Connection) => void) {
    this.socket =
      server.tls === undefined
        ? netConnect(server.port, server.host)
        : tlsConnect({ host: server.host, port: server.port, secureContext: server.tls });
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (error) => this.fail(error));
    this.socket.on("close", () => {
      this.reusable = false;
      this.fail(new Error("the server closed the connection"));
      onClose(this);
    });
  }

  exchange(request: Buffer, timeoutMs: number): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error("timeout")), timeoutMs);
      this.pending = { resolve, reject, timer };
      this.socket.write(request);
    });
  }

  destroy(): void {
    this.reusable = false;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const headEnd = this.received.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const lines = this.received.toString("latin1", 0, headEnd).split("\r\n");
    // "HTTP/1.1 200 OK"
    const status = Number(lines[0]?.slice(9, 12));
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (headers["transfer-encoding"] !== undefined || headers["content-length"] === undefined) {
      this.fail(new Error(`a response without content-length (status ${status})`));
      return;
    }
    const start = headEnd + 4;
    const end = start + Number(headers["content-length"]);
    if (this.received.length < end) return;
    if (this.received.length > end) {
      this.fail(new Error("bytes after the response"));
      return;
    }
    const text = this.received.toString("utf8", start, end);
    this.received = Buffer.alloc(0);
    if (headers.connection?.toLowerCase() === "close") this.reusable = false;
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) {
      this.fail(new Error("a response to no request"));
      return;
    }
    clearTimeout(pending.timer);
    pending.resolve({ status, text, headers });
  }

  private fail(error: Error): void {
    this.reusable = false;
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.socket.destroy();
  }
}
