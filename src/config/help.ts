import type { SettingSpec } from "./settings.js";

/**
 * `--help`: how to run the exporter and every setting with its default and the first sentence of
 * its description, from the same table the loader and the README reference read.
 */
export function helpText(settings: readonly SettingSpec[], version: string): string {
  return [
    `gitlab-ci-k8s-exporter ${version}: Prometheus exporter for GitLab CI on Kubernetes.`,
    "",
    "Usage: gitlab-ci-k8s-exporter [--config FILE]",
    "       gitlab-ci-k8s-exporter --help | --version",
    "",
    "Settings are environment variables, or keys of the YAML file given by --config FILE (or",
    "CONFIG_FILE); the environment wins. Required: GITLAB_URL, GITLAB_TOKEN (or GITLAB_TOKEN_FILE),",
    "and GITLAB_PROJECTS or GITLAB_GROUPS. A bad setting stops the exporter with one line naming it",
    "(exit code 2). The README's configuration reference tells each setting in full.",
    "",
    "Options:",
    "  --config FILE   read settings from a YAML file",
    "  -h, --help      print this help and exit",
    "  -V, --version   print the version and exit",
    "",
    "Settings (NAME=default):",
    ...settings.flatMap((spec) => [`  ${heading(spec)}`, `      ${summary(spec.description)}`]),
    "",
  ].join("\n");
}

/** `NAME=default`, and the values an enumeration takes. */
function heading(spec: SettingSpec): string {
  const named = spec.default === undefined ? spec.name : `${spec.name}=${spec.default}`;
  return spec.values ? `${named} (${spec.values.join(" | ")})` : named;
}

/** The description's first sentence, as plain text. */
export function summary(description: string): string {
  // A sentence ends at a full stop before a capital letter, a code span or the end, not in "e.g.".
  const first = /^.*?(?<!\b(?:e\.g|i\.e|etc))\.(?=\s+[A-Z`]|\s*$)/s.exec(description)?.[0] ?? description;
  return first.replace(/`/g, "").replace(/\s+/g, " ").trim();
}
