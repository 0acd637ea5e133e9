/** Why a GitLab request failed, in terms the poller can act on. */
export class GitLabRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status, or undefined when no usable response arrived. */
    readonly status: number | undefined,
    readonly kind: "http" | "timeout" | "network" | "protocol",
    readonly endpoint: string,
  ) {
    super(message);
    this.name = "GitLabRequestError";
  }
}
