import { ConfigError } from "../../src/config/errors.js";

/** The smallest environment the loader accepts. */
export const BASE_ENV = { GITLAB_URL: "https://gitlab.example.com", GITLAB_TOKEN: "glpat-secret-value", GITLAB_PROJECTS: "acme/api" };

/** The ConfigError `fn` throws; fails the test when it throws none, or something else. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}
