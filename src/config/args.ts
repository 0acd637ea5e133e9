import { ConfigError } from "./errors.js";

/** What the command line asks for: run (with an optional settings file), or print help or the version. */
export type Command = { readonly kind: "run"; readonly configFile?: string } | { readonly kind: "help" } | { readonly kind: "version" };

const USAGE = "--config FILE, --help (-h) or --version (-V)";

/**
 * Reads the command line. `--help` and `--version` win over everything else, so they answer
 * without a configuration; any other argument than `--config FILE` is refused rather than
 * ignored, as a mistyped option would otherwise go unnoticed.
 */
export function parseArgs(argv: readonly string[]): Command {
  if (argv.some((arg) => arg === "--help" || arg === "-h")) return { kind: "help" };
  if (argv.some((arg) => arg === "--version" || arg === "-V")) return { kind: "version" };
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--config") {
      const path = argv[++i];
      if (!path) throw new ConfigError("--config", undefined, "a path to a YAML file after --config");
      configFile = path;
    } else if (arg.startsWith("--config=")) {
      configFile = arg.slice("--config=".length);
    } else {
      throw ConfigError.told("command line", `unknown argument ${JSON.stringify(arg)}: expected ${USAGE}`);
    }
  }
  return configFile === undefined ? { kind: "run" } : { kind: "run", configFile };
}
