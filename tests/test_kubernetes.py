"""The kubernetes probe on real manifest files: fixture repos and small trees written per test."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from readiness.probes.kubernetes import ALL_CHECKS, KubernetesProbe

from readiness.config import Config, ConfigError, validate
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status, Strength, Subject, VerdictStatus
from readiness.probe import Files, ProbeContext, load_probes
from readiness.runner import audit

CHECK_IDS = {c.id for c in ALL_CHECKS}


class Run:
    """The probe run on one tree as the runner runs it (discover, claim, context), without evaluation.

    Keeps these tests independent of the policy packs; what it produced: observations (yielded and
    emitted), inventory, gaps, and the files it opened.
    """

    def __init__(self, root: Path, settings: dict | None = None) -> None:
        found = discover(root, Config())
        files = Files(found.root)
        probe = KubernetesProbe()
        self.claimed = probe.claimed(found.artifacts, files)
        ctx = ProbeContext(
            probe=probe,
            root=found.root,
            artifacts=[a for a in self.claimed if a.skipped is None],
            all_artifacts=found.artifacts,
            files=files,
            inventory=Inventory(),
            git=found.git,
            settings=settings or {},
        )
        for art in self.claimed:
            if art.skipped:  # as the runner does for claimed files it could not offer
                ctx.emitted.extend(ctx.errors(Subject(path=art.path), f"skipped: {art.skipped}", art.production))
        self.observations: list[Observation] = list(probe.run(ctx)) + ctx.emitted
        self.inventory = ctx.inventory
        self.gaps = ctx.gaps
        self.read = set(files.digests)  # the files the probe opened

    def of(self, check: str, name: str | None = None, path: str | None = None) -> list[Observation]:
        return [
            o
            for o in self.observations
            if o.check == check
            and (name is None or o.subject.name == name)
            and (path is None or o.subject.path == path)
        ]

    def one(self, check: str, name: str | None = None, path: str | None = None) -> Observation:
        found = self.of(check, name, path)
        assert len(found) == 1, [(o.subject.describe(), o.status, o.message) for o in found]
        return found[0]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {{app: p}}
spec:
{pod}
  containers:
    - name: c
      image: example.invalid/app:1.0
{container}
"""


def pod(tmp_path: Path, pod_fields: str = "", container_fields: str = "") -> Run:
    """A tree with one Pod; the fields are YAML already indented for their place."""
    write(tmp_path, {"k8s/pod.yaml": POD.format(pod=pod_fields, container=container_fields)})
    return Run(tmp_path)


# --- fixtures: a hardened and an insecure tree -------------------------------------------------


def test_hardened_fixture_passes_every_check(fixture_repo):
    run = Run(fixture_repo("k8s-hardened"))
    for check in CHECK_IDS:
        statuses = {o.status for o in run.of(check)}
        assert Status.PASS in statuses, check
        assert statuses <= {Status.PASS, Status.NOT_APPLICABLE}, (check, statuses)
    assert all(o.production and o.strength is Strength.DECLARED for o in run.observations)
    init = run.one("k8s.non_root", "Deployment/web initContainer migrate")
    assert init.subject.line == 23 and "runAsUser: 10001 (pod securityContext)" in init.message
    assert run.one("k8s.probes", "CronJob/report container report").status is Status.NOT_APPLICABLE
    assert "default to the limit" in run.one("k8s.resources", "StatefulSet/db container db").message


