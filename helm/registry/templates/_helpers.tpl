{{/* Names and labels. */}}
{{- define "registry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* At most 43 characters, so the longest derived names stay within Kubernetes' limits:
"-notifier-metrics" (Service names: 63) and "-rabbitmq" (StatefulSet names: 52). */}}
{{- define "registry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 43 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 43 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 43 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "registry.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "registry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "registry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "registry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one component: include "registry.componentLabels" (list . "notifier") */}}
{{- define "registry.componentLabels" -}}
{{ include "registry.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "registry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "registry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "registry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Where Secret-backed files appear in the pods. */}}
{{- define "registry.endpointSecretsDir" -}}/etc/registry/secrets/endpoints{{- end }}
{{- define "registry.htpasswdPath" -}}/etc/registry/auth/htpasswd{{- end }}
{{- define "registry.tokenBundlePath" -}}/etc/registry/token/rootcertbundle.pem{{- end }}
{{- define "registry.endpointTLSDir" -}}/etc/registry/tls/endpoints{{- end }}

{{/* The broker URL's Secret and key: yours, the chart's, or the in-release RabbitMQ's. */}}
{{- define "registry.brokerSecret" -}}
{{- if .Values.broker.existingSecret -}}
{{ .Values.broker.existingSecret }}
{{- else if .Values.broker.url -}}
{{ include "registry.fullname" . }}
{{- else if .Values.rabbitmq.enabled -}}
{{ include "registry.fullname" . }}-rabbitmq
{{- else -}}
{{ fail "a broker is required: set broker.existingSecret, broker.url, or rabbitmq.enabled=true" }}
{{- end }}
{{- end }}

{{- define "registry.brokerSecretKey" -}}
{{- if .Values.broker.existingSecret -}}
{{ .Values.broker.existingSecretKey }}
{{- else if .Values.broker.url -}}
broker-url
{{- else -}}
url
{{- end }}
{{- end }}

{{/* The history database URL's Secret and key: yours, the chart's, or the in-release
PostgreSQL's. Empty when the history is off. */}}
{{- define "registry.historySecret" -}}
{{- if .Values.history.enabled -}}
{{- if .Values.history.existingSecret -}}
{{ .Values.history.existingSecret }}
{{- else if .Values.history.url -}}
{{ include "registry.fullname" . }}
{{- else if .Values.postgresql.enabled -}}
{{ include "registry.fullname" . }}-postgresql
{{- else -}}
{{ fail "the delivery history needs a database: set history.existingSecret, history.url, or postgresql.enabled=true (or history.enabled=false: no history, no endpoint pauses)" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "registry.historySecretKey" -}}
{{- if .Values.history.existingSecret -}}
{{ .Values.history.existingSecretKey }}
{{- else if .Values.history.url -}}
history-url
{{- else -}}
url
{{- end }}
{{- end }}

{{/* Environment of the processes that use the history: its URL, from a Secret. */}}
{{- define "registry.historyEnv" -}}
{{- with include "registry.historySecret" . }}
- name: REGISTRY_NOTIFICATIONS_HISTORY_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ include "registry.historySecretKey" $ }}
{{- end }}
{{- end }}

{{/* How many registry pods may run at once: decides the volume's access mode. */}}
{{- define "registry.maxReplicas" -}}
{{- if .Values.registry.autoscaling.enabled -}}
{{ .Values.registry.autoscaling.maxReplicas }}
{{- else -}}
{{ .Values.registry.replicas }}
{{- end }}
{{- end }}

{{- define "registry.storageAccessModes" -}}
{{- include "registry.sharedAccessModes" (list . .Values.storage.persistence "storage" "storage.persistence") }}
{{- end }}

{{- define "registry.spoolAccessModes" -}}
{{- include "registry.sharedAccessModes" (list . .Values.storage.spool.persistence "spool" "storage.spool.persistence") }}
{{- end }}

{{/* A volume every registry replica mounts: (list context persistence-values what key). */}}
{{- define "registry.sharedAccessModes" -}}
{{- $root := index . 0 }}
{{- $modes := (index . 1).accessModes }}
{{- $many := gt (int (include "registry.maxReplicas" $root)) 1 }}
{{- if not $modes }}
{{- $modes = ternary (list "ReadWriteMany") (list "ReadWriteOnce") $many }}
{{- else if and $many (not (has "ReadWriteMany" $modes)) }}
{{- fail (printf "several registry replicas share the %s volume: %s.accessModes must include ReadWriteMany" (index . 2) (index . 3)) }}
{{- end }}
{{- toYaml $modes }}
{{- end }}

{{/* The chart-managed Secret: does it hold anything? */}}
{{- define "registry.hasChartSecret" -}}
{{- if or (not .Values.httpSecret.existingSecret) .Values.broker.url .Values.history.url .Values.redis.password .Values.auth.htpasswd.contents (and .Values.auth.token.enabled .Values.auth.token.contents) .Values.storage.s3.accessKey -}}
true
{{- end }}
{{- end }}

