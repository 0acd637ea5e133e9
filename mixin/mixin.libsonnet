// The gitlab-ci-k8s-exporter monitoring mixin: prometheusAlerts, prometheusRules and grafanaDashboards.
(import 'config.libsonnet') +
(import 'config-cost.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'rules/cost.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
