{{/* The app name: fixed, because Prometheus' job label and the mixin's selectors derive from it. */}}
{{- define "exporter.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{/* <release>-gitlab-ci-k8s-exporter, or the release name alone when it already holds the chart's. */}}
{{- define "exporter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "exporter.labels" -}}
{{ include "exporter.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "exporter.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "exporter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "exporter.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* A setting's value as the exporter reads it: lists joined with commas, whole numbers without
     the exponent Helm's float64 values would print (1048576, not 1.048576e+06). */}}
{{- define "exporter.settingValue" -}}
{{- if kindIs "slice" . -}}
{{- join "," . -}}
{{- else if and (kindIs "float64" .) (eq . (float64 (int64 .))) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* The namespaces of settings.KUBE_NAMESPACES, one a line, trimmed, empty entries dropped. */}}
{{- define "exporter.watchedNamespaces" -}}
{{- $csv := include "exporter.settingValue" (.Values.settings.KUBE_NAMESPACES | default "") -}}
{{- range splitList "," $csv }}
{{- if trim . }}
{{ trim . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* "true" unless the boolean setting is set to false. */}}
{{- define "exporter.settingEnabled" -}}
{{- $settings := index . 0 -}}
{{- $name := index . 1 -}}
{{- if hasKey $settings $name -}}
{{- ne (toString (index $settings $name)) "false" -}}
{{- else -}}
true
{{- end -}}
{{- end -}}

{{/* Which Secret holds the token and the webhook secret: an existing one, or <fullname>. */}}
{{- define "exporter.tokenSecretName" -}}
{{- default (include "exporter.fullname" .) .Values.gitlabToken.existingSecret -}}
{{- end -}}
{{- define "exporter.webhookSecretName" -}}
{{- default (include "exporter.fullname" .) .Values.webhookSecret.existingSecret -}}
{{- end -}}

{{- define "exporter.secretsDir" -}}
/etc/gitlab-ci-k8s-exporter/secrets
{{- end -}}

{{/*
Seconds the kubelet waits after SIGTERM before it kills the pod: the exporter serves on, /readyz
failing, for SHUTDOWN_GRACE_SECONDS (10 unless set), then drains the requests in flight for at
most 10 s; 10 s more of margin.
*/}}
{{- define "exporter.terminationGracePeriodSeconds" -}}
{{- $grace := 10.0 -}}
{{- if hasKey .Values.settings "SHUTDOWN_GRACE_SECONDS" -}}
{{- $grace = float64 .Values.settings.SHUTDOWN_GRACE_SECONDS -}}
{{- end -}}
{{- add (int (ceil $grace)) 20 -}}
{{- end -}}

{{/* "true" when the install is sharded: a StatefulSet of shards × replicasPerShard pods in place of the Deployment. */}}
{{- define "exporter.sharded" -}}
{{- or (gt (int .Values.shards) 1) (gt (int .Values.replicasPerShard) 1) -}}
{{- end -}}

{{/* The headless Service that names each replica of the sharded install, for the webhook deliveries it is forwarded. */}}
{{- define "exporter.peersName" -}}
{{- printf "%s-peers" (include "exporter.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
