{{/*
The shape every credmesh service shares: a ServiceAccount, a Deployment (hardened, probes on
/healthz and /readyz), a Service for its port, a PodDisruptionBudget and, optionally, a
HorizontalPodAutoscaler and a ServiceMonitor. A service's own template builds its environment,
volumes and mounts as lists and passes them here, so adding a service is one small template.

Argument: a dict with
  root          the chart context ($)
  component     e.g. "ingest", "replicator-aws"
  values        the component's values (replicaCount, serviceAccount, resources, …)
  command       the container command (list)
  port          the port serving the component's endpoints, including /healthz, /readyz, /metrics
  portName      the name of that port
  job           the Prometheus job name (the alert rules and dashboards use it)
  env           list of EnvVar
  volumes       list of Volume
  mounts        list of VolumeMount
  podLabels     extra pod labels (dict)
  saAnnotations extra ServiceAccount annotations (dict)
*/}}

{{/*
The bus settings of a component (README "Security model"), as readBaseConfig of @credmesh/config
reads them: logging, the bus, TLS unless nats.plaintext, and the component's own identity — its
role's nkey seed, the one key of nats.nkeysSecret it mounts (`credmesh bus-credentials` names it
`<role>.nk`) — or the shared credentials file.
Args: (list $ "role name"), e.g. (list $ "ingest").
*/}}
{{- define "credmesh.bus.env" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $nats := $root.Values.nats -}}
{{- if and $nats.plaintext (hasPrefix "tls://" $nats.url) -}}
{{- fail "nats.plaintext turns TLS off: nats.url must then use nats://" -}}
{{- end -}}
{{- if and (not $nats.plaintext) (not (hasPrefix "tls://" $nats.url)) -}}
{{- fail "nats.url must use tls:// (the bus is reached over TLS); nats.plaintext: true allows nats:// on development clusters" -}}
{{- end -}}
{{- if and $nats.nkeysSecret $nats.credentialsSecret.name -}}
{{- fail "nats.nkeysSecret and nats.credentialsSecret.name are both set: choose one way to authenticate to the bus" -}}
{{- end -}}
{{- $env := list
  (dict "name" "CREDMESH_NATS_URL" "value" $nats.url)
  (dict "name" "CREDMESH_LOG_LEVEL" "value" $root.Values.logLevel)
  (dict "name" "CREDMESH_PARTITIONS" "value" (toString $root.Values.bus.partitions))
  (dict "name" "CREDMESH_STREAM_REPLICAS" "value" (toString $root.Values.bus.streamReplicas))
-}}
{{- if $nats.plaintext -}}
{{- $env = append $env (dict "name" "CREDMESH_NATS_PLAINTEXT" "value" "true") -}}
{{- else if $nats.caSecret.name -}}
{{- $env = append $env (dict "name" "CREDMESH_NATS_CA_FILE" "value" (printf "%s/nats-ca/%s" (include "credmesh.mountRoot" $root) $nats.caSecret.key)) -}}
{{- end -}}
{{- if $nats.nkeysSecret -}}
{{- $env = append $env (dict "name" "CREDMESH_NATS_NKEY_SEED_FILE" "value" (printf "%s/nats-identity/%s.nk" (include "credmesh.mountRoot" $root) $role)) -}}
{{- else if $nats.credentialsSecret.name -}}
{{- $env = append $env (dict "name" "CREDMESH_NATS_CREDS_FILE" "value" (printf "%s/nats/%s" (include "credmesh.mountRoot" $root) $nats.credentialsSecret.key)) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* The bus settings and the replication rules file (ingest, replicators). Args: (list $ "role name"). */}}
{{- define "credmesh.common.env" -}}
{{- $root := index . 0 -}}
{{- $env := include "credmesh.bus.env" . | fromYamlArray -}}
{{- $env = append $env (dict "name" "CREDMESH_RULES_FILE" "value" (printf "%s/rules/rules.yaml" (include "credmesh.mountRoot" $root))) -}}
{{- toYaml $env -}}
{{- end -}}

