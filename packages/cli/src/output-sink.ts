import { once } from "node:events";
import type { Writable } from "node:stream";

/**
 * Writes with backpressure. A reader that goes away (`ring3 hunt … | head`) ends the output quietly, as with
 * other Unix tools, instead of an uncaught EPIPE; any other write error is thrown.
 */
export class OutputSink {
  private readonly stream: Writable;
  private isClosed = false;
  private failure: Error | undefined;

  constructor(stream: Writable) {
    this.stream = stream;
    stream.on("error", (error: NodeJS.ErrnoException) => {
      this.isClosed = true;
      if (error.code !== "EPIPE") this.failure = error;
    });
  }

  /** The reader went away; further writes are dropped. */
  get closed(): boolean {
    return this.isClosed;
  }

  async write(text: string): Promise<void> {
    if (this.isClosed) return;
    if (!this.stream.write(text)) {
      try {
        await once(this.stream, "drain");
      } catch {
        // Recorded by the error listener.
      }
    }
    if (this.failure !== undefined) throw this.failure;
  }
}