def test_insecure_fixture_fails_every_check(fixture_repo):
    run = Run(fixture_repo("k8s-insecure"))
    host = run.one("k8s.no_host_namespaces", "DaemonSet/agent")
    assert host.status is Status.FAIL and "hostPID: true" in host.message and "docker.sock" in host.message
    for check in CHECK_IDS:
        assert any(o.status is Status.FAIL for o in run.of(check)), check
    root = run.one("k8s.non_root", "Deployment/api container api")
    assert root.status is Status.FAIL and root.subject.path == "k8s/app.yaml" and root.subject.line == 19
    assert "runAsNonRoot: true" in root.message and "never runs" in root.message
    spelled = run.one("k8s.cap_drop_all", "Deployment/api container api")
    assert spelled.status is Status.FAIL and 'drops "all"' in spelled.message and spelled.subject.line == 27
    for check in ("k8s.cap_drop_all", "k8s.no_privilege_escalation"):
        privileged = run.one(check, "Deployment/api container sidecar")
        assert privileged.status is Status.FAIL and "privileged: true" in privileged.message
    assert "SYS_ADMIN" in run.one("k8s.no_privilege_escalation", "DaemonSet/agent container agent").message
    assert "missing limits.cpu, requests.cpu" in run.one("k8s.resources", "Deployment/api container sidecar").message
    assert "no readinessProbe" in run.one("k8s.probes", "Deployment/api container sidecar").message
    assert "Recreate" in run.one("k8s.rollout_strategy", "Deployment/api").message
    assert "OnDelete" in run.one("k8s.rollout_strategy", "DaemonSet/agent").message
    assert "100%" in run.one("k8s.rollout_strategy", "Deployment/worker").message
    assert "maxUnavailable: 0 allows no eviction" in run.one("k8s.disruption_budget", "Deployment/worker").message
    # The HPA for api lives in another namespace; the NetworkPolicy selects only the debug pod.
    assert run.one("k8s.autoscaling", "Deployment/api").status is Status.FAIL
    assert run.one("k8s.network_policies", "Deployment/api").status is Status.FAIL
    assert run.one("k8s.network_policies", "Pod/debug").status is Status.PASS
    wildcard = run.one("k8s.rbac_least_privilege", "ClusterRole/everything")
    assert wildcard.status is Status.FAIL and wildcard.subject.line == 9 and "verbs, resources" in wildcard.message
    admin = run.one("k8s.rbac_least_privilege", "ClusterRoleBinding/api-admin")
    assert admin.status is Status.FAIL and "ServiceAccount/api" in admin.message


def test_list_kind_and_multi_document_files_are_read(fixture_repo):
    run = Run(fixture_repo("k8s-insecure"))
    names = {o.subject.name for o in run.of("k8s.rollout_strategy")}
    assert names == {"Deployment/api", "DaemonSet/agent", "Pod/debug", "Deployment/worker"}
    assert run.one("k8s.rollout_strategy", "Pod/debug").subject.path == "k8s/list.yaml"


def test_workloads_go_into_the_inventory(fixture_repo):
    run = Run(fixture_repo("k8s-hardened"))
    services = {s.name: s for s in run.inventory.services}
    assert set(services) == {"Deployment/web", "StatefulSet/db", "CronJob/report"}
    web = services["Deployment/web"]
    assert web.origin == "kubernetes" and web.image == "registry.example.invalid/shop/web:1.4.2"
    assert web.ports == ("8080/TCP",) and web.declared_in.path == "k8s/workloads.yaml" and web.production


# --- securityContext precedence --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod_sc", "container_sc", "status", "says"),
    [
        ("runAsUser: 0", "runAsUser: 1000", Status.PASS, "runAsUser: 1000 (container"),
        ("runAsUser: 1000", "runAsUser: 0", Status.FAIL, "runs as root"),
        ("runAsNonRoot: true", "runAsNonRoot: false", Status.UNKNOWN, "image's USER decides"),
        ("runAsNonRoot: false", "runAsNonRoot: true", Status.PASS, "runAsNonRoot: true (container"),
        ("runAsNonRoot: true", "runAsUser: 0", Status.FAIL, "never runs"),
        ("runAsUser: 0", "runAsNonRoot: true", Status.FAIL, "never runs"),
        ("fsGroup: 2000", "readOnlyRootFilesystem: true", Status.UNKNOWN, "neither runAsNonRoot nor runAsUser"),
        ("runAsUser: '1000'", "privileged: false", Status.UNKNOWN, "not an integer"),
    ],
)
def test_non_root_container_overrides_pod(tmp_path, pod_sc, container_sc, status, says):
    run = pod(tmp_path, f"  securityContext:\n    {pod_sc}", f"      securityContext:\n        {container_sc}")
    found = run.one("k8s.non_root", "Pod/p container c")
    assert found.status is status and says in found.message, found.message


