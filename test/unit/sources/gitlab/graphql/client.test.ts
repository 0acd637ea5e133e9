import { z } from "zod";
import { describe, expect, it } from "vitest";
import { inlineSecret } from "../../../../../src/config/secret.js";
import { GitLabGraphql, GraphqlQueryError, MAX_QUERY_CHARACTERS } from "../../../../../src/sources/gitlab/graphql/client.js";
import { GitLabRequestError } from "../../../../../src/sources/gitlab/request-error.js";
import type { JsonRequest } from "../../../../../src/sources/gitlab/transport.js";

/** A transport that answers every POST with the next body given, and writes down each request. */
class FakeTransport {
  readonly sent: JsonRequest[] = [];
  constructor(private readonly bodies: unknown[]) {}

  async postJson(request: JsonRequest): Promise<{ body: unknown }> {
    this.sent.push(request);
    if (this.bodies.length === 0) throw new Error("no answer left");
    return { body: this.bodies.shift() };
  }
}

const schema = z.object({ project: z.object({ id: z.string() }).nullable() });
const QUERY = "query P($path: ID!) { project(fullPath: $path) { id } }";

function client(...bodies: unknown[]) {
  const transport = new FakeTransport(bodies);
  const graphql = new GitLabGraphql(transport, "https://gitlab.example.com//", inlineSecret("GITLAB_TOKEN", "glpat-secret"), () => 1234);
  return { transport, graphql };
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a refusal");
}

describe("GitLabGraphql", () => {
  it("posts the query and its variables to /api/graphql with the token, and returns the data parsed", async () => {
    const { transport, graphql } = client({ data: { project: { id: "gid://gitlab/Project/7", extra: true } } });
    const answer = await graphql.query(QUERY, { path: "acme/api" }, schema);
    expect(answer).toEqual({ data: { project: { id: "gid://gitlab/Project/7" } }, partialErrors: [], receivedAtMs: 1234 });
    expect(transport.sent).toEqual([
      { prefixUrl: "https://gitlab.example.com/api/", endpoint: "graphql", headers: { "PRIVATE-TOKEN": "glpat-secret" }, body: { query: QUERY, variables: { path: "acme/api" } } },
    ]);
  });

  it("keeps the data GitLab returned beside errors, with the errors' messages", async () => {
    const { graphql } = client({ data: { project: null }, errors: [{ message: "Internal server error", path: ["project"] }, { message: { nested: 1 } }, "bare"] });
    const answer = await graphql.query(QUERY, { path: "acme/api" }, schema);
    expect(answer.data).toEqual({ project: null });
    expect(answer.partialErrors).toEqual(["Internal server error", '{"nested":1}', "bare"]);
  });

  it("refuses errors without data as a query error: 'complexity' for GitLab's complexity message, 'query' otherwise", async () => {
    const complexity = await refusal(client({ errors: [{ message: "Query has complexity of 300, which exceeds max complexity of 250" }] }).graphql.query(QUERY, {}, schema));
    expect(complexity).toBeInstanceOf(GraphqlQueryError);
    expect(complexity).toMatchObject({ refusal: "complexity", message: expect.stringContaining("complexity of 300") });

    const unknownField = await refusal(client({ data: null, errors: [{ message: "Field 'jobs' doesn't exist on type 'Query'" }] }).graphql.query(QUERY, {}, schema));
    expect(unknownField).toBeInstanceOf(GraphqlQueryError);
    expect(unknownField).toMatchObject({ refusal: "query", message: expect.stringContaining("doesn't exist") });

    const depth = await refusal(client({ errors: [{ message: "Query has depth of 21, which exceeds max depth of 20" }] }).graphql.query(QUERY, {}, schema));
    expect(depth).toMatchObject({ refusal: "query" });

    const empty = await refusal(client({}).graphql.query(QUERY, {}, schema));
    expect(empty).toMatchObject({ name: "GraphqlQueryError", refusal: "query", message: expect.stringContaining("neither data nor errors") });
    const notAnObject = await refusal(client("<html>portal</html>").graphql.query(QUERY, {}, schema));
    expect(notAnObject).toBeInstanceOf(GraphqlQueryError);
  });

  it("cuts a long error message short", async () => {
    const error = await refusal(client({ errors: [{ message: "x".repeat(5_000) }] }).graphql.query(QUERY, {}, schema));
    expect((error as Error).message.length).toBeLessThan(400);
  });

  it("refuses data of an unexpected shape as a protocol error naming where it differs", async () => {
    const error = await refusal(client({ data: { project: { id: 7 } } }).graphql.query(QUERY, {}, schema));
    expect(error).toBeInstanceOf(GitLabRequestError);
    expect(error).toMatchObject({ kind: "protocol", status: 200, endpoint: "/graphql", message: expect.stringContaining("project.id") });
  });

  it("refuses a query over GitLab's 10,000 characters before sending it", async () => {
    const { transport, graphql } = client({ data: { project: null } });
    const long = `${QUERY}${" ".repeat(MAX_QUERY_CHARACTERS - QUERY.length + 1)}`;
    await expect(graphql.query(long, {}, schema)).rejects.toThrow(/10000/);
    expect(transport.sent).toEqual([]);
    // Exactly at the limit it goes.
    await graphql.query(long.slice(0, MAX_QUERY_CHARACTERS), {}, schema);
    expect(transport.sent).toHaveLength(1);
  });

  it("lets a transport failure through as it is", async () => {
    const failing = { postJson: async () => Promise.reject(new GitLabRequestError("POST /graphql: HTTP 404", 404, "http", "/graphql")) };
    const graphql = new GitLabGraphql(failing, "https://gitlab.example.com", inlineSecret("GITLAB_TOKEN", "t"));
    await expect(graphql.query(QUERY, {}, schema)).rejects.toMatchObject({ status: 404, kind: "http" });
  });
});
