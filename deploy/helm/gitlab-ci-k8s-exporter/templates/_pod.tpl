{{/*
The exporter's pod, the same for the Deployment and for the StatefulSet of the sharded install
(which adds the sharding settings and spreads its replicas over nodes).
*/}}
{{- define "exporter.podTemplate" -}}
{{- $tls := and (hasKey .Values.settings "TLS_CERT_FILE") .Values.settings.TLS_CERT_FILE -}}
metadata:
  labels:
    {{- include "exporter.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- $annotations := deepCopy .Values.podAnnotations }}
  {{- if .Values.secret.create }}
  {{- /* A changed chart-made Secret rolls the pod; the files of other Secrets are re-read in place. */}}
  {{- $_ := set $annotations "checksum/secret" (include (print $.Template.BasePath "/secret.yaml") . | sha256sum) }}
  {{- end }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "exporter.serviceAccountName" . }}
  # The grace period of settings.SHUTDOWN_GRACE_SECONDS, the drain's 10 s and 10 s of margin.
  terminationGracePeriodSeconds: {{ include "exporter.terminationGracePeriodSeconds" . }}
  automountServiceAccountToken: true
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: exporter
      image: {{ include "exporter.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      ports:
        - name: metrics
          containerPort: {{ .Values.port }}
          protocol: TCP
      env:
        {{- if eq (include "exporter.sharded" .) "true" }}
        # The shard from the pod's ordinal, the number of shards from the StatefulSet's replicas.
        - name: SHARD
          value: auto
        - name: TOTAL_SHARDS
          value: auto
        - name: SHARD_REPLICAS
          value: {{ .Values.replicasPerShard | int | quote }}
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- end }}
        - name: GITLAB_TOKEN_FILE
          value: {{ include "exporter.secretsDir" . }}/gitlab-token
        {{- if .Values.webhookSecret.enabled }}
        - name: GITLAB_WEBHOOK_SECRET_FILE
          value: {{ include "exporter.secretsDir" . }}/webhook-secret
        {{- end }}
        - name: LISTEN_ADDRESS
          value: {{ printf "0.0.0.0:%d" (int .Values.port) | quote }}
        {{- range $name, $value := .Values.settings }}
        - name: {{ $name }}
          value: {{ include "exporter.settingValue" $value | quote }}
        {{- end }}
      volumeMounts:
        - name: secrets
          mountPath: {{ include "exporter.secretsDir" . }}
          readOnly: true
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
          {{- if $tls }}
          scheme: HTTPS
          {{- end }}
        periodSeconds: 20
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
          {{- if $tls }}
          scheme: HTTPS
          {{- end }}
        periodSeconds: 10
        failureThreshold: 3
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
  volumes:
    # Projected, not subPath-mounted: the kubelet updates the files when a Secret changes.
    - name: secrets
      projected:
        defaultMode: 288 # 0440: owner and group (fsGroup) read
        sources:
          - secret:
              name: {{ include "exporter.tokenSecretName" . }}
              items:
                - key: {{ .Values.gitlabToken.key }}
                  path: gitlab-token
          {{- if .Values.webhookSecret.enabled }}
          - secret:
              name: {{ include "exporter.webhookSecretName" . }}
              items:
                - key: {{ .Values.webhookSecret.key }}
                  path: webhook-secret
          {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if eq (include "exporter.sharded" .) "true" }}
  # Replicas on different nodes where possible, so a node lost takes one replica of a shard, not both.
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "exporter.selectorLabels" . | nindent 16 }}
  {{- end }}
{{- end -}}
