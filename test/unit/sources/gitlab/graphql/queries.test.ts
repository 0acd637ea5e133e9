import { getOperationAST, getVariableValues, Kind, parse, validate, type FragmentDefinitionNode } from "graphql";
import { describe, expect, it } from "vitest";
import { gitlabSchema } from "../../../../../src/simulator/gitlab/graphql-endpoint.js";
import { maxComplexity, maxDepth, MAX_QUERY_SIZE, queryComplexity, queryDepth } from "../../../../../src/simulator/gitlab/graphql-limits.js";
import { MAX_QUERY_CHARACTERS } from "../../../../../src/sources/gitlab/graphql/client.js";
import {
  GROUP_PAGE_SIZE,
  GROUP_SWEEP_QUERY,
  INSTANCE_JOBS_QUERY,
  INSTANCE_PROBE_QUERY,
  PATHS_PER_REQUEST,
  PROJECTS_SWEEP_QUERY,
} from "../../../../../src/sources/gitlab/graphql/queries.js";

/** Every query the exporter sends, with the variables it sends them with (the largest page sizes). */
const QUERIES = [
  { name: "GROUP_SWEEP_QUERY", query: GROUP_SWEEP_QUERY, variables: { group: "acme", first: GROUP_PAGE_SIZE, after: "cursor", since: "2026-06-01T09:00:00Z" } },
  {
    name: "PROJECTS_SWEEP_QUERY",
    query: PROJECTS_SWEEP_QUERY,
    variables: { ids: Array.from({ length: PATHS_PER_REQUEST }, (_, i) => `gid://gitlab/Project/${i + 1}`), since: "2026-06-01T09:00:00Z" },
  },
  { name: "INSTANCE_JOBS_QUERY", query: INSTANCE_JOBS_QUERY, variables: { after: "cursor" } },
  { name: "INSTANCE_PROBE_QUERY", query: INSTANCE_PROBE_QUERY, variables: {} },
] as const;

/** What GitLab's `GraphqlController` and `GitlabSchema` would check, as the simulator checks it. */
function measure(query: string, variables: Record<string, unknown>) {
  const schema = gitlabSchema();
  const document = parse(query);
  const errors = validate(schema, document).map((e) => e.message);
  const operation = getOperationAST(document);
  if (!operation) throw new Error("no single operation");
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) throw new Error(coerced.errors.map((e) => e.message).join("; "));
  return {
    errors,
    characters: query.length,
    complexity: queryComplexity(schema, operation, fragments, coerced.coerced),
    depth: queryDepth(operation, fragments),
  };
}

describe("the sweep's GraphQL queries", () => {
  it("are measured against the same limits GitLab and the simulator use", () => {
    expect(MAX_QUERY_CHARACTERS).toBe(MAX_QUERY_SIZE);
    expect([maxComplexity("user"), maxDepth("user")]).toEqual([250, 20]);
  });

  for (const { name, query, variables } of QUERIES) {
    const m = measure(query, variables);
    it(`${name} validates against GitLab's schema and stays within GitLab's limits for a user (${m.characters} chars, complexity ${m.complexity}, depth ${m.depth})`, () => {
      console.log(`${name}: ${m.characters} characters, complexity ${m.complexity}/${maxComplexity("user")}, depth ${m.depth}/${maxDepth("user")}`);
      expect(m.errors).toEqual([]);
      expect(m.characters).toBeLessThanOrEqual(MAX_QUERY_CHARACTERS);
      expect(m.complexity).toBeGreaterThan(0);
      expect(m.complexity).toBeLessThanOrEqual(maxComplexity("user"));
      expect(m.depth).toBeLessThanOrEqual(maxDepth("user"));
    });
  }

  it("would be refused by the schema if a field were misspelt (the validation is real)", () => {
    const broken = GROUP_SWEEP_QUERY.replace("queuedDuration", "queuedDurationSeconds");
    expect(broken).not.toBe(GROUP_SWEEP_QUERY);
    expect(measure(broken, QUERIES[0].variables).errors.join("\n")).toMatch(/queuedDurationSeconds/);
  });

  it("scores the group sweep by its page size: twice the projects cost more", () => {
    const base = measure(GROUP_SWEEP_QUERY, { ...QUERIES[0].variables, first: GROUP_PAGE_SIZE / 2 }).complexity;
    const full = measure(GROUP_SWEEP_QUERY, QUERIES[0].variables).complexity;
    expect(full).toBeGreaterThan(base);
  });
});