def test_facts_are_json_data_whatever_the_yaml_holds(tmp_path):
    run = pod(tmp_path, "  securityContext: {runAsUser: 2001-01-01}", "      resources: {limits: {cpu: 2001-01-01}}")
    assert "not an integer" in run.one("k8s.non_root").message
    json.dumps([o.facts for o in run.observations])  # raises on a date left in the facts
    assert run.one("k8s.non_root").facts["runAsUser"] == "2001-01-01"


def test_non_root_names_the_line_that_decides(tmp_path):
    run = pod(tmp_path, "  securityContext:\n    runAsUser: 0\n    runAsNonRoot: true")
    found = run.one("k8s.non_root")
    assert found.subject.path == "k8s/pod.yaml" and found.subject.line == 8
    assert found.facts["runAsUser_from"] == "pod" and found.facts["runAsNonRoot"] is True


def test_no_security_context_is_never_a_pass(tmp_path):
    run = pod(tmp_path)
    assert run.one("k8s.non_root").status is Status.UNKNOWN
    for check in ("k8s.read_only_rootfs", "k8s.no_privilege_escalation", "k8s.cap_drop_all", "k8s.resources"):
        assert run.one(check).status is Status.FAIL, check
    assert "defaults to true" in run.one("k8s.no_privilege_escalation").message


@pytest.mark.parametrize(
    ("container_sc", "status", "says"),
    [
        ("{allowPrivilegeEscalation: false}", Status.PASS, "allowPrivilegeEscalation: false"),
        ("{allowPrivilegeEscalation: true}", Status.FAIL, "allowPrivilegeEscalation: true"),
        ("{allowPrivilegeEscalation: false, privileged: true}", Status.FAIL, "privileged: true"),
        (
            "{allowPrivilegeEscalation: false, capabilities: {add: [CAP_SYS_ADMIN]}}",
            Status.FAIL,
            "CAP_SYS_ADMIN",
        ),
    ],
)
def test_privilege_escalation(tmp_path, container_sc, status, says):
    run = pod(tmp_path, container_fields=f"      securityContext: {container_sc}")
    found = run.one("k8s.no_privilege_escalation")
    assert found.status is status and says in found.message


@pytest.mark.parametrize(
    ("caps", "status", "says"),
    [
        ('{drop: ["ALL"], add: [NET_BIND_SERVICE]}', Status.PASS, "adds back NET_BIND_SERVICE"),
        ('{drop: ["All"]}', Status.FAIL, 'write "ALL"'),
        ("{drop: [NET_RAW, CHOWN]}", Status.FAIL, "drops only NET_RAW, CHOWN"),
        ("{add: [NET_ADMIN]}", Status.FAIL, "capabilities.drop not set"),
    ],
)
def test_capabilities_drop_all(tmp_path, caps, status, says):
    run = pod(tmp_path, container_fields=f"      securityContext: {{capabilities: {caps}}}")
    found = run.one("k8s.cap_drop_all")
    assert found.status is status and says in found.message


def test_read_only_root_filesystem(tmp_path):
    ok = pod(tmp_path / "a", container_fields="      securityContext: {readOnlyRootFilesystem: true}")
    assert ok.one("k8s.read_only_rootfs").status is Status.PASS
    bad = pod(tmp_path / "b", container_fields="      securityContext: {readOnlyRootFilesystem: false}")
    assert bad.one("k8s.read_only_rootfs").status is Status.FAIL


@pytest.mark.parametrize(
    ("resources", "status", "says"),
    [
        ("{limits: {cpu: 500m, memory: 256Mi}}", Status.PASS, "default to the limit"),
        ("{requests: {cpu: 100m, memory: 128Mi}}", Status.FAIL, "missing limits.cpu, limits.memory"),
        ("{requests: {cpu: 100m}, limits: {memory: 1Gi}}", Status.FAIL, "missing limits.cpu"),
    ],
)
def test_resources(tmp_path, resources, status, says):
    run = pod(tmp_path, container_fields=f"      resources: {resources}")
    found = run.one("k8s.resources")
    assert found.status is status and says in found.message


