{{/*
Shared blocks. The chart uses Go's built-in template functions only (no Sprig, include or
toYaml), so its test renders it with Go's own text/template (deploy/test/static/helm.test.ts).
Each block is written at the indentation where the Job and the Deployments use it.
*/}}

{{- define "berth-example.podSecurityContext" }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
{{- end }}

{{- define "berth-example.containerSecurityContext" }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities:
              drop: ["ALL"]
            seccompProfile:
              type: RuntimeDefault
{{- end }}
