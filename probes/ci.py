"""CI/CD pipelines as the repository defines them: what they run, in which order, and how they guard releases.

Read: GitHub Actions workflows, GitLab CI (with local ``include:`` files), CircleCI, Azure Pipelines,
Bitbucket Pipelines (jobs and their scripts), a declarative Jenkinsfile (stages and ``sh`` steps found by
pattern: Groovy is not parsed), Dependabot and Renovate configuration, and policy-as-code (conftest/OPA
policies, Kyverno and Gatekeeper manifests).

Each job becomes a list of steps with their text (``run`` scripts, ``uses`` actions and their inputs), and
the tools a step runs are recognised by name (``pytest``, ``trivy image``, ``helm upgrade --atomic``...).
Steps are kept in order, so "a backup before the deploy" and "smoke tests after it" are judged on the
order the pipeline runs them in. What lives in the CI service's settings rather than in the files
(GitHub environment protection rules, GitLab's project timeout) is reported as such, not guessed.

This module holds the probe and its judgements; pipelines become jobs in ci_pipelines, the checks are
declared in ci_checks, the tools a step runs in ci_tools, files steps call in ci_follow, and what the
deployment itself runs (migrations) or Renovate tracks in ci_repository.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from readiness.probes.ci_checks import (
    APPROVAL_GATES,
    ARTIFACT_PUSH,
    BASE_IMAGES_UPDATED,
    CHECKS,
    DAST,
    DEPENDENCY_CACHE,
    DEPENDENCY_SCAN,
    DEPENDENCY_UPDATES,
    DEPLOY_AUTOMATED,
    DEPLOY_STRATEGY,
    E2E_TESTS,
    FAIL_FAST,
    IMAGE_BUILD,
    IMAGE_SCAN,
    LINT,
    LOAD_TESTS,
    MIGRATIONS_AUTOMATED,
    PARALLEL_JOBS,
    PIPELINE_PRESENT,
    PIPELINES_VALID,
    POLICY_ENFORCEMENT,
    PRE_DEPLOY_BACKUP,
    ROLLBACK,
    SAST,
    SMOKE_TESTS,
    TESTS_RUN,
    TIMEOUTS,
)
from readiness.probes.ci_follow import Follower
from readiness.probes.ci_tools import TOOLS

from readiness import safe_load
from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

from .ci_pipelines import (
    Found,
    Job,
    Step,
    _steps,
    generic_jobs,
    github_jobs,
    gitlab_jobs,
    jenkins_jobs,
)
from .ci_repository import (
    _read_repository_file,
    _renovate,
    deployment_migrations,
)

MIGRATION_DIRS = ("alembic/", "migrations/", "db/migrate/", "prisma/migrations/", "flyway/", "liquibase/")
CLAIMS = (
    Claim((".github/workflows/*.yml", ".github/workflows/*.yaml", ".github/actions/**/action.yml")),
    Claim((".gitlab-ci.yml", ".gitlab/**/*.yml", ".gitlab/**/*.yaml", "ci/*.yml", "ci/*.yaml")),
    Claim((".circleci/config.yml", "azure-pipelines.yml", "azure-pipelines/*.yml", "bitbucket-pipelines.yml")),
    Claim(("Jenkinsfile", "*.Jenkinsfile", "jenkins/*.groovy")),
    Claim((".github/dependabot.yml", ".github/dependabot.yaml", "renovate.json", "renovate.json5")),
    Claim((".renovaterc", ".renovaterc.json", ".github/renovate.json", "package.json")),
    Claim(("policy/*.rego", "policies/*.rego", "**/*.rego")),
    Claim(("*.yaml", "*.yml"), sniff=re.compile(rb"kind:\s*(ClusterPolicy|ConstraintTemplate|Policy)\b")),
)


class CiProbe(Probe):
    name = "ci"
    version = "0.1.0"
    kind = "static"
    description = (
        "CI/CD pipelines: tests, scans, builds, deployments and their guards; dependency updates; policy as code."
    )
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset(
        {
            "ci.pipeline_present",
            "ci.tests_run",
            "ci.lint",
            "ci.sast",
            "ci.dependency_scan",
            "ci.image_build",
            "ci.image_scan",
            "ci.artifact_push",
            "ci.deploy_automated",
            "ci.approval_gates",
            "ci.deploy_strategy",
            "ci.e2e_tests",
            "ci.smoke_tests",
            "ci.load_tests",
            "ci.rollback",
            "ci.parallel_jobs",
            "ci.dependency_cache",
            "ci.dependency_updates",
            "ci.base_images_updated",
            "ci.policy_enforcement",
            "ci.dast",
        }
    )

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        found = Found()
        universal = tuple(c.id for c in CHECKS if c.id not in self.existential_checks and c is not PIPELINES_VALID)
        for art in ctx.artifacts:
            with ctx.guard(art):
                try:
                    self._read(ctx, art, found)
                except ArtifactUnreadable as exc:
                    # An invalid pipeline is a finding of its own; it cannot disprove what other pipelines prove.
                    where = Subject(path=art.path, line=exc.line)
                    found.invalid.append((where, str(exc)))
                    ctx.emitted.extend(ctx.errors(where, str(exc), art.production, universal))
        follower = Follower(lambda path: _read_repository_file(ctx, path))
        for job in found.jobs:
            job.steps = [Step(f"{s.text}\n{follower.expand(s.text)}".rstrip(), s.line) for s in job.steps]
        yield from self._judge(ctx, found)

    def _read(self, ctx: ProbeContext, art: Artifact, found: Found) -> None:
        path, name = art.path, posixpath.basename(art.path)
        text = ctx.read_text(art)
        if name.endswith(".rego"):
            found.policies.append((Subject(path=path, line=1), "an OPA/Rego policy"))
            return
        if name == "package.json":
            data = safe_load.load_json(text)
            if isinstance(data, dict) and "renovate" in data:
                found.updates.append((Subject(path=path, line=1), "Renovate (package.json)"))
                found.image_updates.append(_renovate(path, data["renovate"]))
            return
        if "renovate" in name:
            found.updates.append((Subject(path=path, line=1), "Renovate"))
            found.image_updates.append(_renovate(path, text))
            return
        if name == "Jenkinsfile" or name.endswith((".Jenkinsfile", ".groovy")):
            found.files.append(path)
            found.jobs += jenkins_jobs(path, text)
            return
        docs = ctx.read_yaml(art)
        doc = docs[0] if docs else None
        if name.startswith("dependabot"):
            ecosystems = [
                str(u.get("package-ecosystem")) for u in (doc or {}).get("updates") or [] if isinstance(u, dict)
            ]
            found.updates.append(
                (Subject(path=path, line=1), f"Dependabot ({', '.join(ecosystems) or 'no ecosystem'})")
            )
            docker = [e for e in ecosystems if e in ("docker", "docker-compose")]
            what = (
                f"Dependabot tracks {', '.join(docker)} images" if docker else "Dependabot tracks no docker ecosystem"
            )
            found.image_updates.append((Subject(path=path, line=1), what, bool(docker)))
            return
        if any(
            isinstance(d, dict) and d.get("kind") in ("ClusterPolicy", "Policy", "ConstraintTemplate") for d in docs
        ):
            kind = next(d["kind"] for d in docs if isinstance(d, dict) and d.get("kind"))
            found.policies.append((Subject(path=path, line=1), f"a {kind} admission policy"))
            return
        if path.startswith(".github/"):
            found.files.append(path)
            jobs = [j for d in docs for j in github_jobs(path, d)]
            found.jobs += jobs
            triggers = (doc.get("on", doc.get(True)) if isinstance(doc, dict) else None) or {}
            if isinstance(triggers, dict) and "schedule" in triggers:
                builds = [(j, st) for j in jobs for st, _ in j.find(IMAGE_BUILD.id)]
                if builds:
                    j, st = builds[0]
                    found.image_updates.append((st.subject_for(j), "images rebuilt on a schedule", True))
        elif path.startswith((".gitlab", "ci/")) or name == ".gitlab-ci.yml":
            found.files.append(path)
            found.jobs += [j for d in docs for j in gitlab_jobs(path, d)]
        elif path.startswith(".circleci/"):
            found.files.append(path)
            found.jobs += generic_jobs("CircleCI", path, doc)
        elif name.startswith("azure-pipelines") or path.startswith("azure-pipelines/"):
            found.files.append(path)
            found.jobs += generic_jobs("Azure Pipelines", path, doc)
        elif name == "bitbucket-pipelines.yml":
            found.files.append(path)
            found.jobs += generic_jobs("Bitbucket Pipelines", path, doc)

    def _base_images(self, ctx: ProbeContext, found: Found) -> Iterator[Observation]:
        tracking = [(w, m) for w, m, ok in found.image_updates if ok]
        for where, message in tracking:
            yield ctx.observe(BASE_IMAGES_UPDATED.id, Status.PASS, where, message)
        if tracking:
            return
        for where, message, _ in found.image_updates:
            yield ctx.observe(BASE_IMAGES_UPDATED.id, Status.FAIL, where, message)
        if not found.image_updates:
            message = "no update bot tracks the images and no workflow rebuilds them on a schedule"
            yield ctx.observe(BASE_IMAGES_UPDATED.id, Status.FAIL, Subject(), message)

    def _judge(self, ctx: ProbeContext, found: Found) -> Iterator[Observation]:
        jobs = found.jobs
        for subject, reason in found.invalid:
            yield ctx.observe(PIPELINES_VALID.id, Status.FAIL, subject, f"the CI service would reject it: {reason}")
        if found.files and not found.invalid:
            message = f"{len(found.files)} pipeline file(s) parse"
            yield ctx.observe(PIPELINES_VALID.id, Status.PASS, Subject(path=found.files[0], line=1), message)
        if not found.files:
            looked = ".github/workflows, .gitlab-ci.yml, .circleci, azure-pipelines.yml, bitbucket-pipelines.yml, "
            looked += "Jenkinsfile"
            yield ctx.observe(PIPELINE_PRESENT.id, Status.FAIL, Subject(), f"no CI pipeline (looked for {looked})")
            yield from self._migrations(ctx, [], [])
            for check in CHECKS[1:]:
                if check not in (DEPENDENCY_UPDATES, POLICY_ENFORCEMENT, MIGRATIONS_AUTOMATED, BASE_IMAGES_UPDATED):
                    yield ctx.observe(check.id, Status.FAIL, Subject(), "no CI pipeline in the repository")
        else:
            systems = sorted({j.system for j in jobs}) or ["a pipeline file"]
            message = f"{len(jobs)} job(s) in {', '.join(systems)}: {', '.join(found.files[:5])}"
            yield ctx.observe(PIPELINE_PRESENT.id, Status.PASS, Subject(path=found.files[0], line=1), message)
            yield from self._judge_jobs(ctx, jobs, found)
        yield from self._listed(ctx, DEPENDENCY_UPDATES, found.updates, "no Dependabot or Renovate configuration")
        yield from self._base_images(ctx, found)
        in_ci = [(s.subject_for(j), m) for j in jobs for s, m in _steps(j, POLICY_ENFORCEMENT.id)] if jobs else []
        policies = found.policies + [(subj, f"CI runs {m}") for subj, m in in_ci]
        yield from self._listed(
            ctx, POLICY_ENFORCEMENT, policies, "no policy-as-code (conftest, OPA, Kyverno, checkov) found"
        )

    @staticmethod
    def _listed(
        ctx: ProbeContext, check: Check, items: list[tuple[Subject, str]], missing: str
    ) -> Iterator[Observation]:
        for subject, what in items:
            yield ctx.observe(check.id, Status.PASS, subject, what)
        if not items:
            yield ctx.observe(check.id, Status.FAIL, Subject(), missing)

    def _judge_jobs(self, ctx: ProbeContext, jobs: list[Job], found: Found) -> Iterator[Observation]:
        simple = (TESTS_RUN, LINT, SAST, DEPENDENCY_SCAN, IMAGE_BUILD, ARTIFACT_PUSH, DEPLOY_AUTOMATED, E2E_TESTS, DAST)
        for check in (*simple, DEPENDENCY_CACHE):
            yield from self._recognised(ctx, check, jobs, weak=check is E2E_TESTS)
        deploys = [(j, s) for j in jobs for s, _ in _steps(j, DEPLOY_AUTOMATED.id)]
        builds = [j for j in jobs if j.find(IMAGE_BUILD.id)]
        yield from self._image_scan(ctx, jobs, builds)
        yield from self._load_tests(ctx, jobs)
        yield from self._migrations(ctx, jobs, deploys)
        for check in (DEPLOY_STRATEGY, ROLLBACK):
            yield from self._needs_deploys(ctx, check, jobs, deploys)
        yield from self._around_deploys(ctx, deploys, jobs)
        yield from self._approval(ctx, deploys)
        yield from self._fail_fast(ctx, jobs)
        yield from self._parallel(ctx, jobs)
        yield from self._timeouts(ctx, jobs)

    @staticmethod
    def _recognised(ctx: ProbeContext, check: Check, jobs: list[Job], weak: bool = False) -> Iterator[Observation]:
        hits = [(j, s, m) for j in jobs for s, m in _steps(j, check.id)]
        seen = set()
        for job, step, match in hits:
            if (job.path, job.name) in seen:
                continue
            seen.add((job.path, job.name))
            note = (
                " (recognised by name only)"
                if weak and match.lower() in ("e2e", "end-to-end", "robot", "selenium")
                else ""
            )
            subject = Subject(path=job.path, line=step.line, name=job.subject.name)
            yield ctx.observe(check.id, Status.PASS, subject, f"{job.name} runs {match}{note}", facts={"tool": match})
        if not hits:
            yield ctx.observe(check.id, Status.FAIL, Subject(), f"no pipeline step does this: {check.title}")

    def _image_scan(self, ctx: ProbeContext, jobs: list[Job], builds: list[Job]) -> Iterator[Observation]:
        hits = [(j, s, m) for j in jobs for s, m in _steps(j, IMAGE_SCAN.id)]
        for job, step, match in hits:
            subject = Subject(path=job.path, line=step.line, name=job.subject.name)
            yield ctx.observe(IMAGE_SCAN.id, Status.PASS, subject, f"{job.name} runs {match}")
        if not hits:
            status = Status.FAIL if builds else Status.NOT_APPLICABLE
            message = (
                f"images are built ({', '.join(j.name for j in builds[:3])}) but never scanned"
                if builds
                else "CI builds no image"
            )
            yield ctx.observe(IMAGE_SCAN.id, status, builds[0].subject if builds else Subject(), message)

    def _load_tests(self, ctx: ProbeContext, jobs: list[Job]) -> Iterator[Observation]:
        hits = [(j, s, m) for j in jobs for s, m in _steps(j, LOAD_TESTS.id)]
        for job, step, match in hits:
            kept = any(re.search(r"upload-artifact|artifacts:", s.text) for s in job.steps)
            status = Status.PASS if kept else Status.FAIL
            message = f"{job.name} runs {match}" + (
                "; results uploaded as an artifact" if kept else "; its results are not kept (no artifact upload)"
            )
            yield ctx.observe(
                LOAD_TESTS.id, status, Subject(path=job.path, line=step.line, name=job.subject.name), message
            )
        if not hits:
            yield ctx.observe(
                LOAD_TESTS.id, Status.FAIL, Subject(), "no load test (k6, Locust, JMeter, Gatling) runs in CI"
            )

    def _migrations(self, ctx: ProbeContext, jobs: list[Job], deploys: list) -> Iterator[Observation]:
        hits = [(j, s, m) for j in jobs for s, m in _steps(j, MIGRATIONS_AUTOMATED.id)]
        for job, step, match in hits:
            yield ctx.observe(
                MIGRATIONS_AUTOMATED.id,
                Status.PASS,
                Subject(path=job.path, line=step.line, name=job.subject.name),
                f"{job.name} runs {match}",
            )
        if hits:
            return
        started = list(deployment_migrations(ctx))
        for subject, message in started:
            yield ctx.observe(MIGRATIONS_AUTOMATED.id, Status.PASS, subject, message)
        if started:
            return
        dirs = sorted(
            {
                a.path.split("/")[0] + "/"
                for a in ctx.all_artifacts
                if any(f"/{d}" in f"/{a.path}" for d in MIGRATION_DIRS)
            }
        )
        if dirs:
            yield ctx.observe(
                MIGRATIONS_AUTOMATED.id,
                Status.FAIL,
                Subject(),
                f"migrations exist ({', '.join(dirs[:3])}) but neither a pipeline step nor the deployment runs them",
            )
        else:
            yield ctx.observe(
                MIGRATIONS_AUTOMATED.id,
                Status.UNKNOWN,
                Subject(),
                "no migrations in the repository, and none run by CI or by the deployment",
            )

    def _needs_deploys(self, ctx: ProbeContext, check: Check, jobs: list[Job], deploys: list) -> Iterator[Observation]:
        hits = [(j, s, m) for j in jobs for s, m in _steps(j, check.id)]
        for job, step, match in hits:
            yield ctx.observe(
                check.id,
                Status.PASS,
                Subject(path=job.path, line=step.line, name=job.subject.name),
                f"{job.name} runs {match}",
            )
        if not hits:
            status = Status.FAIL if deploys else Status.UNKNOWN
            message = (
                "the pipeline deploys without it"
                if deploys
                else "the pipeline does not deploy: how releases are made is not in the repository"
            )
            yield ctx.observe(check.id, status, deploys[0][0].subject if deploys else Subject(), message)

    def _around_deploys(self, ctx: ProbeContext, deploys: list, jobs: list[Job]) -> Iterator[Observation]:
        """A backup before each deploy step and a smoke test after it, in the same job or a job around it."""
        if not deploys:
            for check in (PRE_DEPLOY_BACKUP, SMOKE_TESTS):
                yield ctx.observe(check.id, Status.UNKNOWN, Subject(), "the pipeline does not deploy")
            return
        for job, step in deploys:
            before = [s for s in job.steps if s.line < step.line] + [
                s for j in jobs if j.name in job.needs for s in j.steps
            ]
            after = [s for s in job.steps if s.line > step.line] + [
                s for j in jobs if job.name in j.needs for s in j.steps
            ]
            subject = Subject(path=job.path, line=step.line, name=job.subject.name)
            for check, steps, where in ((PRE_DEPLOY_BACKUP, before, "before"), (SMOKE_TESTS, after, "after")):
                match = next((m.group(0) for s in steps for m in [TOOLS[check.id].search(s.text)] if m), None)
                if match:
                    yield ctx.observe(check.id, Status.PASS, subject, f"{job.name}: {match} runs {where} the deploy")
                else:
                    yield ctx.observe(
                        check.id, Status.FAIL, subject, f"{job.name}: nothing {where} the deploy step does it"
                    )

    def _approval(self, ctx: ProbeContext, deploys: list) -> Iterator[Observation]:
        jobs = list({id(j): j for j, _ in deploys}.values())
        if not jobs:
            yield ctx.observe(APPROVAL_GATES.id, Status.UNKNOWN, Subject(), "the pipeline does not deploy")
            return
        for job in jobs:
            if job.manual:
                yield ctx.observe(
                    APPROVAL_GATES.id, Status.PASS, job.subject, f"{job.name} waits for a manual approval"
                )
            elif job.environment:
                message = (
                    f"{job.name} deploys to environment {job.environment!r}: whether it requires reviewers is set in "
                    "the CI service's settings, not in the repository"
                )
                yield ctx.observe(
                    APPROVAL_GATES.id, Status.UNKNOWN, job.subject, message, facts={"environment": job.environment}
                )
            else:
                yield ctx.observe(
                    APPROVAL_GATES.id,
                    Status.FAIL,
                    job.subject,
                    f"{job.name} deploys with no environment or manual gate",
                )

    def _fail_fast(self, ctx: ProbeContext, jobs: list[Job]) -> Iterator[Observation]:
        soft = [j for j in jobs if j.soft_fail]
        for job in soft:
            yield ctx.observe(
                FAIL_FAST.id,
                Status.FAIL,
                job.subject,
                f"{job.name} carries on after failures (continue-on-error / allow_failure)",
            )
        if not soft:
            yield ctx.observe(
                FAIL_FAST.id, Status.PASS, Subject(), f"none of the {len(jobs)} job(s) opts out of failing"
            )

    def _parallel(self, ctx: ProbeContext, jobs: list[Job]) -> Iterator[Observation]:
        independent = [j for j in jobs if not j.needs]
        by_stage: dict[tuple[str, str | None], int] = {}
        for j in jobs:
            by_stage[(j.path, j.stage)] = by_stage.get((j.path, j.stage), 0) + 1
        matrix = [j for j in jobs if j.matrix]
        if len(independent) >= 2 or matrix or any(n >= 2 for (_, stage), n in by_stage.items() if stage):
            names = ", ".join(j.name for j in (matrix or independent)[:4])
            yield ctx.observe(
                PARALLEL_JOBS.id,
                Status.PASS,
                Subject(path=jobs[0].path if jobs else None),
                f"jobs run side by side ({names})",
            )
        else:
            yield ctx.observe(
                PARALLEL_JOBS.id, Status.FAIL, Subject(), "every job waits for another (or there is one job)"
            )

    def _timeouts(self, ctx: ProbeContext, jobs: list[Job]) -> Iterator[Observation]:
        for job in jobs:
            if job.timeout is not None:
                yield ctx.observe(TIMEOUTS.id, Status.PASS, job.subject, f"{job.name} times out after {job.timeout}")
            elif job.system == "GitHub Actions":
                yield ctx.observe(
                    TIMEOUTS.id,
                    Status.FAIL,
                    job.subject,
                    f"{job.name} has no timeout-minutes (GitHub's default: 360 minutes)",
                )
            elif job.system == "GitLab CI":
                yield ctx.observe(
                    TIMEOUTS.id,
                    Status.UNKNOWN,
                    job.subject,
                    f"{job.name} has no timeout: the project setting applies (60 minutes unless changed)",
                )
            else:
                yield ctx.observe(TIMEOUTS.id, Status.UNKNOWN, job.subject, f"{job.name}: no timeout in the file")