def test_limit_range_fills_in_resources(tmp_path):
    limit_range = """\
    apiVersion: v1
    kind: LimitRange
    metadata: {name: defaults, namespace: shop}
    spec:
      limits:
        - type: Container
          default: {cpu: 500m}
          max: {memory: 1Gi}
    """
    web = deployment().replace("{name: web, image: example.invalid/web:1}", "{name: web, image: x, resources: {}}")
    run = Run(write(tmp_path / "a", {"k8s/web.yaml": web, "k8s/lr.yaml": limit_range}))
    found = run.one("k8s.resources")
    assert found.status is Status.PASS and "from LimitRange/defaults (k8s/lr.yaml:3)" in found.message
    # In another namespace it fills in nothing.
    elsewhere = limit_range.replace("namespace: shop", "namespace: other")
    run = Run(write(tmp_path / "b", {"k8s/web.yaml": web, "k8s/lr.yaml": elsewhere}))
    assert run.one("k8s.resources").status is Status.FAIL


def test_probes_need_both_with_a_handler(tmp_path):
    both = "      livenessProbe: {tcpSocket: {port: 80}}\n      readinessProbe: {httpGet: {path: /, port: 80}}"
    assert pod(tmp_path / "a", container_fields=both).one("k8s.probes").status is Status.PASS
    empty = "      livenessProbe: {tcpSocket: {port: 80}}\n      readinessProbe: {periodSeconds: 5}"
    found = pod(tmp_path / "b", container_fields=empty).one("k8s.probes")
    assert found.status is Status.FAIL and "readinessProbe has no handler" in found.message


def test_init_sidecar_and_ephemeral_containers(tmp_path):
    write(
        tmp_path,
        {
            "pod.yaml": """\
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              initContainers:
                - name: setup
                  image: example.invalid/setup:1
                - name: proxy
                  image: example.invalid/proxy:1
                  restartPolicy: Always
              containers:
                - name: app
                  image: example.invalid/app:1
              ephemeralContainers:
                - name: debug
                  image: example.invalid/debug:1
                  securityContext: {runAsUser: 0}
            """
        },
    )
    run = Run(tmp_path)
    assert run.one("k8s.probes", "Pod/p initContainer setup").status is Status.NOT_APPLICABLE
    assert run.one("k8s.probes", "Pod/p initContainer proxy").status is Status.FAIL  # a sidecar serves
    assert run.one("k8s.resources", "Pod/p ephemeralContainer debug").status is Status.NOT_APPLICABLE
    assert run.one("k8s.non_root", "Pod/p ephemeralContainer debug").status is Status.FAIL


# --- objects around workloads ----------------------------------------------------------------

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web, tier: front}}}}
    spec:
      containers:
        - {{name: web, image: example.invalid/web:1}}
"""


def deployment(replicas: int = 3) -> str:
    return DEPLOYMENT.format(replicas=replicas)


def test_network_policy_selection(tmp_path):
    policies = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: front, namespace: shop}
    spec:
      podSelector:
        matchExpressions:
          - {key: tier, operator: In, values: [front, edge]}
    """
    run = Run(write(tmp_path / "a", {"k8s/web.yaml": deployment(), "k8s/np.yaml": policies}))
    found = run.one("k8s.network_policies")
    assert found.status is Status.PASS and "NetworkPolicy/front (k8s/np.yaml:3)" in found.message
    elsewhere = policies.replace("namespace: shop", "namespace: other")
    run = Run(write(tmp_path / "b", {"k8s/web.yaml": deployment(), "k8s/np.yaml": elsewhere}))
    assert run.one("k8s.network_policies").status is Status.FAIL
    allow_all = policies.rstrip(" ") + "      ingress:\n        - {}\n"
    run = Run(write(tmp_path / "c", {"k8s/web.yaml": deployment(), "k8s/np.yaml": allow_all}))
    found = run.one("k8s.network_policies")
    assert found.status is Status.FAIL and "admits all traffic" in found.message


