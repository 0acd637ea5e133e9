import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabWorld, ManualClock, startGitLabSimulator, type GitLabSimulator, type SimPipeline } from "../../../../src/simulator/gitlab/index.js";

const TOKEN = "glpat-children";
let world: GitLabWorld;
let sim: GitLabSimulator;
let projectId: number;
let parent: SimPipeline;
let child: SimPipeline;

beforeAll(async () => {
  const clock = new ManualClock(Date.UTC(2026, 3, 1, 9, 0, 0));
  world = new GitLabWorld({ now: clock.now });
  projectId = world.addProject("acme/mono").id;
  parent = world.createPipeline(projectId, { ref: "feature" });
  world.createJob(projectId, { name: "trigger-prep", pipelineId: parent.id, status: "pending" });
  clock.advance(1000);
  child = world.createChildPipeline(parent.id);
  world.createJob(projectId, { name: "child-build", pipelineId: child.id, status: "pending" });
  sim = await startGitLabSimulator({ world, token: TOKEN });
});

afterAll(async () => {
  await sim.close();
});

async function list(query: string): Promise<Array<Record<string, unknown>>> {
  const response = await fetch(`${sim.url}/api/v4/projects/${projectId}/pipelines${query}`, { headers: { "private-token": TOKEN } });
  expect(response.status).toBe(200);
  return (await response.json()) as Array<Record<string, unknown>>;
}

describe("child pipelines", () => {
  it("share the parent's project, ref and commit and come from parent_pipeline", () => {
    expect(child).toMatchObject({ projectId, ref: "feature", sha: parent.sha, source: "parent_pipeline", parentPipelineId: parent.id });
    expect(world.downstreamPipelines(parent.id).map((p) => p.id)).toEqual([child.id]);
  });

  it("are left out of GET /projects/:id/pipelines, even with updated_after", async () => {
    expect((await list("")).map((p) => p.id)).toEqual([parent.id]);
    expect((await list("?updated_after=2026-04-01T00:00:00Z")).map((p) => p.id)).toEqual([parent.id]);
  });

  it("are listed with source=parent_pipeline", async () => {
    expect(await list("?source=parent_pipeline")).toMatchObject([{ id: child.id, source: "parent_pipeline", ref: "feature" }]);
  });

  it("still show their jobs in the project's job list", async () => {
    const response = await fetch(`${sim.url}/api/v4/projects/${projectId}/jobs?scope[]=pending`, { headers: { "private-token": TOKEN } });
    const jobs = (await response.json()) as Array<{ name: string; pipeline: { id: number } }>;
    expect(jobs.map((j) => [j.name, j.pipeline.id])).toEqual([
      ["child-build", child.id],
      ["trigger-prep", parent.id],
    ]);
  });
});
