{{/*
Names, labels and the image. Every credmesh service is a "component" (ingest, replicator-azure,
replicator-aws, …) rendered by the workload templates in _workload.tpl.
*/}}

{{- define "credmesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "credmesh.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>, e.g. credmesh-replicator-aws. Args: (list $ "component"). */}}
{{- define "credmesh.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "credmesh.fullname" $root | trunc 40 | trimSuffix "-") (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select a component's pods. Args: (list $ "component"). */}}
{{- define "credmesh.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "credmesh.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Every object's labels. Args: (list $ "component"). */}}
{{- define "credmesh.labels" -}}
{{- $root := index . 0 -}}
{{ include "credmesh.selectorLabels" . }}
app.kubernetes.io/part-of: credmesh
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "credmesh.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap holding the replication rules. */}}
{{- define "credmesh.rulesConfigMap" -}}
{{- if .Values.rules.inline -}}
{{- printf "%s-rules" (include "credmesh.fullname" .) -}}
{{- else -}}
{{- required "rules.existingConfigMap or rules.inline is required: the replication rules (README \"Replication rules\")" .Values.rules.existingConfigMap -}}
{{- end -}}
{{- end -}}

{{/* Where every credmesh pod finds a mounted file: /var/run/credmesh/<volume>/<file>. */}}
{{- define "credmesh.mountRoot" -}}/var/run/credmesh{{- end -}}
