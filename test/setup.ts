import { afterAll } from "vitest";

/**
 * Any unhandled rejection or uncaught exception fails the run, even one that fires after the
 * test that caused it has passed.
 */
const problems: string[] = [];
process.on("unhandledRejection", (reason) => problems.push(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`));
process.on("uncaughtException", (error) => problems.push(`uncaught exception: ${error.stack ?? String(error)}`));

afterAll(() => {
  if (problems.length > 0) throw new Error(problems.join("\n"));
});
