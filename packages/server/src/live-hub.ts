import type { LiveMessage } from "@ring3/protocol";

/**
 * Fan-out of `LiveMessage`s to the console's open streams. Publishing never blocks or throws: a listener
 * that fails is dropped, the others still receive.
 */
export class LiveHub {
  private readonly listeners = new Set<(message: LiveMessage) => void>();

  get size(): number {
    return this.listeners.size;
  }

  subscribe(listener: (message: LiveMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(message: LiveMessage): void {
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }
}