def test_non_production_objects_do_not_cover_production_workloads(tmp_path):
    deny = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: deny, namespace: shop}
    spec: {podSelector: {}}
    """
    run = Run(write(tmp_path, {"k8s/web.yaml": deployment(), "tests/np.yaml": deny}))
    found = run.one("k8s.network_policies", path="k8s/web.yaml")
    assert found.status is Status.FAIL and found.production


def test_autoscaling(tmp_path):
    keda = """\
    apiVersion: keda.sh/v1alpha1
    kind: ScaledObject
    metadata: {name: web, namespace: shop}
    spec:
      scaleTargetRef: {name: web}
      maxReplicaCount: 6
    """
    run = Run(write(tmp_path / "a", {"k8s/web.yaml": deployment(1), "k8s/scale.yaml": keda}))
    assert run.one("k8s.autoscaling").status is Status.PASS
    # maxReplicaCount 6 makes a one-replica Deployment a replicated one: it needs a budget.
    assert run.one("k8s.disruption_budget").status is Status.FAIL
    run = Run(write(tmp_path / "b", {"k8s/web.yaml": deployment(1)}))
    assert run.one("k8s.autoscaling").status is Status.FAIL
    assert run.one("k8s.disruption_budget").status is Status.NOT_APPLICABLE


def test_fixed_scale_setting_exempts_a_workload_from_autoscaling(tmp_path):
    write(tmp_path, {"k8s/web.yaml": deployment(1)})
    found = Run(tmp_path, {"fixed_scale": ["Deployment/web"]}).one("k8s.autoscaling")
    assert found.status is Status.NOT_APPLICABLE and "fixed_scale" in found.message
    assert Run(tmp_path, {"fixed_scale": ["Deployment/api"]}).one("k8s.autoscaling").status is Status.FAIL
    schema = KubernetesProbe.settings_schema
    validate({"fixed_scale": ["StatefulSet/db"]}, schema, "probes.kubernetes")
    with pytest.raises(ConfigError, match="probes.kubernetes"):
        validate({"fixed_scale": ["DaemonSet/agent"]}, schema, "probes.kubernetes")
    with pytest.raises(ConfigError, match="probes.kubernetes"):
        validate({"autoscale": []}, schema, "probes.kubernetes")


@pytest.mark.parametrize(
    ("budget", "status", "says"),
    [
        ("maxUnavailable: 1\n  selector: {matchLabels: {app: web}}", Status.PASS, "selects its pods"),
        ("minAvailable: 3\n  selector: {matchLabels: {app: web}}", Status.FAIL, "allows no eviction"),
        ('minAvailable: "100%"\n  selector: {matchLabels: {app: web}}', Status.FAIL, "allows no eviction"),
        ("maxUnavailable: 1\n  selector: {matchLabels: {app: api}}", Status.FAIL, "no PodDisruptionBudget"),
        ("maxUnavailable: 1", Status.FAIL, "no PodDisruptionBudget"),  # no selector selects nothing
    ],
)
def test_disruption_budget(tmp_path, budget, status, says):
    head = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\n"
    pdb = f"{head}spec:\n  {budget}\n"
    run = Run(write(tmp_path, {"k8s/web.yaml": deployment(3), "k8s/pdb.yaml": pdb}))
    found = run.one("k8s.disruption_budget")
    assert found.status is status and says in found.message


@pytest.mark.parametrize(
    ("strategy", "status", "says"),
    [
        ("", Status.PASS, "the API default"),
        ("strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}", Status.PASS, "maxUnavailable 1"),
        ("strategy: {rollingUpdate: {maxUnavailable: 3}}", Status.FAIL, "every pod may be down"),
        ("strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 0}}", Status.FAIL, "both 0"),
        ("strategy: {type: Recreate}", Status.FAIL, "Recreate"),
    ],
)
def test_rollout_strategy(tmp_path, strategy, status, says):
    text = deployment(3).replace("  replicas: 3\n", f"  replicas: 3\n  {strategy}\n")
    found = Run(write(tmp_path, {"k8s/web.yaml": text})).one("k8s.rollout_strategy")
    assert found.status is status and says in found.message
    assert found.facts["explicit"] is bool(strategy)


def test_rollout_defaults_of_daemonsets_and_single_statefulsets(tmp_path):
    text = """\
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent}
    spec:
      template:
        spec:
          containers: [{name: agent, image: example.invalid/agent:1}]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db}
    spec:
      replicas: 1
      updateStrategy: {type: RollingUpdate}
      template:
        spec:
          containers: [{name: db, image: example.invalid/db:1}]
    """
    run = Run(write(tmp_path, {"k8s/sets.yaml": text}))
    agent = run.one("k8s.rollout_strategy", "DaemonSet/agent")
    assert agent.status is Status.PASS and "maxUnavailable 1, maxSurge 0 (no updateStrategy" in agent.message
    db = run.one("k8s.rollout_strategy", "StatefulSet/db")
    assert db.status is Status.PASS and db.message == "RollingUpdate, maxUnavailable 1"
    assert run.one("k8s.autoscaling", "DaemonSet/agent").status is Status.NOT_APPLICABLE


def test_rbac(tmp_path):
    rbac = """\
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: urls}
    rules:
      - nonResourceURLs: ["*"]
        verbs: [get]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: aggregate}
    aggregationRule:
      clusterRoleSelectors: [{matchLabels: {rbac.example.invalid/aggregate: "true"}}]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: all-sas}
    subjects: [{kind: Group, name: "system:serviceaccounts", apiGroup: rbac.authorization.k8s.io}]
    roleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: rbac.authorization.k8s.io}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: ops}
    subjects: [{kind: Group, name: ops, apiGroup: rbac.authorization.k8s.io}]
    roleRef: {kind: ClusterRole, name: view, apiGroup: rbac.authorization.k8s.io}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata: {name: all-secrets}
    rules:
      - apiGroups: [""]
        resources: [secrets, configmaps]
        verbs: [get]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata: {name: one-secret}
    rules:
      - apiGroups: [""]
        resources: [secrets]
        resourceNames: [app-tls]
        verbs: [get, watch]
    """
    run = Run(write(tmp_path, {"rbac.yaml": rbac}))
    every = run.one("k8s.rbac_least_privilege", "Role/all-secrets")
    assert every.status is Status.FAIL and "every Secret" in every.message
    assert run.one("k8s.rbac_least_privilege", "Role/one-secret").status is Status.PASS
    assert run.one("k8s.rbac_least_privilege", "ClusterRole/urls").status is Status.FAIL
    assert run.one("k8s.rbac_least_privilege", "ClusterRole/aggregate").status is Status.UNKNOWN
    assert run.one("k8s.rbac_least_privilege", "ClusterRoleBinding/all-sas").status is Status.FAIL
    assert run.one("k8s.rbac_least_privilege", "ClusterRoleBinding/ops").status is Status.PASS
    # Only RBAC objects: the workload checks are not applicable, and say why.
    assert run.one("k8s.non_root").status is Status.NOT_APPLICABLE


# --- what cannot be judged -------------------------------------------------------------------


def test_helm_templates_are_unknown_never_pass(fixture_repo):
    run = Run(fixture_repo("k8s-helm-chart"))
    for path in ("chart/templates/deployment.yaml", "deploy/templated.yaml"):
        mine = [o for o in run.observations if o.subject.path == path]
        assert mine and all(o.status is Status.UNKNOWN for o in mine), path
        assert "not rendered" in mine[0].message
    assert {o.check for o in run.observations if o.subject.path == "chart/templates/deployment.yaml"} == CHECK_IDS
    assert "chart/values.yaml" not in {a.path for a in run.claimed}  # no apiVersion and kind: not a manifest
    assert not any(o.status is Status.PASS for o in run.observations)
    assert not run.inventory.services


def test_chart_templates_without_apiversion_are_still_unknown(tmp_path):
    write(
        tmp_path,
        {"chart/Chart.yaml": "apiVersion: v2\nname: c\n", "chart/templates/app.yaml": '{{ include "lib.app" . }}\n'},
    )
    run = Run(tmp_path)
    assert run.claimed == []
    mine = [o for o in run.observations if o.subject.path == "chart/templates/app.yaml"]
    assert {o.check for o in mine} == CHECK_IDS and {o.status for o in mine} == {Status.UNKNOWN}


def test_unparsable_file_with_template_braces_is_a_helm_template(tmp_path):
    text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  {{- include "spec" . }}\n'
    run = Run(write(tmp_path, {"deploy/pod.yaml": text}))
    assert {o.status for o in run.observations} == {Status.UNKNOWN}
    assert "Helm template, not rendered" in run.observations[0].message


def test_kustomize_patches_report_only_what_they_state(fixture_repo):
    run = Run(fixture_repo("k8s-kustomize-patch"))
    patch = [o for o in run.observations if o.subject.path == "overlays/prod/run-as-root.yaml"]
    assert [(o.check, o.status) for o in patch] == [("k8s.non_root", Status.FAIL)]
    assert patch[0].subject.line == 12 and patch[0].facts["partial"] == "kustomize patch"
    # The base is judged in full, where it is declared.
    assert run.one("k8s.non_root", path="base/deployment.yaml").status is Status.PASS
    assert run.one("k8s.read_only_rootfs", path="base/deployment.yaml").status is Status.PASS
    # The replicas patch makes the workload replicated: it needs a budget, judged with the base's labels.
    assert run.one("k8s.disruption_budget", path="base/deployment.yaml").status is Status.NOT_APPLICABLE
    scaled = run.one("k8s.disruption_budget", path="overlays/prod/replicas.yaml")
    assert scaled.status is Status.FAIL and "base/deployment.yaml:4" in scaled.message
    assert [s.name for s in run.inventory.services] == ["Deployment/web"]  # patches are not services
    assert not any("kustomization" in (o.subject.path or "") for o in run.observations)


def test_incomplete_workload_not_listed_as_a_patch_is_unknown(tmp_path):
    text = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      template:
        spec:
          containers:
            - name: web
              securityContext: {privileged: true, readOnlyRootFilesystem: true}
    """
    run = Run(write(tmp_path, {"k8s/web.yaml": text}))
    assert run.one("k8s.cap_drop_all").status is Status.FAIL  # stated: privileged
    read_only = run.one("k8s.read_only_rootfs")
    assert read_only.status is Status.UNKNOWN and "incomplete object" in read_only.message
    assert run.one("k8s.resources").status is Status.UNKNOWN
    assert not run.inventory.services


