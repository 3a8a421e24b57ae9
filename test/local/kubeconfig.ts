// A kubeconfig for the local stack's tests: one cluster at `server`, a token user, its context current.
export const kubeconfigYaml = (server: string): string => `apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster:
    server: ${server}
users:
- name: someone
  user:
    token: t0ken
contexts:
- name: nowhere
  context:
    cluster: nowhere
    user: someone
current-context: nowhere
`;
