import { afterAll } from "vitest";

/**
 * Any unhandled rejection or uncaught exception fails the run, even one that fires after the
 * test that caused it has passed: it is collected here and reported by the file's last hook.
 *
 * This hook is registered before the test file's own hooks, and vitest runs after-hooks in
 * reverse order, so it runs last. It first lets the event loop turn a few times, so that a
 * rejection left behind by the file's own teardown (a server closed, a pending call failed)
 * lands before the check. Then it hands over to vitest's own catcher (which only acts when no
 * other listener exists), so a rejection that fires later, while the worker still lives, is
 * reported by vitest as an unhandled error and counted by the summary line. One that fires
 * after the worker has exited cannot be seen by anyone.
 */
const SETTLE_MS = 25;
const problems: string[] = [];
const onRejection = (reason: unknown) => problems.push(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`);
const onException = (error: Error) => problems.push(`uncaught exception: ${error.stack ?? String(error)}`);
process.on("unhandledRejection", onRejection);
process.on("uncaughtException", onException);

afterAll(async () => {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  process.off("unhandledRejection", onRejection);
  process.off("uncaughtException", onException);
  if (problems.length > 0) throw new Error(problems.join("\n"));
});