def test_kustomize_generated_files_are_mounts_in_the_inventory(fixture_repo):
    run = Run(fixture_repo("k8s-kustomize-generators"))
    mounts = {(m.source, m.target, m.kind) for m in run.inventory.mounts}
    assert mounts == {
        ("k8s/config/app.conf", "/etc/web/app.conf", "config"),
        ("k8s/config/web-nginx.conf", "/etc/web/nginx.conf", "config"),
        ("k8s/config/web-nginx.conf", "/etc/nginx/nginx.conf", "config"),  # subPath: the file itself
        ("k8s/secrets/web.env", "(environment)", "secret"),  # envFrom a secretGenerator
    }
    assert all(m.service == "Deployment/web" and m.production for m in run.inventory.mounts)
    assert run.inventory.deployed_by("k8s/secrets/web.env")[0].declared_in.line == 14
    assert "k8s/secrets/web.env" not in run.read  # named as a mount, never opened
    assert "k8s/kustomization.yaml" in run.read


def test_malformed_files_are_errors_and_the_audit_goes_on(fixture_repo):
    run = Run(fixture_repo("k8s-malformed"))
    broken = [o for o in run.observations if o.subject.path == "broken.yaml"]
    assert {o.check for o in broken} == CHECK_IDS and {o.status for o in broken} == {Status.ERROR}
    assert broken[0].subject.line == 6 and "not valid YAML" in broken[0].message
    shape = run.of("k8s.non_root", path="wrong-shape.yaml")
    assert shape[0].status is Status.ERROR and "containers is a str, not a list" in shape[0].message
    assert run.one("k8s.non_root", path="good.yaml").status is Status.PASS
    assert {g.subject.path for g in run.gaps} == {"broken.yaml", "wrong-shape.yaml"}


