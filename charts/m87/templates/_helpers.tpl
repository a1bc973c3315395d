{{/*
Helpers of the controller, metrics, monitoring and default-policy templates. The security templates
(templates/rbac, templates/admission, templates/namespaces) keep their own helpers in rbac/_security.tpl;
the controller's namespace and ServiceAccount come from there so both halves agree on the identity.
*/}}

{{/* Common labels of every object rendered by these templates. */}}
{{- define "m87.labels" -}}
app.kubernetes.io/name: m87
app.kubernetes.io/part-of: m87
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of the controller Pods (immutable once installed: keep them few and stable). */}}
{{- define "m87.controller.selectorLabels" -}}
app.kubernetes.io/name: m87
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Namespace of the controller (security helper: controller.namespace, else the release namespace). */}}
{{- define "m87.namespace" -}}
{{ include "m87.security.controllerNamespace" . }}
{{- end -}}

{{/* image reference from {repository, tag, digest} with a fallback tag. Call with (list image fallbackTag). */}}
{{- define "m87.imageRef" -}}
{{- $image := index . 0 -}}
{{- $fallbackTag := index . 1 -}}
{{- if $image.digest -}}
{{ $image.repository }}@{{ $image.digest }}
{{- else -}}
{{ $image.repository }}:{{ default $fallbackTag $image.tag }}
{{- end -}}
{{- end -}}

{{/* The controller image. */}}
{{- define "m87.controller.image" -}}
{{ include "m87.imageRef" (list .Values.controller.image .Chart.AppVersion) }}
{{- end -}}

{{/* The runner image of job Pods: runner.image, falling back field by field to controller.image. */}}
{{- define "m87.runner.image" -}}
{{- $c := .Values.controller.image -}}
{{- $r := .Values.runner.image -}}
{{- $repository := default $c.repository $r.repository -}}
{{- $digest := "" -}}
{{- if $r.digest -}}
{{- $digest = $r.digest -}}
{{- else if and (not $r.repository) (not $r.tag) -}}
{{- $digest = $c.digest -}}
{{- end -}}
{{- $tag := default (default .Chart.AppVersion $c.tag) $r.tag -}}
{{ include "m87.imageRef" (list (dict "repository" $repository "tag" $tag "digest" $digest) .Chart.AppVersion) }}
{{- end -}}

{{/* Name of the signing-key Secret: an existing one, or the one the controller creates. */}}
{{- define "m87.signingSecret" -}}
{{ default "m87-signing-key" .Values.signing.existingSecret }}
{{- end -}}

{{/* Name of the metrics Service. */}}
{{- define "m87.metricsService" -}}
m87-controller-metrics
{{- end -}}

{{/* host:port the controller listens on; IPv6 addresses are bracketed. */}}
{{- define "m87.metricsAddr" -}}
{{- $host := .Values.metrics.bindAddress -}}
{{- if and (contains ":" $host) (not (hasPrefix "[" $host)) -}}
[{{ $host }}]:{{ .Values.metrics.port }}
{{- else -}}
{{ $host }}:{{ .Values.metrics.port }}
{{- end -}}
{{- end -}}
