/**
 * The release a CLI run records when neither `--release` nor BERTH_RELEASE names one: the pod's
 * workload in Kubernetes. A pod's name is its controller's name and five random characters
 * (`<job>-x7k2p` for a Job's pod, `<replicaset>-x7k2p` for a Deployment's, the ReplicaSet being
 * `<deployment>-<pod-template-hash>`), and HOSTNAME is the pod's name: without the suffix it names
 * the Job, or the ReplicaSet of one pod template, that is one image and configuration. Outside
 * Kubernetes (no KUBERNETES_SERVICE_HOST) or for any other name, nothing is guessed. The image
 * digest is not visible from inside a container (the Downward API does not expose it): pass it as
 * BERTH_RELEASE where that is the release's name.
 */
const POD_SUFFIX = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

export function discoverRelease(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (!env.KUBERNETES_SERVICE_HOST || !env.HOSTNAME) return undefined;
  return POD_SUFFIX.exec(env.HOSTNAME)?.[1];
}
