import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { shardBudget } from "../../src/generation.js";
import { BASE_ENV } from "../helpers/config.js";

describe("a shard's request budget", () => {
  const gitlab = loadConfig({ ...BASE_ENV, GITLAB_MAX_REQUESTS_PER_SECOND: "12", GITLAB_IDLE_REQUESTS_PER_SECOND: "3" }).gitlab;

  it("is the token's budget divided among the shards that share the token", () => {
    expect(shardBudget(gitlab, 1, false)).toBe(gitlab);
    expect(shardBudget(gitlab, 3, false)).toMatchObject({ maxRequestsPerSecond: 4, idleRequestsPerSecond: 1 });
  });

  it("is the whole budget for a shard with its own token, its round-robin still the fleet's pace", () => {
    expect(shardBudget(gitlab, 3, true)).toMatchObject({ maxRequestsPerSecond: 12, idleRequestsPerSecond: 1 });
  });
});
