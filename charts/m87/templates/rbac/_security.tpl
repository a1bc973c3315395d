{{/*
Identity helpers shared by templates/rbac, templates/admission and templates/namespaces.
Kept under rbac/ (Helm loads every `_*.tpl` below templates/) so the security templates own their helpers.
*/}}

{{/* Namespace of the controller: controller.namespace, else the release namespace. */}}
{{- define "m87.security.controllerNamespace" -}}
{{- $ns := default .Release.Namespace .Values.controller.namespace -}}
{{- if not $ns -}}{{- fail "controller.namespace: empty and the release has no namespace" -}}{{- end -}}
{{- $ns -}}
{{- end -}}

{{/* Name of the controller's ServiceAccount. */}}
{{- define "m87.security.controllerServiceAccount" -}}
{{- $name := .Values.controller.serviceAccount.name -}}
{{- if not $name -}}{{- fail "controller.serviceAccount.name: must be set (it is the identity the admission policies trust)" -}}{{- end -}}
{{- $name -}}
{{- end -}}

{{/* The controller's username as the API server sees it: the only identity the admission policies trust. */}}
{{- define "m87.security.controllerUsername" -}}
system:serviceaccount:{{ include "m87.security.controllerNamespace" . }}:{{ include "m87.security.controllerServiceAccount" . }}
{{- end -}}

{{/* Labels on every object of the security templates. */}}
{{- define "m87.security.labels" -}}
app.kubernetes.io/name: m87
app.kubernetes.io/part-of: m87
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/component: security
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{/* RBAC subjects from a {users, groups} values block; renders nothing when both are empty. */}}
{{- define "m87.security.subjects" -}}
{{- range .users }}
- kind: User
  apiGroup: rbac.authorization.k8s.io
  name: {{ . | quote }}
{{- end }}
{{- range .groups }}
- kind: Group
  apiGroup: rbac.authorization.k8s.io
  name: {{ . | quote }}
{{- end }}
{{- end -}}
