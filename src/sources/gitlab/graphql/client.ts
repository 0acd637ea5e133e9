import type { z } from "zod";
import type { Secret } from "../../../config/secret.js";
import { GitLabRequestError } from "../request-error.js";
import type { JsonRequest } from "../transport.js";

/** GitLab's `GraphqlController::MAX_QUERY_SIZE`: a longer query is refused with 422. */
export const MAX_QUERY_CHARACTERS = 10_000;

/** Why GitLab refused a query it received: too complex (the page is made smaller), or anything else. */
export type GraphqlRefusal = "complexity" | "query";

/** GitLab answered, but with errors and no data: the query, not the network, is at fault. */
export class GraphqlQueryError extends Error {
  constructor(
    message: string,
    readonly refusal: GraphqlRefusal,
  ) {
    super(message);
    this.name = "GraphqlQueryError";
  }
}

export interface GraphqlAnswer<T> {
  readonly data: T;
  /** Errors GitLab returned next to data (a field it could not resolve); the rest of the data holds. */
  readonly partialErrors: readonly string[];
  readonly receivedAtMs: number;
}

interface GraphqlEnvelope {
  readonly data?: unknown;
  readonly errors?: unknown;
}

/**
 * GitLab's GraphQL API (`POST /api/graphql`) as plain JSON through the transport: the same
 * budget, response-size limit, redirect refusal and `Retry-After` as every REST call. HTTP
 * failures come as `GitLabRequestError` (404 when GraphQL is switched off or blocked by a proxy,
 * 403 when the token may not use it); a query GitLab refuses comes as `GraphqlQueryError`.
 */
export class GitLabGraphql {
  private readonly prefixUrl: string;

  constructor(
    private readonly transport: { postJson(request: JsonRequest): Promise<{ body: unknown }> },
    gitlabUrl: string,
    private readonly token: Secret,
    private readonly now: () => number = Date.now,
  ) {
    this.prefixUrl = `${gitlabUrl.replace(/\/+$/, "")}/api/`;
  }

  async query<T>(document: string, variables: Record<string, unknown>, schema: z.ZodType<T>): Promise<GraphqlAnswer<T>> {
    if (document.length > MAX_QUERY_CHARACTERS) throw new Error(`GraphQL query of ${document.length} characters; GitLab takes at most ${MAX_QUERY_CHARACTERS}`);
    const response = await this.transport.postJson({
      prefixUrl: this.prefixUrl,
      endpoint: "graphql",
      headers: { "PRIVATE-TOKEN": this.token.value() },
      body: { query: document, variables },
    });
    const receivedAtMs = this.now();
    const envelope = (typeof response.body === "object" && response.body !== null ? response.body : {}) as GraphqlEnvelope;
    const errors = errorMessages(envelope.errors);
    if (envelope.data === null || envelope.data === undefined) {
      const message = errors[0] ?? "an answer with neither data nor errors";
      throw new GraphqlQueryError(`POST /graphql: ${message.slice(0, 300)}`, /complexity/i.test(message) ? "complexity" : "query");
    }
    const parsed = schema.safeParse(envelope.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.map(String).join(".")}: ${issue.message}` : "invalid";
      throw new GitLabRequestError(`POST /graphql: unexpected answer shape (${where.slice(0, 200)})`, 200, "protocol", "/graphql");
    }
    return { data: parsed.data, partialErrors: errors, receivedAtMs };
  }
}

function errorMessages(errors: unknown): string[] {
  if (!Array.isArray(errors)) return [];
  return errors.map((error) => {
    const message = typeof error === "object" && error !== null && "message" in error ? (error as { message: unknown }).message : error;
    return typeof message === "string" ? message : JSON.stringify(message ?? null);
  });
}