def test_binary_manifest_is_an_error(tmp_path):
    write(tmp_path, {"ok.yaml": POD.format(pod="", container="")})
    (tmp_path / "bin.yaml").write_bytes(b"apiVersion: v1\nkind: Pod\n\0\0\0")
    run = Run(tmp_path)
    binary = run.of("k8s.non_root", path="bin.yaml")
    assert binary[0].status is Status.ERROR and "binary" in binary[0].message
    assert run.one("k8s.non_root", path="ok.yaml").status is Status.UNKNOWN


def test_only_manifests_are_claimed(tmp_path):
    write(
        tmp_path,
        {
            "a.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
            "b.yml": "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n",
            "Chart.yaml": "apiVersion: v2\nname: c\n",
            ".github/workflows/ci.yaml": "on: push\njobs:\n  t:\n    kind: x\n",
        },
    )
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbfapiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n")
    assert [a.path for a in Run(tmp_path).claimed] == ["a.yaml", "b.yml", "bom.yaml"]


def test_manifests_without_workloads(tmp_path):
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '{{ x }}'}\n"
    run = Run(write(tmp_path, {"k8s/cm.yaml": config, "compose.yaml": "services: {a: {image: x}}\n"}))
    assert [a.path for a in run.claimed] == ["k8s/cm.yaml"]
    for check in CHECK_IDS:
        found = run.one(check)
        assert found.status is Status.NOT_APPLICABLE and "k8s/cm.yaml" in found.message


