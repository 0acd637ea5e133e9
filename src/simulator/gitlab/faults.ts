/** Switchable misbehaviour of the simulated GitLab, for reliability tests. */
export type Fault =
  /** 500 as Grape renders it, 502 as Workhorse does, 503/504 as the HTML error pages in front of Rails. */
  | { readonly kind: "status"; readonly status: 500 | 502 | 503 | 504 }
  /** 429 with the given Retry-After, whatever the quota says. */
  | { readonly kind: "rate-limit"; readonly retryAfterSeconds: number }
  /** The socket is destroyed before any byte of an answer. */
  | { readonly kind: "reset" }
  /** No answer at all, until the faults are cleared or the client goes away. */
  | { readonly kind: "hang" }
  /** A 200 JSON answer that is not JSON. */
  | { readonly kind: "malformed-json" }
  /** A 200 JSON answer cut short: Content-Length promises more than is sent, then the socket closes. */
  | { readonly kind: "truncated-json" }
  /** A 200 HTML sign-in page, as an SSO proxy in front of GitLab answers. */
  | { readonly kind: "html" }
  /** A list answer whose `next` link points back at the same page (only taken by paginated routes). */
  | { readonly kind: "pagination-loop" }
  /** The normal answer, late. */
  | { readonly kind: "delay"; readonly ms: number };

export type FaultKind = Fault["kind"];

export interface FaultScope {
  /** How many requests it hits; until cleared when absent. */
  readonly count?: number;
  /** Only requests whose URL path (without the query) matches. */
  readonly path?: RegExp;
}

export interface ArmedFault {
  readonly fault: Fault;
  readonly remaining: number;
  readonly path: RegExp | undefined;
}

interface Armed {
  readonly fault: Fault;
  remaining: number;
  readonly path: RegExp | undefined;
}

/**
 * Faults are armed in order and the first one that applies to a request is served. Each is
 * armed for the next `count` requests (matching `path`, if given) or until `clear()`.
 */
export class GitLabFaults {
  private armed: Armed[] = [];
  private readonly clearListeners = new Set<() => void>();
  /** How many faults were served so far. */
  served = 0;

  status(status: 500 | 502 | 503 | 504, scope: FaultScope = {}): void {
    this.arm({ kind: "status", status }, scope);
  }

  rateLimit(options: { readonly retryAfterSeconds: number } & FaultScope): void {
    this.arm({ kind: "rate-limit", retryAfterSeconds: options.retryAfterSeconds }, options);
  }

  resetConnection(scope: FaultScope = {}): void {
    this.arm({ kind: "reset" }, scope);
  }

  hang(scope: FaultScope = {}): void {
    this.arm({ kind: "hang" }, scope);
  }

  malformedJson(scope: FaultScope = {}): void {
    this.arm({ kind: "malformed-json" }, scope);
  }

  truncatedJson(scope: FaultScope = {}): void {
    this.arm({ kind: "truncated-json" }, scope);
  }

  htmlErrorPage(scope: FaultScope = {}): void {
    this.arm({ kind: "html" }, scope);
  }

  paginationLoop(scope: FaultScope = {}): void {
    this.arm({ kind: "pagination-loop" }, scope);
  }

  delay(ms: number, scope: FaultScope = {}): void {
    this.arm({ kind: "delay", ms }, scope);
  }

  /** Disarms everything and releases hanging requests (their sockets are closed). */
  clear(): void {
    this.armed = [];
    for (const listener of this.clearListeners) listener();
  }

  /** What is armed now, for test output. */
  active(): readonly ArmedFault[] {
    return this.armed.map((a) => ({ ...a }));
  }

  /** @internal The server's hook to release hanging requests. */
  onClear(listener: () => void): () => void {
    this.clearListeners.add(listener);
    return () => this.clearListeners.delete(listener);
  }

  /**
   * @internal The fault to serve for this request, if one applies, counting it down. A
   * pagination loop only applies to list routes, so it is not wasted on a single-object request.
   */
  take(path: string, paginated: boolean): Fault | undefined {
    const armed = this.armed.find((a) => a.remaining > 0 && (paginated || a.fault.kind !== "pagination-loop") && matches(a.path, path));
    if (!armed) return undefined;
    armed.remaining--;
    this.served++;
    if (armed.remaining <= 0) this.armed = this.armed.filter((a) => a !== armed);
    return armed.fault;
  }

  private arm(fault: Fault, scope: FaultScope): void {
    const count = scope.count ?? Infinity;
    if (!(count > 0)) throw new Error(`a fault needs a positive count, got ${count}`);
    this.armed.push({ fault, remaining: count, path: scope.path });
  }
}

function matches(pattern: RegExp | undefined, path: string): boolean {
  if (!pattern) return true;
  // A /g or /y pattern keeps state between calls; start each test from the beginning.
  pattern.lastIndex = 0;
  return pattern.test(path);
}
