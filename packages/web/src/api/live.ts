import { ROUTES } from "@ring3/protocol";
import type { LiveMessage } from "@ring3/protocol";

export const STREAM_PATH = ROUTES.stream.path;
const TYPES = ["alert", "host", "command"] as const satisfies readonly LiveMessage["type"][];

export type LiveState = "connecting" | "live" | "reconnecting";
export type LiveListener = (message: LiveMessage) => void;

/**
 * The console's one Server-Sent Events connection. EventSource retries by itself after a dropped connection;
 * when the server refuses the stream (an expired session answers 401) it gives up, so this reopens it after a
 * pause while anyone still listens.
 */
export class LiveStream {
  private source: EventSource | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<LiveListener>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  state: LiveState = "connecting";

  start(): void {
    if (this.source !== undefined) return;
    const source = new EventSource(STREAM_PATH, { withCredentials: true });
    this.source = source;
    source.onopen = () => this.setState("live");
    source.onerror = () => {
      this.setState("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        this.source = undefined;
        this.retry = setTimeout(() => this.start(), 3000);
      }
    };
    for (const type of TYPES) {
      source.addEventListener(type, (event: MessageEvent<string>) => {
        let message: unknown;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        // The event name is the message's `type`; a payload without it is not one of ours.
        if (typeof message !== "object" || message === null || (message as { type?: unknown }).type !== type) return;
        for (const listener of this.listeners) listener(message as LiveMessage);
      });
    }
  }

  stop(): void {
    clearTimeout(this.retry);
    this.source?.close();
    this.source = undefined;
    this.setState("connecting");
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private setState(state: LiveState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