{{/* Volumes every credmesh pod mounts: /tmp (the root filesystem is read-only), its bus identity and CA. Args: (list $ "role name"). */}}
{{- define "credmesh.bus.volumes" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $nats := $root.Values.nats -}}
{{- $volumes := list (dict "name" "tmp" "emptyDir" (dict "sizeLimit" "64Mi")) -}}
{{- if $nats.nkeysSecret -}}
{{- /* Only this role's seed is projected into the pod, never another role's. */ -}}
{{- $volumes = append $volumes (include "credmesh.secretVolume" (list "nats-identity" $nats.nkeysSecret (printf "%s.nk" $role)) | fromYaml) -}}
{{- else if $nats.credentialsSecret.name -}}
{{- $volumes = append $volumes (include "credmesh.secretVolume" (list "nats" $nats.credentialsSecret.name $nats.credentialsSecret.key) | fromYaml) -}}
{{- end -}}
{{- if and (not $nats.plaintext) $nats.caSecret.name -}}
{{- $volumes = append $volumes (include "credmesh.secretVolume" (list "nats-ca" $nats.caSecret.name $nats.caSecret.key) | fromYaml) -}}
{{- end -}}
{{- toYaml $volumes -}}
{{- end -}}

{{- define "credmesh.bus.mounts" -}}
{{- $root := index . 0 -}}
{{- $nats := $root.Values.nats -}}
{{- $mounts := list (dict "name" "tmp" "mountPath" "/tmp") -}}
{{- if $nats.nkeysSecret -}}
{{- $mounts = append $mounts (dict "name" "nats-identity" "mountPath" (printf "%s/nats-identity" (include "credmesh.mountRoot" $root)) "readOnly" true) -}}
{{- else if $nats.credentialsSecret.name -}}
{{- $mounts = append $mounts (dict "name" "nats" "mountPath" (printf "%s/nats" (include "credmesh.mountRoot" $root)) "readOnly" true) -}}
{{- end -}}
{{- if and (not $nats.plaintext) $nats.caSecret.name -}}
{{- $mounts = append $mounts (dict "name" "nats-ca" "mountPath" (printf "%s/nats-ca" (include "credmesh.mountRoot" $root)) "readOnly" true) -}}
{{- end -}}
{{- toYaml $mounts -}}
{{- end -}}

{{/* The bus volumes plus the rules ConfigMap (ingest, replicators). Args: (list $ "role name"). */}}
{{- define "credmesh.common.volumes" -}}
{{- $root := index . 0 -}}
{{- $volumes := include "credmesh.bus.volumes" . | fromYamlArray -}}
{{- $volumes = append $volumes (dict "name" "rules" "configMap" (dict "name" (include "credmesh.rulesConfigMap" $root) "items" (list (dict "key" (ternary "rules.yaml" $root.Values.rules.key (not (empty $root.Values.rules.inline))) "path" "rules.yaml")))) -}}
{{- toYaml $volumes -}}
{{- end -}}

{{- define "credmesh.common.mounts" -}}
{{- $root := index . 0 -}}
{{- $mounts := include "credmesh.bus.mounts" . | fromYamlArray -}}
{{- $mounts = append $mounts (dict "name" "rules" "mountPath" (printf "%s/rules" (include "credmesh.mountRoot" $root)) "readOnly" true) -}}
{{- toYaml $mounts -}}
{{- end -}}

{{/* A replicator cell's bus role name, as @credmesh/bus-roles names it: replicator-<destination>-<cell as one subject token>. Args: (list destination cell). */}}
{{- define "credmesh.replicatorRole" -}}
{{- printf "replicator-%s-%s" (index . 0) (regexReplaceAll "[^A-Za-z0-9_-]" (index . 1) "_") -}}
{{- end -}}