def test_probe_is_registered_as_an_inventory_probe():
    probes = load_probes()
    mine = next(p for p in probes if p.name == "kubernetes")
    assert mine is KubernetesProbe and mine.stage == "inventory"
    assert mine.check_ids() == {
        "k8s.non_root",
        "k8s.read_only_rootfs",
        "k8s.no_privilege_escalation",
        "k8s.cap_drop_all",
        "k8s.no_host_namespaces",
        "k8s.resources",
        "k8s.probes",
        "k8s.network_policies",
        "k8s.autoscaling",
        "k8s.disruption_budget",
        "k8s.rollout_strategy",
        "k8s.rbac_least_privilege",
        "k8s.restart_policy",
    }
    # Inventory probes run first, so the check probes see the workloads.
    assert probes.index(mine) < min(i for i, p in enumerate(probes) if p.stage == "check")


def test_audit_decides_checks_and_items_from_manifests(fixture_repo):
    report = audit(fixture_repo("k8s-insecure"), Config())
    verdicts = {v.item_id: v for v in report.verdicts}
    for item in ("pd.containers.non-root", "pd.containers.capabilities-dropped", "pd.resources.limits"):
        verdict = verdicts[item]
        evidence = [report.observations[i] for i in verdict.observations]
        assert verdict.status is VerdictStatus.FAIL and "k8s/app.yaml" in verdict.reason, item
        assert any(o.probe == "kubernetes" and o.status is Status.FAIL for o in evidence), item

    def results(name: str) -> dict[str, VerdictStatus]:
        checks = audit(fixture_repo(name), Config()).check_results
        return {r.check: r.status for r in checks.values() if r.check in CHECK_IDS}

    assert results("k8s-hardened") == dict.fromkeys(CHECK_IDS, VerdictStatus.PASS)
    assert set(results("k8s-helm-chart").values()) == {VerdictStatus.UNKNOWN}
