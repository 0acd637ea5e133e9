// The gitlab-ci-k8s-exporter monitoring mixin: prometheusAlerts, prometheusRules and grafanaDashboards.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
