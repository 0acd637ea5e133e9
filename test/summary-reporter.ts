import type { Reporter, SerializedError, TestModule } from "vitest/node";

/**
 * Ends the run with one plain line, `N passed, N failed, N skipped`, after vitest's own summary,
 * so tools that read a test run's last line understand it. An error outside any test counts as
 * a failure: a file whose hooks or collection failed (test/setup.ts reports an unhandled
 * rejection or uncaught exception that way) and every unhandled error vitest caught itself.
 * Whenever vitest exits 1, the line says at least one failed.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError> = []): void {
    let passed = 0;
    let failedTests = 0;
    let skipped = 0;
    let fileErrors = 0;
    for (const module of testModules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failedHere++;
        else skipped++;
      }
      // Errors of the file itself (collection, a file-level hook) and of its describe blocks' hooks.
      let errorsHere = module.errors().length;
      for (const suite of module.children.allSuites()) errorsHere += suite.errors().length;
      // A file reported failed for a reason not attached to a test or an error still fails the run.
      if (module.state() === "failed" && failedHere === 0 && errorsHere === 0) errorsHere = 1;
      failedTests += failedHere;
      fileErrors += errorsHere;
    }
    const outside = fileErrors + unhandledErrors.length;
    // Listed after vitest's default reporter, so this comes after its summary.
    if (outside > 0) {
      process.stdout.write(`\n${outside} error${outside === 1 ? "" : "s"} outside any test (${fileErrors} in files' collection or hooks, ${unhandledErrors.length} unhandled), counted as failed`);
    }
    process.stdout.write(`\n${passed} passed, ${failedTests + outside} failed, ${skipped} skipped\n`);
  }
}
