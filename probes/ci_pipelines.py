"""CI pipelines read as jobs of ordered steps: GitHub Actions, GitLab CI, generic YAML pipelines, Jenkinsfiles."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from readiness.probes.ci_tools import NOT_THIS, TOOLS

from readiness.model import Subject

PRODUCTION = re.compile(r"\b(prod|production|live)\b", re.I)
GITLAB_RESERVED = {
    "stages", "variables", "include", "default", "workflow", "image", "services", "before_script",
    "after_script", "cache", "pages_deploy_stage",
}  # fmt: skip


@dataclass
class Step:
    text: str
    line: int

    def subject_for(self, job: Job) -> Subject:
        return Subject(path=job.path, line=self.line, name=job.subject.name)


@dataclass
class Job:
    system: str
    name: str
    path: str
    line: int
    steps: list[Step] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    stage: str | None = None
    timeout: Any = None
    soft_fail: bool = False
    environment: str | None = None
    manual: bool = False
    matrix: bool = False

    @property
    def subject(self) -> Subject:
        return Subject(path=self.path, line=self.line, name=f"{self.system} job {self.name}")

    def find(self, check_id: str) -> list[tuple[Step, str]]:
        pattern, exclude = TOOLS[check_id], NOT_THIS.get(check_id)
        return [
            (s, m.group(0))
            for s in self.steps
            for m in [pattern.search(s.text)]
            if m and not (exclude and exclude.search(s.text))
        ]

    @property
    def production(self) -> bool:
        return bool(PRODUCTION.search(f"{self.name} {self.environment or ''} {self.stage or ''}"))


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return "" if value is None else str(value)


MATRIX_REF = re.compile(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}")
MAX_MATRIX_LINES = 32


def _expand_matrix(text: str, matrix: Any) -> str:
    """The step's lines with each `${{ matrix.key }}` replaced by each value the matrix lists for it:
    `${{ matrix.build_cmd }} --push` over [./build.sh, ./build-latest.sh] runs `./build.sh --push`, ..."""
    if not isinstance(matrix, dict):
        return ""
    out: list[str] = []
    for line in text.splitlines():
        keys = [k for k in MATRIX_REF.findall(line) if isinstance(matrix.get(k), list)]
        if not keys:
            continue
        for value in matrix[keys[0]][:MAX_MATRIX_LINES]:
            if not isinstance(value, (str, int, float)):
                continue
            out.append(MATRIX_REF.sub(lambda m, v=value, k=keys[0]: str(v) if m.group(1) == k else m.group(0), line))
    return "\n".join(out[:MAX_MATRIX_LINES])


def github_jobs(path: str, doc: Any) -> list[Job]:
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), dict):
        return []
    jobs = []
    for name, spec in doc["jobs"].items():
        if not isinstance(spec, dict):
            continue
        job = Job("GitHub Actions", str(name), path, doc["jobs"].key_line(name))
        steps = spec.get("steps") or []
        strategy = spec.get("strategy") if isinstance(spec.get("strategy"), dict) else {}
        # `run: ${{ matrix.build_cmd }}`: what the step runs is in the matrix values.
        matrix_values = _text(strategy.get("matrix")) if strategy.get("matrix") else ""
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, dict):
                text = "\n".join(_text(step.get(k)) for k in ("name", "uses", "run", "with") if step.get(k) is not None)
                if matrix_values and "matrix." in text:
                    text += "\n" + _expand_matrix(text, strategy.get("matrix")) + "\n" + matrix_values
                job.steps.append(Step(text, steps.item_line(i)))
        if spec.get("uses"):  # a reusable workflow call
            job.steps.append(Step(f"{spec['uses']} {_text(spec.get('with'))}", spec.key_line("uses")))
        needs = spec.get("needs")
        job.needs = [str(n) for n in (needs if isinstance(needs, list) else [needs] if needs else [])]
        job.timeout = spec.get("timeout-minutes")
        job.soft_fail = spec.get("continue-on-error") is True or any(
            isinstance(s, dict) and s.get("continue-on-error") is True for s in steps if isinstance(steps, list)
        )
        env = spec.get("environment")
        job.environment = str(env.get("name") if isinstance(env, dict) else env) if env else None
        strategy = spec.get("strategy") or {}
        job.matrix = isinstance(strategy, dict) and "matrix" in strategy
        jobs.append(job)
    return jobs


def gitlab_jobs(path: str, doc: Any) -> list[Job]:
    if not isinstance(doc, dict):
        return []
    jobs = []
    for name, spec in doc.items():
        if str(name) in GITLAB_RESERVED or str(name).startswith(".") or not isinstance(spec, dict):
            continue
        if not any(k in spec for k in ("script", "trigger", "extends", "stage")):
            continue
        job = Job("GitLab CI", str(name), path, doc.key_line(name), stage=str(spec.get("stage") or "test"))
        for key in ("before_script", "script", "after_script"):
            if spec.get(key) is not None:
                job.steps.append(Step(_text(spec[key]), spec.key_line(key)))
        for key in ("image", "services", "variables", "cache", "extends"):
            if spec.get(key) is not None:
                job.steps.append(Step(f"{key}: {_text(spec[key])}", spec.key_line(key)))
        needs = spec.get("needs") or []
        job.needs = [str(n.get("job") if isinstance(n, dict) else n) for n in needs] if isinstance(needs, list) else []
        job.timeout = spec.get("timeout")
        job.soft_fail = spec.get("allow_failure") is True
        env = spec.get("environment")
        job.environment = str(env.get("name") if isinstance(env, dict) else env) if env else None
        rules = spec.get("rules") or []
        job.manual = spec.get("when") == "manual" or any(
            isinstance(r, dict) and r.get("when") == "manual" for r in (rules if isinstance(rules, list) else [])
        )
        job.matrix = isinstance(spec.get("parallel"), dict | int)
        jobs.append(job)
    includes = doc.get("include")
    if includes:
        jobs.append(
            Job("GitLab CI", "include", path, doc.key_line("include"), [Step(_text(includes), doc.key_line("include"))])
        )
    return jobs


def generic_jobs(system: str, path: str, doc: Any) -> list[Job]:
    """CircleCI, Azure Pipelines, Bitbucket: one job per named job/stage, its whole text as one step."""
    if not isinstance(doc, dict):
        return []
    containers = {"CircleCI": "jobs", "Azure Pipelines": "stages", "Bitbucket Pipelines": "pipelines"}
    section = doc.get(containers[system]) or doc.get("jobs") or doc.get("steps")
    if isinstance(section, dict):
        return [
            Job(system, str(k), path, section.key_line(k), [Step(_text(v), section.key_line(k))])
            for k, v in section.items()
        ]
    if isinstance(section, list):
        return [
            Job(system, f"#{i + 1}", path, section.item_line(i), [Step(_text(v), section.item_line(i))])
            for i, v in enumerate(section)
        ]
    return [Job(system, "pipeline", path, 1, [Step(_text(doc), 1)])]


JENKINS_STAGE = re.compile(r"stage\s*\(\s*['\"]([^'\"]+)['\"]\s*\)")


def jenkins_jobs(path: str, text: str) -> list[Job]:
    """Declarative Jenkinsfile: each stage(...) up to the next, with its text as steps (Groovy is not parsed)."""
    marks = list(JENKINS_STAGE.finditer(text))
    jobs = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.start() : end]
        line = text[: m.start()].count("\n") + 1
        job = Job("Jenkins", m.group(1), path, line, [Step(body, line)])
        job.timeout = (
            "set" if re.search(r"\btimeout\s*\(", body) or re.search(r"options\s*\{[^}]*timeout", text) else None
        )
        job.manual = bool(re.search(r"\binput\s*(\(|\{|message)", body))
        jobs.append(job)
    if not marks and text.strip():
        jobs.append(Job("Jenkins", "pipeline", path, 1, [Step(text, 1)]))
    return jobs


@dataclass
class Found:
    jobs: list[Job] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    updates: list[tuple[Subject, str]] = field(default_factory=list)
    policies: list[tuple[Subject, str]] = field(default_factory=list)
    invalid: list[tuple[Subject, str]] = field(default_factory=list)  # pipeline files the CI service would reject
    image_updates: list[tuple[Subject, str, bool]] = field(default_factory=list)  # where, what, tracks images


def _steps(job: Job, check_id: str) -> list[tuple[Step, str]]:
    return job.find(check_id)
