"""The Kubernetes checks: what each judges and why, grouped as the probe runs them."""

from __future__ import annotations

from readiness.model import Check

NON_ROOT = Check(
    id="k8s.non_root",
    title="Every container of every workload runs as a non-root user",
    rationale="A root process in a container is root on the node once it escapes, and can rewrite its own image. "
    "Without runAsNonRoot or runAsUser the image's USER decides, which is root for most images.",
    remediation="Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod (or each container); "
    "never runAsUser: 0.",
)
READ_ONLY_ROOTFS = Check(
    id="k8s.read_only_rootfs",
    title="Every container mounts its root filesystem read-only",
    rationale="A writable root filesystem lets an attacker drop tools and persist changes inside the container; "
    "readOnlyRootFilesystem defaults to false.",
    remediation="Set securityContext.readOnlyRootFilesystem: true on each container and mount emptyDir volumes "
    "where the application must write.",
)
NO_PRIVILEGE_ESCALATION = Check(
    id="k8s.no_privilege_escalation",
    title="No container can gain privileges (allowPrivilegeEscalation: false, not privileged)",
    rationale="allowPrivilegeEscalation defaults to true, so setuid binaries can raise a process's privileges; "
    "it is always true for privileged containers and those with CAP_SYS_ADMIN.",
    remediation="Set securityContext.allowPrivilegeEscalation: false on each container; drop privileged: true "
    "and SYS_ADMIN.",
)
CAP_DROP_ALL = Check(
    id="k8s.cap_drop_all",
    title="Every container drops ALL Linux capabilities (adding back only what it needs)",
    rationale="Containers start with the runtime's default capability set (NET_RAW, CHOWN, SETUID ...); each one "
    "is an avenue for privilege escalation. A privileged container has every capability whatever it drops.",
    remediation='Set securityContext.capabilities.drop: ["ALL"] (spelled ALL) and add back single capabilities '
    "such as NET_BIND_SERVICE only where needed; remove privileged: true.",
)
RESOURCES = Check(
    id="k8s.resources",
    title="Every container declares CPU and memory requests and limits",
    rationale="Without requests the scheduler cannot place pods sensibly; without limits one container can starve "
    "its node and every pod on it.",
    remediation="Set resources.requests.cpu/memory and resources.limits.cpu/memory on every container and init "
    "container (a request left out defaults to its limit).",
)
PROBES = Check(
    id="k8s.probes",
    title="Every long-running container has a liveness and a readiness probe",
    rationale="Without a readiness probe traffic reaches pods that are not ready (also during rollouts); without a "
    "liveness probe a hung process is never restarted.",
    remediation="Add livenessProbe and readinessProbe (httpGet, tcpSocket, grpc or exec) to each container; use a "
    "startupProbe for slow starts.",
)
NETWORK_POLICIES = Check(
    id="k8s.network_policies",
    title="A NetworkPolicy selects the pods of every workload (a namespace default-deny counts)",
    rationale="Pods accept traffic from every other pod in the cluster until a NetworkPolicy selects them; one "
    "compromised pod then reaches every service.",
    remediation="Add a default-deny NetworkPolicy (podSelector: {}) to each namespace and policies that allow only "
    "the traffic each workload needs.",
)
AUTOSCALING = Check(
    id="k8s.autoscaling",
    title="Every Deployment and StatefulSet is targeted by a HorizontalPodAutoscaler",
    rationale="A fixed replica count either wastes capacity or falls over under load. Every scalable workload "
    "(Deployment, StatefulSet) is expected to scale with load; DaemonSets, Jobs and bare Pods do not scale "
    "horizontally and are not applicable. A KEDA ScaledObject counts, as it drives an HPA.",
    remediation="Add an autoscaling/v2 HorizontalPodAutoscaler whose scaleTargetRef names the workload, with "
    "minReplicas >= 2 and CPU or memory targets (and resource requests, which HPA utilisation needs).",
)
DISRUPTION_BUDGET = Check(
    id="k8s.disruption_budget",
    title="Every replicated workload has a PodDisruptionBudget that still allows evictions",
    rationale="Node drains and cluster upgrades evict pods; without a PDB all replicas may go at once, and a PDB "
    "that allows no eviction blocks every drain. Workloads with one replica and no autoscaler are not "
    "applicable (a budget would only block drains).",
    remediation="Add a policy/v1 PodDisruptionBudget selecting the pods with maxUnavailable: 1 (or minAvailable "
    "below the replica count).",
)
ROLLOUT_STRATEGY = Check(
    id="k8s.rollout_strategy",
    title="Deployments, StatefulSets and DaemonSets roll out gradually (RollingUpdate with a sane maxUnavailable)",
    rationale="Recreate stops every pod before starting new ones, OnDelete never rolls out by itself, and a "
    "maxUnavailable of all replicas takes the service down during each rollout.",
    remediation="Use strategy.type: RollingUpdate (Deployments) or updateStrategy.type: RollingUpdate "
    "(StatefulSets, DaemonSets) with maxUnavailable below the replica count, e.g. 0 with maxSurge 1.",
)
RESTART_POLICY = Check(
    id="k8s.restart_policy",
    title="Long-running pods are restarted when they crash (a controller, or restartPolicy Always)",
    rationale="A bare pod with restartPolicy Never stays down after a crash or a node reboot; a Deployment, "
    "StatefulSet or DaemonSet recreates its pods.",
    remediation="Run services as a Deployment, StatefulSet or DaemonSet (restartPolicy Always), not as bare Pods.",
)
RBAC_LEAST_PRIVILEGE = Check(
    id="k8s.rbac_least_privilege",
    title="RBAC grants least privilege: no wildcard verbs or resources, no cluster-admin for service accounts",
    rationale='A "*" verb or resource grants everything, including what future API versions add; a service '
    "account bound to cluster-admin hands the whole cluster to whoever compromises one pod.",
    remediation="List the verbs and resources each Role needs; bind service accounts to narrow Roles, never to "
    "cluster-admin.",
)

NO_HOST_NAMESPACES = Check(
    id="k8s.no_host_namespaces",
    title="Pods share no host namespace (hostNetwork, hostPID, hostIPC) and mount no container-runtime socket",
    rationale="A pod in the host's network, PID or IPC namespace sees and reaches the node's processes and "
    "traffic; a mounted Docker or containerd socket is root on the node.",
    remediation="Remove hostNetwork/hostPID/hostIPC and hostPath volumes of runtime sockets; expose what the pod "
    "needs through a Service or a dedicated node agent with a narrow API.",
)
RUNTIME_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
)

CONTAINER_CHECKS = (NON_ROOT, READ_ONLY_ROOTFS, NO_PRIVILEGE_ESCALATION, CAP_DROP_ALL, RESOURCES, PROBES)
WORKLOAD_CHECKS = (
    *CONTAINER_CHECKS,
    NO_HOST_NAMESPACES,
    NETWORK_POLICIES,
    AUTOSCALING,
    DISRUPTION_BUDGET,
    ROLLOUT_STRATEGY,
    RESTART_POLICY,
)
ALL_CHECKS = (*WORKLOAD_CHECKS, RBAC_LEAST_PRIVILEGE)
