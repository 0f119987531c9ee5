"""The checks of the ci probe, as data: what each claims, why it matters, how to fix it."""

from __future__ import annotations

from readiness.model import Check


def _check(key: str, title: str, rationale: str, remediation: str) -> Check:
    return Check(f"ci.{key}", title, rationale, remediation)


PIPELINE_PRESENT = _check(
    "pipeline_present",
    "A CI pipeline is defined (GitHub Actions, GitLab CI, Jenkins, CircleCI, ...)",
    "Without a pipeline, every build, test and release depends on someone's laptop.",
    "Add a pipeline definition to the repository.",
)
PIPELINES_VALID = _check(
    "pipelines_valid",
    "Every pipeline definition parses (the CI service would not reject it)",
    "A workflow file that does not parse never runs: whatever it was meant to gate is silently ungated.",
    "Fix the file's syntax (actionlint, `gitlab-ci lint`) or delete the file.",
)
TESTS_RUN = _check(
    "tests_run",
    "CI runs the unit and integration tests",
    "Tests that CI does not run are not a gate.",
    "Run the test suite (pytest, npm test, go test, mvn verify...) on every push.",
)
LINT = _check(
    "lint",
    "CI runs linters or code-quality analysis",
    "Linters catch defects before review.",
    "Run ruff, eslint, golangci-lint, hadolint... in CI.",
)
SAST = _check(
    "sast",
    "CI runs static application security testing",
    "SAST finds injection and crypto misuse before they ship.",
    "Run CodeQL, Semgrep, Bandit, gosec or SonarQube in CI.",
)
DEPENDENCY_SCAN = _check(
    "dependency_scan",
    "CI scans dependencies for known vulnerabilities",
    "Most exploited vulnerabilities are in dependencies.",
    "Run pip-audit, npm audit, osv-scanner, govulncheck or trivy fs in CI.",
)
IMAGE_BUILD = _check(
    "image_build",
    "CI builds and tags container images or release artifacts",
    "Artifacts built by CI are reproducible and traceable to a commit.",
    "Build and tag images in CI (docker/build-push-action, buildx, kaniko).",
)
IMAGE_SCAN = _check(
    "image_scan",
    "CI scans built container images for vulnerabilities",
    "An image is scanned when it is built or not at all.",
    "Add Trivy, Grype or Docker Scout after the image build.",
)
ARTIFACT_PUSH = _check(
    "artifact_push",
    "CI pushes artifacts to a registry",
    "Deployments should pull what CI built, not rebuild it elsewhere.",
    "Push images and packages from CI (docker push, build-push-action push: true, twine, npm publish).",
)
DEPLOY_AUTOMATED = _check(
    "deploy_automated",
    "Deployments to each environment are automated by the pipeline",
    "Manual deployments drift and are not repeatable.",
    "Deploy from the pipeline (helm upgrade, kubectl apply, terraform apply, argocd sync...).",
)
APPROVAL_GATES = _check(
    "approval_gates",
    "Production deployments pass through approval gates (protected environments, manual approval)",
    "A second pair of eyes before production catches what the pipeline cannot.",
    "Deploy to production from a protected environment (GitHub environments with reviewers, GitLab when: manual).",
)
DEPLOY_STRATEGY = _check(
    "deploy_strategy",
    "Deployments use a blue-green or canary strategy",
    "Shifting traffic gradually limits the blast radius of a bad release.",
    "Deploy with Argo Rollouts, Flagger, CodeDeploy or a scripted canary.",
)
E2E_TESTS = _check(
    "e2e_tests",
    "An end-to-end test suite runs in CI against a deployed environment",
    "Only end-to-end tests exercise the system as users do.",
    "Run Playwright, Cypress or API suites against staging after deploying it.",
)
SMOKE_TESTS = _check(
    "smoke_tests",
    "Smoke tests run after each deployment",
    "A deployment is not done until its critical paths answer.",
    "After each deploy step, check health endpoints or run a smoke suite; fail the job if they fail.",
)
LOAD_TESTS = _check(
    "load_tests",
    "A load test (k6, Locust, JMeter, Gatling) is defined, runs, and its results are kept",
    "Capacity claims need measurements, kept to compare releases.",
    "Run k6/Locust/JMeter/Gatling in CI and upload the results as an artifact.",
)
MIGRATIONS_AUTOMATED = _check(
    "migrations_automated",
    "Database migrations run automatically as part of the deployment",
    "Hand-run migrations get skipped or run twice.",
    "Run alembic/flyway/liquibase/prisma migrate (...) from the deploy pipeline.",
)
PRE_DEPLOY_BACKUP = _check(
    "pre_deploy_backup",
    "The deploy pipeline takes a database backup or snapshot before deploying",
    "A snapshot taken just before a release is the quickest way back from a bad migration.",
    "Add a pg_dump / RDS snapshot step before the deploy step.",
)
ROLLBACK = _check(
    "rollback",
    "The pipeline has an automated rollback path",
    "A failed release should undo itself, not wait for a human.",
    "Use helm upgrade --atomic, or a failure() step running helm rollback / kubectl rollout undo.",
)
FAIL_FAST = _check(
    "fail_fast",
    "The pipeline stops early when a job fails",
    "A pipeline that carries on after failures hides them and wastes time.",
    "Do not set continue-on-error / allow_failure on test, build or deploy jobs.",
)
PARALLEL_JOBS = _check(
    "parallel_jobs",
    "Independent CI jobs run in parallel",
    "Parallel jobs keep feedback fast.",
    "Split lint, test and build into jobs without needs between them, or use a matrix.",
)
TIMEOUTS = _check(
    "timeouts",
    "CI jobs declare timeouts, with feedback stages bounded to the target duration",
    "A hung job holds a runner for hours (GitHub's default is 360 minutes).",
    "Set timeout-minutes (GitHub) or timeout (GitLab) on every job.",
)
DEPENDENCY_CACHE = _check(
    "dependency_cache",
    "CI caches dependencies and reuses build artifacts between jobs",
    "Caching keeps builds fast and less dependent on registries.",
    "Use actions/cache or the setup-* actions' cache input, GitLab cache:, CircleCI save_cache.",
)
DEPENDENCY_UPDATES = _check(
    "dependency_updates",
    "Automated dependency and base-image update pull requests (Dependabot, Renovate) are configured",
    "Dependencies left alone accumulate known vulnerabilities.",
    "Add .github/dependabot.yml (including the docker ecosystem) or a Renovate config.",
)
BASE_IMAGES_UPDATED = _check(
    "base_images_updated",
    "Base images are kept current: an update bot that tracks them, or images rebuilt on a schedule",
    "A bot that does not track Dockerfiles and compose images, or no bot at all, leaves base images to age.",
    "Enable Dependabot's docker (or docker-compose) ecosystem or Renovate's dockerfile managers, or rebuild the "
    "images on a schedule (a cron-triggered build).",
)
POLICY_ENFORCEMENT = _check(
    "policy_enforcement",
    "Security policies are enforced as code in CI or admission (OPA/conftest, Kyverno)",
    "Policies written as code are applied every time, not remembered.",
    "Run conftest/checkov/kube-linter in CI, or enforce with Kyverno or Gatekeeper.",
)
DAST = _check(
    "dast",
    "Dynamic application security testing runs against staging",
    "DAST finds what only a running application shows.",
    "Run OWASP ZAP (baseline or full scan) or nuclei against staging in CI.",
)
CHECKS = (
    PIPELINE_PRESENT,
    PIPELINES_VALID,
    TESTS_RUN,
    LINT,
    SAST,
    DEPENDENCY_SCAN,
    IMAGE_BUILD,
    IMAGE_SCAN,
    ARTIFACT_PUSH,
    DEPLOY_AUTOMATED,
    APPROVAL_GATES,
    DEPLOY_STRATEGY,
    E2E_TESTS,
    SMOKE_TESTS,
    LOAD_TESTS,
    MIGRATIONS_AUTOMATED,
    PRE_DEPLOY_BACKUP,
    ROLLBACK,
    FAIL_FAST,
    PARALLEL_JOBS,
    TIMEOUTS,
    DEPENDENCY_CACHE,
    DEPENDENCY_UPDATES,
    BASE_IMAGES_UPDATED,
    POLICY_ENFORCEMENT,
    DAST,
)
