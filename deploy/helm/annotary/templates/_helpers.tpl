{{/*
Chart name, truncated to the 63 characters DNS labels allow.
*/}}
{{- define "annotary.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified release name.
*/}}
{{- define "annotary.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "annotary.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every object of the release.
*/}}
{{- define "annotary.labels" -}}
helm.sh/chart: {{ include "annotary.chart" . }}
app.kubernetes.io/name: {{ include "annotary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: annotary
{{- end }}

{{/*
Per-service helpers take a dict: {"root": $, "name": "<service>"}.
*/}}
{{- define "annotary.serviceName" -}}
{{- printf "%s-%s" (include "annotary.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "annotary.selectorLabels" -}}
app.kubernetes.io/name: {{ include "annotary.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "annotary.serviceLabels" -}}
{{ include "annotary.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/*
Python package of a service: annotary_<name>, hyphens become underscores.
*/}}
{{- define "annotary.package" -}}
{{- printf "annotary_%s" (.name | replace "-" "_") }}
{{- end }}

{{/*
Environment prefix of a service: ANNOTARY_<NAME>_.
*/}}
{{- define "annotary.envPrefix" -}}
{{- printf "ANNOTARY_%s_" (.name | replace "-" "_" | upper) }}
{{- end }}

{{- define "annotary.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag }}
{{- printf "%s/annotary-%s:%s" (trimSuffix "/" .root.Values.image.registry) .name $tag }}
{{- end }}

{{- define "annotary.configMapName" -}}
{{- printf "%s-config" (include "annotary.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "annotary.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else }}
{{- printf "%s-secrets" (include "annotary.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "annotary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "annotary.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
