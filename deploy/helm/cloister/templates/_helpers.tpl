{{- define "cloister.labels" -}}
app.kubernetes.io/name: cloister
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{- define "cloister.selector" -}}
app.kubernetes.io/name: cloister
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "cloister.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The image's cloister, started by its own loader and Node (no shell in the image). */}}
{{- define "cloister.command" -}}
- /opt/cloister/lib/ld.so
- --library-path
- /opt/cloister/lib
- /opt/cloister/node
- /opt/cloister/app/bin/cloister.js
{{- end }}

{{- define "cloister.meshAddress" -}}
{{ default (printf "%s-coordinator-mesh.%s.svc:%d" .Release.Name .Release.Namespace (int .Values.coordinator.meshPort)) .Values.coordinator.meshAddress }}
{{- end }}

{{/* Pod settings every component shares: image pull secrets, host network, node selector and tolerations. */}}
{{- define "cloister.podCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .root.Values.hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
{{- with merge (deepCopy .root.Values.nodeSelector) .part.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with concat .root.Values.tolerations .part.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The SGX resources one container asks for, per resourceKey. */}}
{{- define "cloister.sgxResources" -}}
{{- if eq .Values.resourceKey "azure" }}
kubernetes.azure.com/sgx_epc_mem_in_MiB: "1"
{{- else if eq .Values.resourceKey "intel" }}
sgx.intel.com/enclave: "1"
sgx.intel.com/provision: "1"
{{- end }}
{{- end }}
