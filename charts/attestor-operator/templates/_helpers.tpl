{{/*
The name of every object; also the operator's Lease, ValidatingWebhookConfiguration
and webhook Service (the operator's own defaults are "attestor-operator").
*/}}
{{- define "attestor.fullname" -}}
{{- default "attestor-operator" .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "attestor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "attestor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: attestor
{{- end -}}

{{/* The Prometheus job of the operator: the ServiceMonitor's jobLabel is app.kubernetes.io/name. */}}
{{- define "attestor.jobName" -}}
attestor-operator
{{- end -}}

{{- define "attestor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "attestor.jobName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "attestor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "attestor.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Service in front of the webhook and /metrics (--webhook-service). */}}
{{- define "attestor.webhookService" -}}
{{- printf "%s-webhook" (include "attestor.fullname" .) -}}
{{- end -}}

{{/* The Secret the operator writes its self-signed CA and certificate to. */}}
{{- define "attestor.selfSignedSecret" -}}
{{- printf "%s-webhook-tls" (include "attestor.fullname" .) -}}
{{- end -}}

{{/* The Secret cert-manager writes the webhook certificate to. */}}
{{- define "attestor.certManagerSecret" -}}
{{- printf "%s-webhook-cert" (include "attestor.fullname" .) -}}
{{- end -}}

{{- define "attestor.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* A runbook link: <base>#<anchor>. */}}
{{- define "attestor.runbook" -}}
{{- printf "%s#%s" .root.Values.monitoring.prometheusRule.runbookBaseUrl .anchor -}}
{{- end -}}
