import { describe, expect, it } from "vitest";
import { parseArgs } from "../../../src/config/args.js";
import { configErrorOf } from "../../helpers/config.js";

describe("the command line", () => {
  it("runs with no arguments, or with a settings file", () => {
    expect(parseArgs([])).toEqual({ kind: "run" });
    expect(parseArgs(["--config", "a.yaml"])).toEqual({ kind: "run", configFile: "a.yaml" });
    expect(parseArgs(["--config=b.yaml"])).toEqual({ kind: "run", configFile: "b.yaml" });
  });

  it.each([["--help"], ["-h"], ["--config", "a.yaml", "--help"], ["--bogus", "-h"]])("asks for help with %s, whatever else is given", (...argv) => {
    expect(parseArgs(argv)).toEqual({ kind: "help" });
  });

  it.each([["--version"], ["-V"], ["--config", "a.yaml", "-V"]])("asks for the version with %s", (...argv) => {
    expect(parseArgs(argv)).toEqual({ kind: "version" });
  });

  it("refuses an unknown argument in one line naming it, rather than ignoring it", () => {
    const error = configErrorOf(() => parseArgs(["--confg", "a.yaml"]));
    expect(error.setting).toBe("command line");
    expect(error.message).toBe('invalid configuration: unknown argument "--confg": expected --config FILE, --help (-h) or --version (-V)');
  });

  it("wants a path after --config", () => {
    expect(configErrorOf(() => parseArgs(["--config"])).setting).toBe("--config");
  });
});
