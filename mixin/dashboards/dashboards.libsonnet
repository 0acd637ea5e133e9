(import 'overview.libsonnet') +
(import 'job-resources.libsonnet') +
(import 'spot-fleet.libsonnet') +
(import 'image-builds.libsonnet') +
(import 'cost.libsonnet')
