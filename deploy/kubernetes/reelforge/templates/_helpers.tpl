{{/* The release's base name: <release>-reelforge, or the release name when it already says reelforge. */}}
{{- define "reelforge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The roles: role name -> its key in values.yaml. */}}
{{- define "reelforge.roles" -}}
api: api
orchestration-worker: orchestrationWorker
projector: projector
gpu-worker: gpuWorker
{{- end -}}

{{- define "reelforge.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "reelforge.labels" -}}
{{ include "reelforge.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: reelforge
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end -}}

{{- define "reelforge.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "reelforge.secretName" -}}
{{ .Values.secret.existingSecret | default (printf "%s-secrets" (include "reelforge.fullname" .)) }}
{{- end -}}

{{- define "reelforge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "reelforge.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* Configuration every container of the release reads: the ConfigMap and the Secret. */}}
{{- define "reelforge.envFrom" -}}
- configMapRef:
    name: {{ include "reelforge.fullname" . }}-config
- secretRef:
    name: {{ include "reelforge.secretName" . }}
{{- end -}}

{{/* Writable places on a read-only root filesystem: /tmp (tsx's compile cache, ffmpeg's scratch) and DATA_DIR. */}}
{{- define "reelforge.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- end -}}

{{- define "reelforge.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 2Gi
- name: data
  emptyDir:
    sizeLimit: 1Gi
{{- end -}}