{{/* A Secret volume with one key, read-only for the owner. Args: (list volumeName secretName key). */}}
{{- define "credmesh.secretVolume" -}}
name: {{ index . 0 }}
secret:
  secretName: {{ index . 1 }}
  defaultMode: 288 # 0440: read-only for the user and the pod's fsGroup
  items:
    - key: {{ index . 2 }}
      path: {{ index . 2 }}
{{- end -}}

{{/* A projected service-account token for a cloud's token exchange. Args: (list volumeName audience expirationSeconds). */}}
{{- define "credmesh.tokenVolume" -}}
name: {{ index . 0 }}
projected:
  defaultMode: 288 # 0440: read-only for the user and the pod's fsGroup
  sources:
    - serviceAccountToken:
        audience: {{ index . 1 }}
        expirationSeconds: {{ index . 2 }}
        path: token
{{- end -}}

{{- define "credmesh.workload" -}}
{{- $root := .root -}}
{{- $v := .values -}}
{{- $name := include "credmesh.componentName" (list $root .component) -}}
{{- $labels := include "credmesh.labels" (list $root .component) -}}
{{- $selector := include "credmesh.selectorLabels" (list $root .component) -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $v.serviceAccount.name }}
  labels:
    {{- $labels | nindent 4 }}
  {{- with (merge (dict) (default (dict) .saAnnotations) (default (dict) $v.serviceAccount.annotations)) }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# credmesh never calls the Kubernetes API: no API token is mounted (only the projected tokens of the
# cloud token exchanges, each for its own audience).
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  {{- if not (and (hasKey $v "autoscaling") $v.autoscaling.enabled) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- $selector | nindent 8 }}
        app.kubernetes.io/part-of: credmesh
        {{- with (merge (dict) (default (dict) .podLabels) (default (dict) $v.podLabels)) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $podAnnotations := merge (dict) (default (dict) $v.podAnnotations) }}
      {{- if $root.Values.rules.inline }}
      {{- $_ := set $podAnnotations "checksum/rules" (toYaml $root.Values.rules.inline | sha256sum) }}
      {{- end }}
      {{- with $podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ $v.serviceAccount.name }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      # The services stop within 20 s of SIGTERM (shared/runtime onShutdown deadline); margin on top.
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ .component }}
          image: {{ include "credmesh.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            {{- toYaml .command | nindent 12 }}
          ports:
            - name: {{ .portName }}
              containerPort: {{ .port }}
              protocol: TCP
          env:
            {{- concat .env (default (list) $v.extraEnv) | toYaml | nindent 12 }}
          volumeMounts:
            {{- toYaml .mounts | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          startupProbe:
            httpGet: { path: /healthz, port: {{ .portName }} }
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet: { path: /healthz, port: {{ .portName }} }
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: { path: /readyz, port: {{ .portName }} }
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      volumes:
        {{- toYaml .volumes | nindent 8 }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
  {{- with (and (hasKey $v "service") $v.service.annotations) }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ if hasKey $v "service" }}{{ $v.service.type }}{{ else }}ClusterIP{{ end }}
  selector:
    {{- $selector | nindent 4 }}
  ports:
    - name: {{ .portName }}
      port: {{ if hasKey $v "service" }}{{ $v.service.port }}{{ else }}{{ .port }}{{ end }}
      targetPort: {{ .portName }}
      protocol: TCP
{{- if $v.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  {{- if hasKey $v.podDisruptionBudget "minAvailable" }}
  minAvailable: {{ $v.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $v.podDisruptionBudget.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
{{- end }}
{{- if and (hasKey $v "autoscaling") $v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- if $root.Values.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
    {{- with $root.Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
  endpoints:
    - port: {{ .portName }}
      path: /metrics
      interval: {{ $root.Values.serviceMonitor.interval }}
      relabelings:
        # The job names of deploy/prometheus/prometheus.yml, which the alerts and dashboards use.
        - action: replace
          targetLabel: job
          replacement: {{ .job }}
{{- end }}
{{- end -}}
