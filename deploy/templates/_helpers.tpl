{{/* The release's full name, at most 63 characters. */}}
{{- define "stb.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "stb.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "stb.labels" -}}
{{ include "stb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "stb.serviceAccountName" -}}
{{- default (include "stb.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* A prefix for the chart's cluster-scoped objects: the release's
namespace and full name, so that releases in two namespaces do not meet. */}}
{{- define "stb.clusterName" -}}
{{- printf "%s.%s" .Release.Namespace (include "stb.fullname" .) -}}
{{- end -}}

{{/* The user name the API server gives the bot's ServiceAccount. */}}
{{- define "stb.user" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "stb.serviceAccountName" .) -}}
{{- end -}}

{{- define "stb.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Where the config file is mounted. */}}
{{- define "stb.configDir" -}}/etc/signon-token-bot/config{{- end -}}

{{/*
stb.check stops the render with a message naming the value at fault, for
what values.schema.json cannot say: the Redis mode's required values, and
in-cluster environments whose namespace has no Role.
*/}}
{{- define "stb.check" -}}
{{- $r := .Values.redis -}}
{{- if .Values.bot.enabled -}}
{{- if eq $r.mode "standalone" -}}
{{- if and (not $r.url) (not $r.auth.urlKey) -}}
{{- fail "redis.mode standalone needs redis.url, or redis.auth.existingSecret and redis.auth.urlKey" -}}
{{- end -}}
{{- if or $r.sentinel.addrs $r.cluster.addrs -}}
{{- fail "redis.mode is standalone but redis.sentinel.addrs or redis.cluster.addrs is set: set redis.mode to sentinel or cluster" -}}
{{- end -}}
{{- else if eq $r.mode "sentinel" -}}
{{- if or (not $r.sentinel.masterName) (not $r.sentinel.addrs) -}}
{{- fail "redis.mode sentinel needs redis.sentinel.masterName and redis.sentinel.addrs" -}}
{{- end -}}
{{- else if eq $r.mode "cluster" -}}
{{- if not $r.cluster.addrs -}}
{{- fail "redis.mode cluster needs redis.cluster.addrs" -}}
{{- end -}}
{{- end -}}
{{- if and $r.auth.urlKey (ne $r.mode "standalone") -}}
{{- fail "redis.auth.urlKey is for redis.mode standalone; use usernameKey and passwordKey" -}}
{{- end -}}
{{- if and (or $r.auth.urlKey $r.auth.usernameKey $r.auth.passwordKey) (not $r.auth.existingSecret) -}}
{{- fail "redis.auth names keys but not redis.auth.existingSecret" -}}
{{- end -}}
{{- if not .Values.slack.existingSecret -}}
{{- fail "slack.existingSecret must name the Secret holding the Slack tokens" -}}
{{- end -}}
{{- $targets := list -}}
{{- range .Values.rbac.targets -}}
{{- $targets = append $targets .namespace -}}
{{- end -}}
{{- range $name, $env := (.Values.config.environments | default dict) -}}
{{- $env = $env | default dict -}}
{{- $inCluster := and (not $env.kubeconfig) (not $env.context) -}}
{{- $rotate := ternary $env.rotate (ne $name "staging") (hasKey $env "rotate") -}}
{{- if and $inCluster $rotate $.Values.rbac.create -}}
{{- $ns := $env.namespace | default "apps" -}}
{{- if not (has $ns $targets) -}}
{{- fail (printf "config.environments.%s uses the in-cluster ServiceAccount in namespace %s, which is not in rbac.targets: add it, or give the environment a kubeconfig context" $name $ns) -}}
{{- end -}}
{{- end -}}
{{- if and $env.kubeconfig (hasPrefix $.Values.kubeconfig.mountPath $env.kubeconfig) (not $.Values.kubeconfig.existingSecret) -}}
{{- fail (printf "config.environments.%s.kubeconfig is under kubeconfig.mountPath, but kubeconfig.existingSecret is empty" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
