{{/*
Shared helpers. Component names are the Kubernetes names of the workloads and Services:
the six services (gateway, identity, ...) and the dependencies (nats, mongodb, vault, ...).
*/}}

{{- define "rapport.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of a component. ctx: (dict "root" $ "name" "gateway") */}}
{{- define "rapport.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* All labels of a component. ctx: (dict "root" $ "name" "gateway" "component" "service") */}}
{{- define "rapport.labels" -}}
{{ include "rapport.selectorLabels" . }}
app.kubernetes.io/component: {{ .component | default "service" }}
app.kubernetes.io/part-of: rapport
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "rapport.chart" .root }}
{{- end }}

{{/* A NetworkPolicy peer selecting the pods of a component of this release. */}}
{{- define "rapport.peer" -}}
- podSelector:
    matchLabels:
      {{- include "rapport.selectorLabels" . | nindent 6 }}
{{- end }}

{{/* A service's values: the default block with the service's block merged over it. */}}
{{- define "rapport.serviceValues" -}}
{{- $svc := index .root.Values.services .name -}}
{{- mergeOverwrite (deepCopy .root.Values.default) (deepCopy $svc) | toYaml -}}
{{- end }}

{{/* RAPPORT_<SVC>_ prefix of a service's settings. */}}
{{- define "rapport.envPrefix" -}}
{{ printf "RAPPORT_%s_" (. | upper | replace "-" "_") }}
{{- end }}

{{/* Image reference of a service. ctx: (dict "root" $ "name" "gateway" "image" $v.image) */}}
{{- define "rapport.serviceImage" -}}
{{- $repo := .image.repository | default (printf "rapport-%s" .name) -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
{{- if .image.digest -}}
{{ printf "%s%s:%s@%s" .root.Values.global.imageRegistry $repo $tag .image.digest }}
{{- else -}}
{{ printf "%s%s:%s" .root.Values.global.imageRegistry $repo $tag }}
{{- end -}}
{{- end }}

{{/* Image reference of a dependency. ctx: an image block (repository, tag). */}}
{{- define "rapport.image" -}}
{{ printf "%s:%s" .repository .tag }}
{{- end }}

{{/* In-cluster DNS name of a Service. ctx: (dict "root" $ "name" "identity") */}}
{{- define "rapport.fqdn" -}}
{{ printf "%s.%s.svc.%s" .name .root.Release.Namespace .root.Values.global.clusterDomain }}
{{- end }}

{{/* OTLP endpoint the services export to ("" = none). */}}
{{- define "rapport.otelEndpoint" -}}
{{- if .Values.otel.enabled -}}
{{- if .Values.otel.endpoint -}}
{{ .Values.otel.endpoint }}
{{- else if .Values.observability.collector.enabled -}}
http://otel-collector:4317
{{- end -}}
{{- end -}}
{{- end }}

{{/* Vault address the services and the bootstrap Job use. */}}
{{- define "rapport.vaultAddr" -}}
{{- if eq .Values.vault.mode "dev" -}}
http://vault:8200
{{- else -}}
{{ required "vault.external.addr is required when vault.mode is external (or set vault.mode=dev for development)" .Values.vault.external.addr }}
{{- end -}}
{{- end }}

{{/* Secret and key holding the Vault dev root token. */}}
{{- define "rapport.vaultDevTokenSecret" -}}
{{ .Values.vault.dev.rootTokenSecret.name | default "vault-dev-root-token" }}
{{- end }}

{{/* Secret holding the MongoDB URI of a service. ctx: (dict "root" $ "v" $serviceValues) */}}
{{- define "rapport.mongoSecretName" -}}
{{- if .root.Values.mongodb.enabled -}}
mongodb-uri
{{- else -}}
{{ (.v.mongo).existingSecret | default (required "mongodb.external.existingSecret is required when mongodb.enabled is false" .root.Values.mongodb.external.existingSecret) }}
{{- end -}}
{{- end }}

{{- define "rapport.mongoSecretKey" -}}
{{- if .root.Values.mongodb.enabled -}}
{{ .name }}-uri
{{- else -}}
{{ (.v.mongo).uriKey | default .root.Values.mongodb.external.uriKey }}
{{- end -}}
{{- end }}

{{/* The container securityContext shared by the dependencies (non-root, read-only). */}}
{{- define "rapport.restrictedContainerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "rapport.restrictedPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Egress rule to an external endpoint. ctx: {ports: [..], to: [..]} */}}
{{- define "rapport.externalEgress" -}}
- ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* Egress to another component of this release on some ports. ctx: (dict "root" $ "name" "nats" "ports" (list 4222)) */}}
{{- define "rapport.egressTo" -}}
- to:
    {{- include "rapport.peer" (dict "root" .root "name" .name) | nindent 4 }}
  ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}

{{/* Ingress from components of this release on some ports. ctx: (dict "root" $ "names" (list ..) "ports" (list ..)) */}}
{{- define "rapport.ingressFrom" -}}
- from:
    {{- range .names }}
    {{- include "rapport.peer" (dict "root" $.root "name" .) | nindent 4 }}
    {{- end }}
  ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}

{{/* Ingress from the ingress controller on some ports. ctx: (dict "root" $ "ports" (list ..)) */}}
{{- define "rapport.ingressFromController" -}}
- from:
    - namespaceSelector:
        {{- toYaml .root.Values.networkPolicy.ingressController.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .root.Values.networkPolicy.ingressController.podSelector | nindent 8 }}
  ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}

{{/* Names of the enabled services that use a dependency. ctx: (dict "root" $ "dep" "mongo") -> JSON list */}}
{{- define "rapport.servicesUsing" -}}
{{- $names := list -}}
{{- range $name, $svc := .root.Values.services -}}
{{- if and $svc.enabled (get (default dict $svc.uses) $.dep) -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- $names | toJson -}}
{{- end }}

{{/* Names of the enabled services. -> JSON list */}}
{{- define "rapport.enabledServices" -}}
{{- $names := list -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- $names | toJson -}}
{{- end }}

{{/* Common metadata block. ctx: (dict "root" $ "name" "nats" "component" "dependency") */}}
{{- define "rapport.metadata" -}}
name: {{ .name }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "rapport.labels" . | nindent 2 }}
{{- end }}
