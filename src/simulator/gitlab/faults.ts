/** Switchable misbehaviour of the simulated GitLab, for reliability tests. */
export type Fault =
  | { readonly kind: "status"; readonly status: 500 | 502 | 503 | 504 }
  | { readonly kind: "rate-limit"; readonly retryAfterSeconds: number }
  | { readonly kind: "reset" }
  | { readonly kind: "hang" }
  | { readonly kind: "malformed-json" }
  | { readonly kind: "truncated-json" }
  | { readonly kind: "html" }
  | { readonly kind: "pagination-loop" };

export interface FaultScope {
  /** How many requests it hits; until cleared when absent. */
  readonly count?: number;
  /** Only requests whose path matches. */
  readonly path?: RegExp;
}

interface Armed {
  readonly fault: Fault;
  remaining: number;
  readonly path: RegExp | undefined;
}

export class GitLabFaults {
  private armed: Armed[] = [];
  private readonly clearListeners: Array<() => void> = [];
  /** Faults served so far, for test output. */
  served = 0;

  status(status: 500 | 502 | 503 | 504, scope: FaultScope = {}): void {
    this.arm({ kind: "status", status }, scope);
  }

  rateLimit(options: { retryAfterSeconds: number } & FaultScope): void {
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

  clear(): void {
    this.armed = [];
    for (const listener of this.clearListeners) listener();
  }

  onClear(listener: () => void): void {
    this.clearListeners.push(listener);
  }

  /** The fault for this request, if one is armed for its path. */
  take(path: string): Fault | undefined {
    const armed = this.armed.find((a) => a.remaining > 0 && (!a.path || a.path.test(path)));
    if (!armed) return undefined;
    armed.remaining--;
    this.served++;
    if (armed.remaining <= 0) this.armed = this.armed.filter((a) => a !== armed);
    return armed.fault;
  }

  private arm(fault: Fault, scope: FaultScope): void {
    this.armed.push({ fault, remaining: scope.count ?? Infinity, path: scope.path });
  }
}
