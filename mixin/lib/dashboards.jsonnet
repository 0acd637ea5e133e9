// jsonnet -J vendor -m dashboards lib/dashboards.jsonnet
(import '../mixin.libsonnet').grafanaDashboards
