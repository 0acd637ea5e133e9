import { readFileSync, statSync } from "node:fs";

/**
 * A secret given inline or as a file. File secrets are re-read when the file's modification
 * time changes, because Kubernetes rotates mounted Secrets in place (through a symlink swap)
 * and a restart should not be needed to pick up a new token.
 */
export interface Secret {
  /** Current value; never logged. */
  value(): string;
  /** Where it came from, safe to log. */
  readonly origin: string;
}

export function inlineSecret(setting: string, value: string): Secret {
  return { value: () => value, origin: setting };
}

export function fileSecret(setting: string, path: string): Secret {
  // The time before the content: a change in between is then read again on the next call rather
  // than hidden behind the new time.
  let cachedMtime = mtimeOf(path);
  let cached = readTrimmed(path);
  return {
    origin: `${setting}=${path}`,
    value() {
      const mtime = mtimeOf(path);
      if (mtime !== null && mtime !== cachedMtime) {
        const fresh = readTrimmed(path);
        // A rotation can briefly expose an empty file; keep the last good value meanwhile.
        if (fresh !== "") {
          cached = fresh;
          cachedMtime = mtime;
        }
      }
      return cached;
    },
  };
}

function readTrimmed(path: string): string {
  return readFileSync(path, "utf8").trim();
}

function mtimeOf(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}
