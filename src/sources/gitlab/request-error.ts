/** Why a GitLab request failed, in terms the poller can act on. */
export class GitLabRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status, or undefined when no usable response arrived. */
    readonly status: number | undefined,
    readonly kind: "http" | "timeout" | "network" | "protocol",
    readonly endpoint: string,
    /** `host[:port]` the request went to, for the log; never a path, query or credentials. */
    readonly host?: string,
    /** The system's or TLS's code when no answer came (`ECONNREFUSED`, `CERT_HAS_EXPIRED`). */
    readonly networkCode?: string,
  ) {
    super(message);
    this.name = "GitLabRequestError";
  }
}
