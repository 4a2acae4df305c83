/**
 * A small typed event bus: port up/down, MAC learned/moved, cable up/down… Listeners run
 * synchronously; a throwing listener is isolated so it cannot break the frame path.
 */

export interface WeftEvent {
  type: string;
  [key: string]: unknown;
}

export type Listener = (event: WeftEvent) => void;

export class EventBus {
  #listeners = new Set<Listener>();

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether anyone listens: emitters on hot paths skip building events nobody reads. */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  emit(event: WeftEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A listener's bug must not stop the emitter (often the frame path); it is the
        // listener's own job to report its errors.
      }
    }
  }
}
