import { describeError } from "../../lib/errors.js";
import { GitLabRequestError } from "./request-error.js";

/**
 * Log lines for GitLab failures that a newcomer can act on: which GitLab (its host), what was
 * being read (a configured group or project, a watched project, a loop), what the answer means
 * and which setting or permission to check. Only the host, route templates, the status and
 * GitLab's own short error text are shown: never a token, a query or a full URL.
 */

/** What a failed call was reading. */
export type FailureSubject =
  /** A group of `GITLAB_GROUPS`. */
  | { readonly group: string }
  /** A project of `GITLAB_PROJECTS`, as configured (path or id). */
  | { readonly listedProject: string }
  /** A watched project, by path. */
  | { readonly project: string }
  /** A loop that reads many things: "discovery", "sweep". */
  | { readonly task: string };

/** A failure with what it was reading, thrown up to the loop that logs it. */
export class GitLabFailure extends Error {
  constructor(
    readonly subject: FailureSubject,
    readonly error: unknown,
  ) {
    super(describeError(error));
    this.name = "GitLabFailure";
  }
}

export interface FailureLog {
  /** One sentence: what failed where, why, and what to check. */
  readonly msg: string;
  /** The same, structured: `gitlab` (host), `status`, `endpoint`, the subject, and the error as GitLab or the network told it. */
  readonly fields: Readonly<Record<string, string | number | undefined>>;
}

/** The log line for `error`; a `GitLabFailure` brings its own subject, else `subject` is used. */
export function failureLog(error: unknown, subject: FailureSubject): FailureLog {
  if (error instanceof GitLabFailure) return failureLog(error.error, error.subject);
  const request = error instanceof GitLabRequestError ? error : undefined;
  const fields = { ...subjectFields(subject), gitlab: request?.host, status: request?.status, endpoint: request?.endpoint, err: describeError(error) };
  const where = request?.host ? `GitLab at ${request.host}` : "GitLab";
  const about = phrase(subject);
  if (!request) return { msg: `GitLab failed ${about}: ${describeError(error)}`, fields };
  return { msg: `${where} ${explain(request, subject, about)}`, fields };
}

function subjectFields(subject: FailureSubject): Record<string, string> {
  if ("group" in subject) return { group: subject.group };
  if ("listedProject" in subject) return { project: subject.listedProject };
  if ("project" in subject) return { project: subject.project };
  return { task: subject.task };
}

/** `group "acme"`, `project acme/api`, `the discovery`. */
function noun(subject: FailureSubject): string {
  if ("group" in subject) return `group ${JSON.stringify(subject.group)}`;
  if ("listedProject" in subject) return `project ${JSON.stringify(subject.listedProject)}`;
  if ("project" in subject) return `project ${subject.project}`;
  return `the ${subject.task}`;
}

/** `reading group "acme"`, `during the discovery`. */
function phrase(subject: FailureSubject): string {
  return "task" in subject ? `during ${noun(subject)}` : `reading ${noun(subject)}`;
}

/** What GitLab's answer (or its absence) means, and what to check; after "GitLab at <host>". */
function explain(error: GitLabRequestError, subject: FailureSubject, about: string): string {
  const { status } = error;
  if (error.kind === "timeout") return `sent no complete answer in time ${about}: GitLab is slow or overloaded, or a proxy holds the request; raise GITLAB_REQUEST_TIMEOUT_SECONDS if it is only slow`;
  if (error.kind === "network") return `could not be reached ${about} (${error.networkCode ?? "network error"}): ${networkHint(error.networkCode)}`;
  if (status === 401) return `refused the token (401) ${about}: GITLAB_TOKEN (or GITLAB_TOKEN_FILE) is wrong, expired or revoked; give it a valid token with the read_api scope`;
  if (status === 403 && /insufficient_scope/.test(error.message)) return `refused the token (403, insufficient_scope) ${about}: the token lacks the read_api scope; create one with read_api`;
  if (status === 404 && !("task" in subject)) return `has no ${noun(subject)} this token can see (404): ${accessHint(subject, status)}`;
  if (status === 403 && !("task" in subject)) return `refused the token access to ${noun(subject)} (403): ${accessHint(subject, status)}`;
  if (status === 429) return `kept answering 429 (rate limited) ${about}, though the exporter waited as asked: other clients spend the same user's quota; give the exporter a user of its own, or lower GITLAB_MAX_REQUESTS_PER_SECOND`;
  if (status !== undefined && status >= 500) return `answered ${status} ${about}: GitLab, or a proxy in front of it, is failing (${error.message})`;
  if (/expected JSON/.test(error.message)) return `did not answer as GitLab's API ${about} (${error.message}): GITLAB_URL may point at a login portal, a proxy or another site; set it to GitLab's own address`;
  return `failed ${about}: ${error.message}`;
}

function accessHint(subject: FailureSubject, status: 403 | 404): string {
  const member = "the token's user, or the group access token, must be a member with at least the Reporter role";
  if ("group" in subject) {
    return status === 404 ? `check its full path in GITLAB_GROUPS (as in the group's URL, e.g. acme/platform); ${member} (GitLab answers 404 for a group the token cannot see)` : member;
  }
  if ("listedProject" in subject) {
    return status === 404 ? `check the path (group/project, as in the project's URL) or numeric id in GITLAB_PROJECTS; ${member} (GitLab answers 404 for a project the token cannot see)` : member;
  }
  if ("project" in subject) return "the project was deleted or moved, or the token lost access to it";
  return member;
}

function networkHint(code: string | undefined): string {
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the host name in GITLAB_URL does not resolve; check it and the exporter's DNS";
  if (code === "ECONNREFUSED") return "nothing listens there; check the scheme and port in GITLAB_URL and that GitLab is up";
  if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
    return "GitLab's TLS certificate is not trusted; if GitLab uses a private CA, give its certificate to Node.js with NODE_EXTRA_CA_CERTS";
  }
  return "check GITLAB_URL and that the exporter may reach it (proxy, firewall, network policy)";
}