{{/* Keys of the chart-managed endpoint Secret, and the files the config points at. */}}
{{- define "registry.endpointHeaderKey" -}}{{ index . 0 }}.header-{{ index . 1 }}{{- end }}
{{- define "registry.endpointHeaderPath" -}}{{ index . 0 }}/header-{{ index . 1 }}{{- end }}
{{- define "registry.endpointSigningKey" -}}{{ . }}.signing-secret{{- end }}
{{- define "registry.endpointSigningPath" -}}{{ . }}/signing-secret{{- end }}

{{/* Does any endpoint keep a secret value in the chart's endpoint Secret? */}}
{{- define "registry.hasEndpointValues" -}}
{{- range .Values.notifications.endpoints }}
{{- range .secretHeaders }}{{ if .value }}true{{ end }}{{ end }}
{{- if and .signingSecret .signingSecret.value }}true{{ end }}
{{- end }}
{{- end }}

{{/* Does any endpoint read a secret at all (so pods mount the endpoint secrets volume)? */}}
{{- define "registry.hasEndpointSecrets" -}}
{{- range .Values.notifications.endpoints }}
{{- if or .secretHeaders .signingSecret }}true{{ end }}
{{- end }}
{{- end }}

{{/* Files of an endpoint's TLS Secret, in the notifier: key in values -> file name. */}}
{{- define "registry.endpointTLSFiles" -}}
{{- $files := dict }}
{{- with .caKey }}{{ $_ := set $files "ca" (dict "key" . "file" "ca.crt") }}{{ end }}
{{- with .certificateKey }}{{ $_ := set $files "certificate" (dict "key" . "file" "tls.crt") }}{{ end }}
{{- with .keyKey }}{{ $_ := set $files "key" (dict "key" . "file" "tls.key") }}{{ end }}
{{- toJson $files }}
{{- end }}

{{/* Does any endpoint take TLS files from a Secret (so the notifiers mount the TLS volume)? */}}
{{- define "registry.hasEndpointTLS" -}}
{{- range .Values.notifications.endpoints }}
{{- if and .tls .tls.existingSecret }}true{{ end }}
{{- end }}
{{- end }}

{{/* The projected volume of endpoint CA bundles, client certificates and private keys. Only
the notifiers connect to endpoints, so only they mount it: the keys stay out of registry pods. */}}
{{- define "registry.endpointTLSVolume" -}}
- name: endpoint-tls
  projected:
    defaultMode: 0440
    sources:
      {{- range .Values.notifications.endpoints }}
      {{- if and .tls .tls.existingSecret }}
      {{- $name := .name }}
      - secret:
          name: {{ .tls.existingSecret }}
          items:
            {{- range $_, $f := include "registry.endpointTLSFiles" .tls | fromJson }}
            - key: {{ $f.key }}
              path: {{ $name }}/{{ $f.file }}
            {{- end }}
      {{- end }}
      {{- end }}
{{- end }}

{{/* The projected volume of endpoint header values and signing secrets, read via ${file:...}.
Both the registry and the notifiers load the whole config, so both mount it. */}}
{{- define "registry.endpointSecretsVolume" -}}
{{- $fullname := include "registry.fullname" . -}}
- name: endpoint-secrets
  projected:
    defaultMode: 0440
    sources:
      {{- range .Values.notifications.endpoints }}
      {{- $name := .name }}
      {{- range .secretHeaders }}
      - secret:
          name: {{ .existingSecret | default (printf "%s-endpoints" $fullname) }}
          items:
            - key: {{ ternary .key (include "registry.endpointHeaderKey" (list $name .name)) (not (empty .existingSecret)) }}
              path: {{ include "registry.endpointHeaderPath" (list $name .name) }}
      {{- end }}
      {{- with .signingSecret }}
      - secret:
          name: {{ .existingSecret | default (printf "%s-endpoints" $fullname) }}
          items:
            - key: {{ ternary .key (include "registry.endpointSigningKey" $name) (not (empty .existingSecret)) }}
              path: {{ include "registry.endpointSigningPath" $name }}
      {{- end }}
      {{- end }}
{{- end }}

{{/* Pod and container security: non-root, nothing writable but the mounted volumes. */}}
{{- define "registry.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "registry.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* Environment both commands need: the broker URL, from a Secret. */}}
{{- define "registry.brokerEnv" -}}
- name: REGISTRY_NOTIFICATIONS_BROKER_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "registry.brokerSecret" . }}
      key: {{ include "registry.brokerSecretKey" . }}
{{- end }}

{{/* Probes on the debug port, where both commands serve /debug/health (serve: /debug/ready too). */}}
{{- define "registry.probes" -}}
livenessProbe:
  httpGet:
    path: {{ .livenessProbe.path }}
    port: debug
  initialDelaySeconds: {{ .livenessProbe.initialDelaySeconds }}
  periodSeconds: {{ .livenessProbe.periodSeconds }}
  failureThreshold: {{ .livenessProbe.failureThreshold }}
  timeoutSeconds: 5
readinessProbe:
  httpGet:
    path: {{ .readinessProbe.path }}
    port: debug
  periodSeconds: {{ .readinessProbe.periodSeconds }}
  failureThreshold: {{ .readinessProbe.failureThreshold }}
  timeoutSeconds: 5
{{- end }}

{{/* nodeSelector, tolerations, affinity, spread constraints of one component's values. */}}
{{- define "registry.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
