/** A configuration problem, phrased for a single line on stderr. */
export class ConfigError extends Error {
  /** @param shownValue the value as it may be shown; undefined when unset, or set but blank (`blank`). */
  constructor(
    readonly setting: string,
    readonly shownValue: string | undefined,
    readonly expected: string,
    blank = false,
  ) {
    super(
      shownValue !== undefined
        ? `invalid configuration: ${setting}=${shownValue}: expected ${expected}`
        : `invalid configuration: ${setting} is ${blank ? "set but blank" : "not set"}: expected ${expected}`,
    );
    this.name = "ConfigError";
  }

  /** A problem that is not a setting's value, such as an unknown argument: told in its own words after the same prefix. */
  static told(setting: string, problem: string): ConfigError {
    const error = new ConfigError(setting, undefined, problem);
    error.message = `invalid configuration: ${problem}`;
    return error;
  }
}
