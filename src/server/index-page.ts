import { VERSION } from "../metrics/exporter.js";

export function indexPage(options: { webhooks: boolean }): string {
  const webhook = options.webhooks
    ? `<li><code>POST /webhooks/gitlab</code>: GitLab Job Hook and Pipeline Hook deliveries</li>`
    : `<li>Webhooks disabled: set <code>GITLAB_WEBHOOK_SECRET</code> to enable <code>POST /webhooks/gitlab</code></li>`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>gitlab-ci-k8s-exporter</title></head>
<body>
<h1>gitlab-ci-k8s-exporter ${VERSION}</h1>
<p>Prometheus exporter for GitLab CI on Kubernetes.</p>
<ul>
<li><a href="metrics">/metrics</a>: metrics in the Prometheus text format</li>
<li><a href="healthz">/healthz</a>: the process is alive</li>
<li><a href="readyz">/readyz</a>: sources have synced, and how fresh they are</li>
${webhook}
</ul>
</body>
</html>
`;
}
