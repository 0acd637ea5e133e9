/**
 * Every setting the exporter reads, declared once. The loader, the README's configuration
 * reference and the deploy manifests' tests all read this table, so a setting cannot exist in
 * one place and be missing in another.
 */
export type SettingKind =
  | "url"
  | "string"
  | "secret"
  | "file"
  | "list"
  | "number"
  | "integer"
  | "boolean"
  | "listen"
  | "enum";

export interface SettingSpec {
  readonly name: string;
  readonly kind: SettingKind;
  readonly description: string;
  /** Default as the user would write it; absent when the setting has no default. */
  readonly default?: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

export const DEFAULT_PORT = 9863;

export const SETTINGS = [
  { name: "CONFIG_FILE", kind: "file", description: "Optional YAML file holding any of these settings under the same names; environment variables override it. Also `--config PATH`." },
  { name: "GITLAB_URL", kind: "url", description: "Base URL of the GitLab instance, e.g. `https://gitlab.example.com` (without `/api/v4`)." },
  { name: "GITLAB_TOKEN", kind: "secret", description: "Access token with the `read_api` scope. Exactly one of `GITLAB_TOKEN` and `GITLAB_TOKEN_FILE` is required." },
  { name: "GITLAB_TOKEN_FILE", kind: "file", description: "File holding the token (e.g. a mounted Kubernetes Secret). Re-read when it changes, so a rotated token is used without a restart." },
  { name: "GITLAB_PROJECTS", kind: "list", description: "Comma-separated project paths (`group/project`) or numeric ids to watch." },
  { name: "GITLAB_GROUPS", kind: "list", description: "Comma-separated group paths whose projects are watched, subgroups included. At least one of `GITLAB_PROJECTS` and `GITLAB_GROUPS` is required." },
  { name: "GITLAB_POLL_INTERVAL_SECONDS", kind: "number", default: "30", min: 0.1, max: 3600, description: "How often projects with live jobs (hot projects) are polled." },
  { name: "GITLAB_DISCOVERY_INTERVAL_SECONDS", kind: "number", default: "300", min: 1, max: 86400, description: "How often the groups' project lists are refreshed." },
  { name: "GITLAB_MAX_REQUESTS_PER_SECOND", kind: "number", default: "5", min: 0.01, max: 1000, description: "Hard cap on GitLab API requests per second, all endpoints together (GitLab allows 600/min per user on project jobs)." },
  { name: "GITLAB_IDLE_REQUESTS_PER_SECOND", kind: "number", default: "0.5", min: 0.001, max: 1000, description: "Round-robin visits a second, over every watched project, hot or idle: each asks which pipelines changed, one request when none did. Without webhooks a job that turns pending is seen within `watched projects / this` seconds." },
  { name: "GITLAB_MAX_CONCURRENT_REQUESTS", kind: "integer", default: "4", min: 1, max: 64, description: "Requests in flight at once." },
  { name: "GITLAB_REQUEST_TIMEOUT_SECONDS", kind: "number", default: "30", min: 0.1, max: 600, description: "Time limit for one API request, including reading the body." },
  { name: "GITLAB_MAX_RESPONSE_BYTES", kind: "integer", default: "33554432", min: 1048576, max: 1073741824, description: "Largest GitLab API answer read, counted after decompression (a page of 100 jobs is well under 1 MiB). A larger answer is cut off and that request fails, counted in `gitlab_ci_exporter_invalid_objects_total{source=\"gitlab_api\",reason=\"response_too_large\"}`." },
  { name: "GITLAB_READ_PATH", kind: "enum", default: "auto", values: ["auto", "instance", "sweep", "rest"], description: "How live jobs are found. `sweep`: GraphQL asks 100 projects a request what is live and what changed (`GITLAB_GROUPS`' projects, then the other watched projects 50 a request), every `GITLAB_SWEEP_INTERVAL_SECONDS`. `instance`: GraphQL lists every live job of the instance, 100 a request (administrators only; anyone else falls back to `sweep`, with a warning). `rest`: REST polling alone. `auto` uses `instance` when the token sees the instance's jobs, else `sweep`, and REST when GraphQL is refused (retried every 10 minutes). The path in use: `gitlab_ci_exporter_gitlab_read_path` and `/readyz`." },
  { name: "GITLAB_SWEEP_INTERVAL_SECONDS", kind: "number", default: "30", min: 1, max: 3600, description: "How often the GraphQL sweep runs. Without webhooks, a job that turns pending in any project is on `/metrics` within this plus one sweep's requests at the budget (`ceil(projects / 100)` requests)." },
  { name: "GITLAB_HOT_PROJECT_TTL_SECONDS", kind: "number", default: "600", min: 0, max: 86400, description: "How long a project stays hot (polled every interval) after its last live job or webhook." },
  { name: "GITLAB_WEBHOOK_SECRET", kind: "secret", description: "Secret token GitLab sends in `X-Gitlab-Token`; setting it (or the `_FILE` variant) enables `POST /webhooks/gitlab`." },
  { name: "GITLAB_WEBHOOK_SECRET_FILE", kind: "file", description: "File holding the webhook secret; re-read when it changes." },
  { name: "GITLAB_WEBHOOK_ALLOW_UNAUTHENTICATED", kind: "boolean", default: "false", description: "Accept webhook deliveries without a secret token. Only for networks where nothing else can reach the exporter; when a secret is set it is always required." },
  { name: "GITLAB_WEBHOOK_MAX_BODY_BYTES", kind: "integer", default: "26214400", min: 1024, max: 67108864, description: "Largest webhook body read (GitLab sends bodies up to 25 MB, a Pipeline Hook of a large pipeline); a larger delivery is acknowledged unread and counted as `too_large`." },
  { name: "GITLAB_WEBHOOK_MAX_INFLIGHT_BYTES", kind: "integer", default: "67108864", min: 1024, max: 4294967296, description: "Webhook body bytes read at once, all deliveries together (a body takes about four times its size in memory while it is parsed); at least `GITLAB_WEBHOOK_MAX_BODY_BYTES`. A delivery that would go beyond is answered 202 unread and counted as `shed`: its change is read by polling." },
  { name: "LISTEN_ADDRESS", kind: "listen", default: `0.0.0.0:${DEFAULT_PORT}`, description: `Address of the HTTP server as \`host:port\` (\`:port\` listens on all interfaces). Port ${DEFAULT_PORT} by default; gitlab-runner's own metrics use 9252.` },
  { name: "HTTP_MAX_CONNECTIONS", kind: "integer", default: "256", min: 4, max: 65536, description: "Open client connections at most. A connection arriving at the cap closes the oldest one not being answered (idle first, then one still sending its request), so `/healthz` and `/readyz` keep answering under a flood; when every connection is being answered the newcomer is closed." },
  { name: "HTTP_HEADERS_TIMEOUT_SECONDS", kind: "number", default: "10", min: 0.5, max: 600, description: "A client must send its request line and headers within this time (and finish the TLS handshake, with TLS); else 408 and the connection is closed." },
  { name: "HTTP_REQUEST_TIMEOUT_SECONDS", kind: "number", default: "120", min: 0.5, max: 3600, description: "A client must send its whole request, body included, within this time; else 408 and the connection is closed. 120 s takes a 25 MB webhook at 1.7 Mbit/s; GitLab itself gives up on a delivery after its `webhook_timeout` (10 s by default)." },
  { name: "HTTP_IDLE_TIMEOUT_SECONDS", kind: "number", default: "72", min: 0.5, max: 3600, description: "A connection on which no byte moves for this long is closed: kept alive between requests, or waiting on a client that does not read its response. Above the 60 s scrape interval and the 60 s idle timeout of common load balancers, so their connections are reused and they close first." },
  { name: "SHUTDOWN_GRACE_SECONDS", kind: "number", default: "10", min: 0, max: 600, description: "On `SIGTERM` (or `SIGHUP`), `/readyz` fails at once and everything else is served this long before new connections are refused and the requests in flight drained (at most 10 s more); a second signal stops at once. The old pod keeps receiving traffic until every router has dropped it: Kubernetes takes a deleted pod out of its EndpointSlices within about a second, kube-proxy applies that at most once a second by default (several seconds with large iptables rule sets) and ingress-nginx within about 3 s (it reloads its endpoints at most 0.3 times a second by default), so 10 s covers them with room to spare. Raise it behind load balancers that target pods directly (the AWS Load Balancer Controller in IP mode, GKE NEGs), whose deregistration takes longer; `0` drains at once (tests, or a pod no Service routes to). The pod's `terminationGracePeriodSeconds` must exceed this plus 10 s." },
  { name: "METRICS_BEARER_TOKEN", kind: "secret", description: "Require `Authorization: Bearer <token>` on `/metrics` (Prometheus `authorization` / `bearer_token_file`). Health endpoints stay open for probes." },
  { name: "METRICS_BEARER_TOKEN_FILE", kind: "file", description: "File holding the `/metrics` bearer token; re-read when it changes." },
  { name: "METRICS_BASIC_AUTH_USERNAME", kind: "string", description: "Require HTTP basic auth on `/metrics` with this user name (set the password too)." },
  { name: "METRICS_BASIC_AUTH_PASSWORD", kind: "secret", description: "Password for `/metrics` basic auth." },
  { name: "METRICS_BASIC_AUTH_PASSWORD_FILE", kind: "file", description: "File holding the `/metrics` basic auth password; re-read when it changes." },
  { name: "TLS_CERT_FILE", kind: "file", description: "PEM certificate (chain) to serve HTTPS instead of HTTP; needs `TLS_KEY_FILE`. Read at start: restart to rotate." },
  { name: "TLS_KEY_FILE", kind: "file", description: "PEM private key for `TLS_CERT_FILE`." },
  { name: "KUBE_ENABLED", kind: "boolean", default: "true", description: "Watch the Kubernetes API for CI job pods, spot nodes and image builds. `false` runs the GitLab side only." },
  { name: "KUBECONFIG", kind: "file", description: "Kubeconfig file(s), `:`-separated, as kubectl reads them. Unset: `~/.kube/config`, then the in-cluster service account." },
  { name: "KUBE_NAMESPACES", kind: "list", description: "Comma-separated namespaces whose pods are watched, one watch each (a Role per namespace suffices). Unset: all namespaces, one cluster-wide watch. Nodes are watched cluster-wide unless `KUBE_NODES_ENABLED=false`." },
  { name: "KUBE_NODES_ENABLED", kind: "boolean", default: "true", description: "Watch nodes, cluster-wide (`get`, `list`, `watch` on `nodes`). `false` for installs with namespaced rights only: no spot node families, `/readyz` waits for the pod lists alone, and interruptions are told by the pods' own status (`DisruptionTarget`, node-shutdown failures), not by their nodes' signs." },
  { name: "KUBE_EXPORT_POD_RESOURCES", kind: "boolean", default: "false", description: "Also export `gitlab_ci_job_pod_container_resource_requests` and `_limits`: one series per container and resource of every live job pod (three or four per pod), which kube-state-metrics already exports as `kube_pod_container_resource_requests` and `_limits`. The mixin reads kube-state-metrics' where it is scraped and these otherwise: `true` only for clusters without kube-state-metrics." },
  { name: "KUBE_WATCH_STALL_SECONDS", kind: "number", default: "120", min: 1, max: 3600, description: "A watch with no event (bookmarks included) for this long is restarted with a full re-list. The server is asked to end each watch after 50-75% of this, so quiet resources are re-watched, not taken for stalled." },
  { name: "KUBE_RETRY_INITIAL_SECONDS", kind: "number", default: "1", min: 0.01, max: 600, description: "First pause before a failed list or watch is retried; doubles per failure (with jitter) up to `KUBE_RETRY_MAX_SECONDS`." },
  { name: "KUBE_RETRY_MAX_SECONDS", kind: "number", default: "60", min: 0.01, max: 3600, description: "Longest pause between Kubernetes retries." },
  { name: "KUBE_MAX_WATCH_LINE_BYTES", kind: "integer", default: "8388608", min: 65536, max: 1073741824, description: "Largest watch event (one line of the stream) read, 8 MiB by default: etcd keeps objects up to 1.5 MiB unless told otherwise. A longer line is not buffered further: the watch ends, is counted in `gitlab_ci_exporter_kube_watch_restarts_total` and logged, and the informer lists again after its backoff." },
  { name: "KUBE_MAX_LIST_PAGE_BYTES", kind: "integer", default: "67108864", min: 1048576, max: 1073741824, description: "Largest list page read (500 objects a page), 64 MiB by default: about 128 KiB a pod, several times a CI job pod with its variables. A larger page ends the list like a failed one: counted as a restart, logged, listed again after the backoff." },
  { name: "KUBE_MAX_LIST_PAGES", kind: "integer", default: "1000", min: 1, max: 100000, description: "Pages per list (500 objects a page): no continue token lifts it. A list that runs longer ends like a failed one: counted as a restart, logged, listed again after the backoff." },
  { name: "KUBE_MAX_LIST_ITEMS", kind: "integer", default: "200000", min: 1, max: 10000000, description: "Objects per list, all pages together (Kubernetes supports clusters of up to 150,000 pods). A longer list ends like a failed one: counted as a restart, logged, listed again after the backoff." },
  { name: "KUBE_INTERRUPTION_SETTLE_SECONDS", kind: "number", default: "5", min: 0, max: 300, description: "A job pod whose own status tells of its interruption (a `DisruptionTarget` condition, a node-shutdown failure) is counted this long after it went, unless its node shows a removal sign sooner: nodes and pods arrive on separate watches, and the node's sign names the reason." },
  { name: "KUBE_JOB_ID_KEYS", kind: "list", default: "job.runner.gitlab.com/id", description: "Pod annotation or label keys holding the CI job id, tried in order (annotations first for each key). A pod with a job id, or a job URL, is a CI job pod." },
  { name: "KUBE_JOB_URL_KEYS", kind: "list", default: "job.runner.gitlab.com/url", description: "Keys holding the job URL (`https://host/<project path>/-/jobs/<id>`), the source of the `project` label." },
  { name: "KUBE_JOB_REF_KEYS", kind: "list", default: "job.runner.gitlab.com/ref", description: "Keys holding the branch or tag the job runs for." },
  { name: "KUBE_JOB_NAME_KEYS", kind: "list", default: "job.runner.gitlab.com/name", description: "Keys holding the job name." },
  { name: "KUBE_PROJECT_PATH_KEYS", kind: "list", description: "Keys holding the project path (`group/project`), used when a pod has no job URL, e.g. an annotation set from `$CI_PROJECT_PATH` with `pod_annotations`." },
  { name: "KUBE_PROJECT_ID_KEYS", kind: "list", default: "project.runner.gitlab.com/id", description: "Keys holding the numeric project id (gitlab-runner 17.9+ labels every job pod with it). Last resort for `project` when a pod has neither a job URL nor a project path key: the path of the watched project with that id, `\"\"` while the GitLab side does not know it." },
  { name: "KUBE_PIPELINE_ID_KEYS", kind: "list", description: "Keys holding the pipeline id (gitlab-runner sets none; map `$CI_PIPELINE_ID` with `pod_labels` or `pod_annotations`). Unset, or without a value on the pod: the pipeline GitLab names for the job, once the GitLab side has seen it; else empty." },
  { name: "KUBE_RUNNER_NAME_KEYS", kind: "list", default: "manager.runner.gitlab.com/name", description: "Keys holding the runner name (`runner` label of `gitlab_ci_job_pod_info`)." },
  { name: "KUBE_SPOT_NODE_SELECTORS", kind: "list", default: "eks.amazonaws.com/capacityType=SPOT,karpenter.sh/capacity-type=spot,cloud.google.com/gke-spot=true,cloud.google.com/gke-preemptible=true,kubernetes.azure.com/scalesetpriority=spot,node.kubernetes.io/lifecycle=spot", description: "Comma-separated `label=value` pairs; a node carrying any of them is a spot node." },
  { name: "KUBE_NODEGROUP_KEYS", kind: "list", default: "eks.amazonaws.com/nodegroup,karpenter.sh/nodepool,cloud.google.com/gke-nodepool,kops.k8s.io/instancegroup,kubernetes.azure.com/agentpool", description: "Node labels naming the node group, tried in order (`nodegroup` label)." },
  { name: "KUBE_INSTANCE_TYPE_KEYS", kind: "list", default: "node.kubernetes.io/instance-type,beta.kubernetes.io/instance-type", description: "Node labels naming the instance type, tried in order (`instance_type` label)." },
  { name: "KUBE_ZONE_KEYS", kind: "list", default: "topology.kubernetes.io/zone,failure-domain.beta.kubernetes.io/zone", description: "Node labels naming the zone, tried in order (`zone` label)." },
  { name: "KUBE_BUILDER_IMAGES", kind: "list", default: "kaniko=gcr.io/kaniko-project/executor,kaniko=ghcr.io/osscontainertools/kaniko,kaniko=martizih/kaniko,kaniko=cgr.dev/chainguard/kaniko,buildkit=moby/buildkit,buildah=quay.io/buildah/", description: "Comma-separated `builder=image-prefix` pairs: a container whose image starts with the prefix (whole path segments; Docker Hub spellings alike) is timed as that builder: the `build` container of a CI job pod, any container of a Kubernetes Job pod." },
  { name: "KUBE_NODE_PRICES_FILE", kind: "file", description: "YAML price table: `currency`, and the hourly price of each instance type under `instanceTypes` (`c5a.2xlarge: { onDemand: 0.308, spot: 0.1201 }`; optional `resourceWeights` split a node's price between CPU and memory, OpenCost's ratio by default). Enables the `gitlab_ci_job_cost_*` and `gitlab_ci_node_idle_cost_total` families; read at start, a file that does not fit stops the exporter (see README, \"What CI costs\"). Unset: no cost counting unless `KUBE_COST_COUNTERS=true` (the price-free resource-time counters alone)." },
  { name: "KUBE_COST_COUNTERS", kind: "enum", default: "auto", values: ["auto", "true", "false"], description: "Count what CI job pods hold of their nodes: the resource-time counters (`gitlab_ci_job_cpu_core_seconds_total`, `_memory_byte_seconds_total`, `gitlab_ci_node_occupied_seconds_total`, `gitlab_ci_node_idle_seconds_total`) and, with a price table, the cost families. About six series per active project and node type, so `auto` counts exactly when `KUBE_NODE_PRICES_FILE` is set; `true` counts the resource-time counters without prices too. `false` with a price table is refused." },
  { name: "KUBE_REF_MAX_LENGTH", kind: "integer", default: "128", min: 1, max: 1024, description: "Longer `ref` label values (branch names) are cut to this many characters." },
  { name: "TOTAL_SHARDS", kind: "string", default: "1", description: "How many shards split the work, or `auto`: the `replicas` of the StatefulSet this pod belongs to (`POD_NAME` without its ordinal, in `POD_NAMESPACE`) divided by `SHARD_REPLICAS`, as kube-state-metrics' auto-sharding reads it, and read again every 30 s: when it changes, each replica starts over with the new split (its counters start again, as after a restart). Each shard spends `GITLAB_MAX_REQUESTS_PER_SECOND / TOTAL_SHARDS` and `GITLAB_IDLE_REQUESTS_PER_SECOND / TOTAL_SHARDS`, unless `GITLAB_TOKEN_FILE` names `{shard}`. See Scaling out." },
  { name: "SHARD", kind: "string", default: "0", description: "This replica's shard, from 0 to `TOTAL_SHARDS - 1`, or `auto`: the ordinal of the StatefulSet pod `POD_NAME` divided by `SHARD_REPLICAS`. A shard watches the GitLab projects whose id hashes to it (FNV-1a of the decimal id, modulo `TOTAL_SHARDS`) and their job pods (by the `KUBE_PROJECT_ID_KEYS` label, else the project of the job URL), the other pods whose UID hashes to it, and exports the nodes whose name hashes to it (every shard watches all nodes)." },
  { name: "SHARD_REPLICAS", kind: "integer", default: "1", min: 1, max: 16, description: "Replicas of each shard (consecutive StatefulSet ordinals). Above 1, a Lease (`<StatefulSet>-shard-<n>`, coordination.k8s.io/v1, in `POD_NAMESPACE`) elects the replica that polls GitLab and exports the shard's series; the others stand by, their watches warm and their `/metrics` limited to the exporter's own families, and the first to see the Lease expire takes over." },
  { name: "SHARD_LEASE_DURATION_SECONDS", kind: "integer", default: "15", min: 1, max: 300, description: "How long a shard's Lease holds without renewal: the active replica renews it every fifth of this and stands down when it could not for two thirds of it; a standby takes over within this after the active one's last renewal." },
  { name: "SHARD_PEERS", kind: "list", description: "Base URL of every replica, by StatefulSet ordinal (`http://exporter-0.exporter-peers.monitoring.svc:9863,...`): where a webhook delivery for a project of another shard is forwarded, with its own headers, so the shard's active replica checks the token and applies it. Unset with `SHARD=auto`: `<scheme>://<StatefulSet>-<ordinal>.<the StatefulSet's serviceName>.<POD_NAMESPACE>.svc:<LISTEN_ADDRESS port>`." },
  { name: "POD_NAME", kind: "string", description: "This pod's name (the downward API's `metadata.name`): the StatefulSet and ordinal for `SHARD=auto` and `TOTAL_SHARDS=auto`, and the holder's identity in the shard's Lease." },
  { name: "POD_NAMESPACE", kind: "string", description: "This pod's namespace (the downward API's `metadata.namespace`), where its StatefulSet and the shards' Leases are. Unset: the service account's namespace." },
  { name: "MAX_SERIES_PER_FAMILY", kind: "integer", default: "50000", min: 100, max: 10000000, description: "Cap on series per metric family; label sets beyond it are dropped and counted in `gitlab_ci_exporter_series_dropped_total`." },
  { name: "LABEL_VALUE_MAX_BYTES", kind: "integer", default: "512", min: 256, max: 65536, description: "Every label value of every exported series is cut to this many bytes of UTF-8 (whole characters, ending in `…`), and values alike once cut are one series: a runner description, failure reason, tag list, ref or job name of any length costs at most this much per series. The least, 256, keeps Kubernetes names (at most 253 bytes) whole." },
  { name: "LOG_LEVEL", kind: "enum", default: "info", values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], description: "Log verbosity; logs are JSON lines on stdout." },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]["name"];

/**
 * Settings that hold a secret: the inline ones and the files that hold them. Present but blank,
 * such a setting is an error rather than "unset": unset may mean "no authentication".
 */
export function holdsSecret(name: string): boolean {
  const spec = SETTINGS.find((s) => s.name === name);
  if (spec?.kind === "secret") return true;
  return spec?.kind === "file" && name.endsWith("_FILE") && SETTINGS.some((s) => s.kind === "secret" && `${s.name}_FILE` === name);
}

export function settingSpec(name: SettingName): SettingSpec {
  const spec = SETTINGS.find((s) => s.name === name);
  if (!spec) throw new Error(`unknown setting ${name}`);
  return spec;
}
