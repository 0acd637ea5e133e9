import { getOperationAST, Kind, parse, type FragmentDefinitionNode } from "graphql";
import { describe, expect, it } from "vitest";
import { gitlabSchema } from "../../../../src/simulator/gitlab/graphql-endpoint.js";
import { maxComplexity, maxDepth, queryComplexity, queryDepth } from "../../../../src/simulator/gitlab/graphql-limits.js";

function measure(query: string, variables: Record<string, unknown> = {}) {
  const document = parse(query);
  const operation = getOperationAST(document)!;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return { complexity: queryComplexity(gitlabSchema(), operation, fragments, variables), depth: queryDepth(operation, fragments) };
}

const fleet = `{ group(fullPath: "acme") { projects(includeSubgroups: true, first: 100) { nodes { fullPath
  pipelines(first: 100) { nodes { id jobs(first: 100) { nodes { id status } } } } } } } }`;

describe("GitLab's query complexity", () => {
  it("multiplies only resolver-backed connections: 100 projects × 100 pipelines × 100 jobs stays far below 250", () => {
    // jobs (3 + 1) × 2 = 8; pipelines (10 + 1 + 1) × 2 = 24; projects (26 + 1 + 10) × 2 = 74; group 75.
    expect(measure(fleet)).toEqual({ complexity: 75, depth: 8 });
  });

  it("scales with first, read from variables too, and charges sha and ref on pipelines", () => {
    const small = measure(`query($n: Int) { project(fullPath: "a/b") { pipelines(first: $n) { nodes { id } } } }`, { n: 10 });
    // pipelines: (2 + 1 + 1) × 1.1 = 4.4 → 4; project 5.
    expect(small.complexity).toBe(5);
    const filtered = measure(`{ project(fullPath: "a/b") { pipelines(first: 10, sha: "abc", ref: "main") { nodes { id } } } }`);
    expect(filtered.complexity).toBe(Math.floor((2 + 1 + 1 + 4) * 1.1) + 1);
  });

  it("counts fields inside fragments and leaves __typename free", () => {
    const plain = measure(`{ jobs { nodes { id project { id } } } }`);
    const fragments = measure(`{ jobs { nodes { __typename ...J } } } fragment J on CiJobInterface { id project { ... on Project { id } } }`);
    expect(fragments).toEqual(plain);
  });

  it("has GitLab's limits per viewer", () => {
    expect([maxComplexity("anonymous"), maxComplexity("user"), maxComplexity("admin")]).toEqual([200, 250, 300]);
    expect([maxDepth("anonymous"), maxDepth("user"), maxDepth("admin")]).toEqual([15, 20, 20]);
  });
});
