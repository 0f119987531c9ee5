"""Credential rules of the secrets probe, and the line scanner that applies them.

Each rule has keywords; a line reaches a rule's regex only when an Aho-Corasick
automaton found one of its keywords in it (gitleaks' prefilter), so most lines
never meet a regex. The secret itself is group ``secret`` of each regex; it is
hashed and masked here and never leaves this module in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import ahocorasick


@dataclass(frozen=True)
class Rule:
    """One credential format: keywords for the prefilter, a regex with group ``secret``."""

    id: str
    description: str
    keywords: tuple[str, ...]
    regex: re.Pattern[str]
    min_entropy: float = 0.0
    generic: bool = False  # generic assignments: placeholders and entropy matter most


@dataclass(frozen=True)
class Finding:
    """A secret found on one line. Carries no secret value, only its fingerprint and a masked prefix."""

    rule: str
    line: int
    fingerprint: str
    masked: str


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_ASSIGN = r"""(?:\s*[:=]\s*|\s*=>\s*|"\s*:\s*)["']?"""
RULES: tuple[Rule, ...] = (
    Rule(
        "aws-access-key-id",
        "AWS access key id",
        ("akia", "asia", "abia", "acca"),
        _r(r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b"),
    ),
    Rule(
        "aws-secret-access-key",
        "AWS secret access key",
        ("aws_secret", "secret_access_key", "secretaccesskey"),
        _r(
            r"(?i)(?:aws_?secret_?access_?key|secretaccesskey)"
            + _ASSIGN
            + r"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        min_entropy=3.5,
    ),
    Rule(
        "gcp-service-account",
        "GCP service-account private key",
        ("private_key_id",),
        _r(r'"private_key_id"\s*:\s*"(?P<secret>[a-f0-9]{40})"'),
    ),
    Rule(
        "azure-storage-key",
        "Azure storage account key / connection string",
        ("accountkey",),
        _r(r"(?i)AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)"),
    ),
    Rule(
        "private-key",
        "PEM / OpenSSH / PGP private key block",
        ("private key-----",),
        _r(r"-----BEGIN (?P<secret>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"),
    ),
    Rule(
        "github-token",
        "GitHub token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        _r(r"\b(?P<secret>(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}))\b"),
    ),
    Rule("gitlab-token", "GitLab personal access token", ("glpat-",), _r(r"\b(?P<secret>glpat-[A-Za-z0-9_\-]{20})\b")),
    Rule(
        "slack-token",
        "Slack token",
        ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"),
        _r(r"\b(?P<secret>xox[bpars]-[0-9]{10,13}-[0-9]{10,13}(?:-[A-Za-z0-9]{24,34})?)"),
    ),
    Rule(
        "slack-webhook",
        "Slack incoming webhook",
        ("hooks.slack.com",),
        _r(r"(?P<secret>https://hooks\.slack\.com/services/T[A-Z0-9]{8,10}/B[A-Z0-9]{8,10}/[A-Za-z0-9]{24})"),
    ),
    Rule(
        "stripe-key",
        "Stripe secret / restricted key",
        ("sk_live_", "rk_live_", "sk_test_", "rk_test_"),
        _r(r"\b(?P<secret>[sr]k_(?:live|test)_[A-Za-z0-9]{24,99})\b"),
    ),
    Rule("twilio-key", "Twilio API key", ("sk",), _r(r"\b(?P<secret>SK[0-9a-f]{32})\b")),
    Rule(
        "sendgrid-key", "SendGrid API key", ("sg.",), _r(r"\b(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})\b")
    ),
    Rule("npm-token", "npm access token", ("npm_",), _r(r"\b(?P<secret>npm_[A-Za-z0-9]{36})\b")),
    Rule("pypi-token", "PyPI upload token", ("pypi-ag",), _r(r"\b(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})")),
    Rule(
        "dockerhub-token",
        "Docker Hub personal access token",
        ("dckr_pat_",),
        _r(r"\b(?P<secret>dckr_pat_[A-Za-z0-9_\-]{27})\b"),
    ),
    # Provider tokens with a recognisable prefix or shape, each written from the provider's documented format.
    Rule(
        "gitlab-other-token",
        "GitLab deploy, runner, trigger, feed or OAuth token",
        ("gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glimt-", "gloas-", "glcbt-"),
        _r(r"\b(?P<secret>(?:gldt|glrt|glft|glsoat|glimt|gloas|glcbt)-[A-Za-z0-9_\-]{20,}|glptt-[0-9a-f]{40})\b"),
    ),
    Rule(
        "slack-app-token",
        "Slack app-level token",
        ("xapp-",),
        _r(r"\b(?P<secret>xapp-\d-[A-Z0-9]{9,12}-\d{10,14}-[a-f0-9]{40,70})\b"),
    ),
    Rule(
        "openai-key",
        "OpenAI API key",
        ("sk-proj-", "sk-svcacct-", "t3blbkfj"),
        _r(r"\b(?P<secret>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b"),
    ),
    Rule(
        "anthropic-key",
        "Anthropic API key",
        ("sk-ant-",),
        _r(r"\b(?P<secret>sk-ant-(?:api\d\d|admin\d\d)-[A-Za-z0-9_\-]{80,})"),
    ),
    Rule("huggingface-token", "Hugging Face access token", ("hf_",), _r(r"\b(?P<secret>hf_[A-Za-z]{34})\b")),
    Rule(
        "shopify-token",
        "Shopify access token or shared secret",
        ("shpat_", "shpss_", "shpca_", "shppa_"),
        _r(r"\b(?P<secret>shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32})\b"),
    ),
    Rule(
        "digitalocean-token",
        "DigitalOcean personal, OAuth or refresh token",
        ("dop_v1_", "doo_v1_", "dor_v1_"),
        _r(r"\b(?P<secret>do[opr]_v1_[a-f0-9]{64})\b"),
    ),
    Rule("databricks-token", "Databricks access token", ("dapi",), _r(r"\b(?P<secret>dapi[a-f0-9]{32}(?:-\d)?)\b")),
    Rule(
        "vault-token",
        "HashiCorp Vault service or batch token",
        ("hvs.", "hvb."),
        _r(r"\b(?P<secret>hv[sb]\.[A-Za-z0-9_\-]{90,})"),
    ),
    Rule(
        "terraform-cloud-token",
        "Terraform Cloud / Enterprise API token",
        (".atlasv1.",),
        _r(r"\b(?P<secret>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70})"),
    ),
    Rule("linear-key", "Linear API key", ("lin_api_",), _r(r"\b(?P<secret>lin_api_[A-Za-z0-9]{40})\b")),
    Rule("newrelic-key", "New Relic user API key", ("nrak-",), _r(r"\b(?P<secret>NRAK-[A-Z0-9]{27})\b")),
    Rule("postman-key", "Postman API key", ("pmak-",), _r(r"\b(?P<secret>PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b")),
    Rule("doppler-token", "Doppler personal token", ("dp.pt.",), _r(r"\b(?P<secret>dp\.pt\.[A-Za-z0-9]{43})\b")),
    Rule("pulumi-token", "Pulumi access token", ("pul-",), _r(r"\b(?P<secret>pul-[a-f0-9]{40})\b")),
    Rule(
        "grafana-token",
        "Grafana Cloud API or service-account token",
        ("glc_", "glsa_"),
        _r(r"\b(?P<secret>glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})"),
    ),
    Rule(
        "age-secret-key",
        "age encryption secret key",
        ("age-secret-key-1",),
        _r(r"\b(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b"),
    ),
    Rule(
        "onepassword-service-token",
        "1Password service account token",
        ("ops_eyj",),
        _r(r"\b(?P<secret>ops_eyJ[A-Za-z0-9+/=_\-]{250,})"),
    ),
    Rule(
        "sentry-token",
        "Sentry organisation or user auth token",
        ("sntrys_", "sntryu_"),
        _r(r"\b(?P<secret>sntrys_eyJ[A-Za-z0-9+/=_\-]{80,}|sntryu_[a-f0-9]{64})"),
    ),
    Rule(
        "gcp-api-key", "Google Cloud API key", ("aiza",), _r(r"\b(?P<secret>AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])")
    ),
    Rule("alibaba-access-key", "Alibaba Cloud AccessKey ID", ("ltai",), _r(r"\b(?P<secret>LTAI[A-Za-z0-9]{12,20})\b")),
    Rule(
        "planetscale-token",
        "PlanetScale service token or password",
        ("pscale_tkn_", "pscale_pw_", "pscale_oauth_"),
        _r(r"\b(?P<secret>pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.\-]{32,64})"),
    ),
    Rule("supabase-token", "Supabase personal access token", ("sbp_",), _r(r"\b(?P<secret>sbp_[a-f0-9]{40})\b")),
    Rule(
        "mailgun-key",
        "Mailgun API key",
        ("mailgun",),
        _r(r"(?i)mailgun[\w.\-]*[\"']?\s*[:=]\s*[\"']?(?P<secret>key-[0-9a-f]{32})\b"),
    ),
    Rule("mailchimp-key", "Mailchimp API key", ("-us",), _r(r"\b(?P<secret>[0-9a-f]{32}-us\d{1,2})\b")),
    Rule(
        "telegram-bot-token",
        "Telegram bot token",
        (":aa",),
        _r(r"\b(?P<secret>\d{8,10}:AA[A-Za-z0-9_\-]{33})(?![A-Za-z0-9_\-])"),
    ),
    Rule(
        "discord-bot-token",
        "Discord bot token",
        ("discord",),
        _r(
            r"(?i)discord[\w.\-]*[\"']?\s*[:=]\s*[\"']?(?P<secret>[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})"
        ),
    ),
    Rule(
        "square-token",
        "Square access token or OAuth secret",
        ("sq0atp-", "sq0csp-", "eaaa"),
        _r(
            r"\b(?P<secret>sq0atp-[0-9A-Za-z_\-]{22}|sq0csp-[0-9A-Za-z_\-]{43}|EAAA[A-Za-z0-9_\-]{60})(?![A-Za-z0-9_\-])"
        ),
        min_entropy=3.5,
    ),
    Rule(
        "mapbox-secret-token",
        "Mapbox secret access token",
        ("sk.eyj",),
        _r(r"\b(?P<secret>sk\.eyJ[A-Za-z0-9_\-]{40,}\.[A-Za-z0-9_\-]{20,})"),
    ),
    Rule(
        "dynatrace-token",
        "Dynatrace API token",
        ("dt0c01.",),
        _r(r"\b(?P<secret>dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b"),
    ),
    Rule(
        "flutterwave-key",
        "Flutterwave secret key",
        ("flwseck",),
        _r(r"\b(?P<secret>FLWSECK(?:_TEST)?-[a-h0-9]{32}-X)"),
    ),
    Rule(
        "atlassian-token",
        "Atlassian API token",
        ("atatt3",),
        _r(r"\b(?P<secret>ATATT3[A-Za-z0-9_\-=]{150,})"),
    ),
    Rule(
        "azure-ad-client-secret",
        "Microsoft Entra ID (Azure AD) client secret",
        ("q~",),
        _r(r"(?<![A-Za-z0-9_~.\-])(?P<secret>[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?![A-Za-z0-9_~.\-])"),
    ),
    Rule(
        "azure-devops-pat",
        "Azure DevOps personal access token",
        ("azdo",),
        _r(r"\b(?P<secret>[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})\b"),
    ),
    Rule(
        "azure-sas-token",
        "Azure shared access signature",
        ("sig=",),
        _r(r"[?&]sv=\d{4}-\d\d-\d\d[^\s\"']*?&sig=(?P<secret>[A-Za-z0-9%+/]{40,90})"),
    ),
    Rule(
        "azure-shared-access-key",
        "Azure Service Bus / Event Hubs shared access key",
        ("sharedaccesskey=",),
        _r(r"SharedAccessKey=(?P<secret>[A-Za-z0-9+/]{43}=)"),
    ),
    Rule(
        "brevo-key",
        "Brevo (Sendinblue) API key",
        ("xkeysib-",),
        _r(r"\b(?P<secret>xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16})\b"),
    ),
    Rule(
        "jfrog-token",
        "JFrog API key or reference token",
        ("akcp", "cmvmdgtuojaxoj"),
        _r(r"\b(?P<secret>AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9]{50,})\b"),
    ),
    Rule(
        "contentful-token",
        "Contentful personal access token",
        ("cfpat-",),
        _r(r"\b(?P<secret>CFPAT-[A-Za-z0-9_\-]{43})"),
    ),
    Rule("netlify-token", "Netlify personal access token", ("nfp_",), _r(r"\b(?P<secret>nfp_[A-Za-z0-9]{36})\b")),
    Rule("heroku-key", "Heroku API key", ("hrku-",), _r(r"\b(?P<secret>HRKU-AA[A-Za-z0-9_\-]{58})")),
    Rule("rubygems-key", "RubyGems API key", ("rubygems_",), _r(r"\b(?P<secret>rubygems_[a-f0-9]{48})\b")),
    Rule("nuget-key", "NuGet API key", ("oy2",), _r(r"\b(?P<secret>oy2[a-z0-9]{43})\b"), min_entropy=3.5),
    Rule(
        "cloudflare-origin-ca-key",
        "Cloudflare Origin CA key",
        ("v1.0-",),
        _r(r"\b(?P<secret>v1\.0-[a-f0-9]{24}-[a-f0-9]{146})\b"),
    ),
    Rule(
        "datadog-key",
        "Datadog API or application key",
        ("datadog", "dd_api_key", "dd_app_key", "dd-api-key"),
        _r(
            r"(?i)(?:datadog|dd)[_\-]?(?:api|app(?:lication)?)[_\-]?key[\"']?\s*[:=]\s*[\"']?(?P<secret>[a-f0-9]{32}(?:[a-f0-9]{8})?)\b"
        ),
    ),
    Rule(
        "docker-config-auth",
        "registry credentials in a Docker config.json",
        ('"auth"',),
        _r(r'"auth"\s*:\s*"(?P<secret>[A-Za-z0-9+/]{16,}={0,2})"'),
        min_entropy=3.0,
    ),
    Rule(
        "kubeconfig-client-key",
        "client private key embedded in a kubeconfig",
        ("client-key-data",),
        _r(r"client-key-data:\s*(?P<secret>[A-Za-z0-9+/]{100,}={0,2})"),
    ),
    Rule(
        "putty-private-key",
        "PuTTY private key file",
        ("putty-user-key-file-",),
        _r(r"(?P<secret>PuTTY-User-Key-File-\d: .+)"),
    ),
    Rule(
        "http-basic-auth",
        "HTTP Basic credentials in an Authorization header",
        ("authorization", "basic "),
        _r(r"(?i)authorization[\"']?\s*[:=\s]\s*[\"']?basic\s+(?P<secret>[A-Za-z0-9+/]{16,}={0,2})"),
        min_entropy=3.0,
        generic=True,
    ),
    Rule(
        "jwt",
        "JSON Web Token",
        ("eyj",),
        _r(r"\b(?P<secret>eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,})"),
    ),
    Rule(
        "database-url-password",
        "URL with an inline password",
        ("://",),
        _r(
            r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql)://"
            r"[^:@/\s]+:(?P<secret>[^@/\s'\"]{3,})@"
        ),
        generic=True,
    ),
    Rule(
        "k8s-secret-data", "base64 value in a Kubernetes Secret", ("kind: secret",), _r(r"^$")
    ),  # decided by the probe, which knows the document; kept here for the rule list
    Rule(
        "generic-assignment",
        "credential-named assignment with a high-entropy value",
        ("password", "passwd", "secret", "api_key", "apikey", "api-key", "token", "credential", "private_key"),
        _r(
            r"(?i)\b[\w.\-]*(?:password|passwd|secret|api[_\-]?key|token|credential|private[_\-]?key)[\w.\-]*"
            + r"""["']?\s*(?::|=|:=|=>)\s*["']?(?P<secret>[^\s"',;#]{8,})"""
        ),
        min_entropy=3.0,
        generic=True,
    ),
)
RULES_BY_ID = {r.id: r for r in RULES}

# Values that are placeholders, references or documented examples, not secrets.
_PLACEHOLDER = re.compile(
    r"(?i)(changeme|change_me|change-me|example|sample|placeholder|dummy|fake|your[_\-]|<[^>]*>|\$\{|\$\(|"
    r"\{\{|%\(|x{4,}|^x{3}|\*\*\*|\.\.\.|…|redacted|\b(?:todo|none|null|true|false)\b|insert|replace|secretkeyref|"
    r"valuefrom|^\$[A-Z_]|^env\(|^vault:|^arn:aws:(secretsmanager|ssm)|^ref\+|^sm://|^projects/.*/secrets/|"
    r"keyvault|^/run/secrets/|^/var/run/secrets/|^file:|^\./|^\.\./)"
    # a file path: lower-case segments (a base64 secret may start with "/" too, but mixes cases)
    r"|(?-i:^/(?:[a-z0-9_.\-]+/)*[a-z0-9_.\-]+$)"
)
# Lists, mappings and lower-case identifiers name a secret (compose `secrets: [db_password]`), they are not one.
# So do header and field names (X-Auth-Token): words joined by separators, no digits.
# An entry point or import reference (`pkg.module:Object`) names code, not a credential.
_REFERENCE = re.compile(
    r"^[\[{]|^[a-z]+(?:[_.\-][a-z]+)*$|^[A-Za-z]+(?:[_.\-][A-Za-z]+)+$|^[a-z_]\w*(?:\.[a-z_]\w*)+:[A-Za-z_]\w*$"
)
# `password_encryption = scram-sha-256` names an algorithm.
_FILE_KEY = re.compile(r"(?i)[\w.\-]*_FILE\b|_PATH\b|_REF\b|_NAME\b|_ENCRYPTION\b|_ID\b\s*[:=]")
# An unquoted value with a call, subscript or template in it is code (`token = re.compile(`,
# `password = os.environ["X"]`, `key_{n}`), not a literal; a quoted value keeps every character.
_CODE_VALUE = re.compile(r"[()\[\]{}]")
# A file path (`GOOGLE_APPLICATION_CREDENTIALS=/run/app/key.json`) or a URL with no credentials in it
# (`token_uri: "https://oauth2.googleapis.com/token"`) says where a secret is, not what it is.
_PATH = re.compile(r"^(?:/|\./|\.\./|~/)[\w.\-/]+$")
_URL = re.compile(r"^[a-z][a-z0-9+.\-]*://(?P<rest>[^@\s?#]+)$", re.I)


def is_location(value: str) -> bool:
    """A file path or a credential-free URL whose path holds no long random segment."""
    if _PATH.match(value):
        return True
    m = _URL.match(value)
    return bool(m) and all(len(seg) < 20 or entropy(seg) < 3.5 for seg in m.group("rest").split("/")[1:])


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def fingerprint(secret: str, key: bytes = b"") -> str:
    """A stable name of a secret: 16 hex digits of HMAC-SHA256 under the repository's key.

    A plain hash beside a prefix let anyone holding a report test guesses of a
    weak password offline; without the key (see ``secrets.fingerprint_key``)
    the fingerprint says nothing about the value.
    """
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()[:16]


MASK_MIN_LENGTH = 16
MASK_MIN_ENTROPY = 3.5  # bits per character: random tokens and keys, not words or short passwords


def mask(secret: str) -> str:
    """The first 4 characters and an ellipsis for long random values (often a format prefix such as
    ``AKIA``); only the ellipsis otherwise, since a prefix of a weak password narrows the guess."""
    if len(secret) >= MASK_MIN_LENGTH and entropy(secret) >= MASK_MIN_ENTROPY:
        return secret[:4] + "…"
    return "…"


def is_placeholder(value: str, line: str) -> bool:
    """Placeholders, templated values and references to secret stores or files are not secrets."""
    return bool(_PLACEHOLDER.search(value)) or "AKIAIOSFODNN7EXAMPLE" in value or _templated(value, line)


def _templated(value: str, line: str) -> bool:
    """The value sits inside a template expression of its line (``{{ .Env.PASSWORD }}``, ``<%= ... %>``)."""
    at = line.find(value)
    if at < 0:
        return False
    before = line[:at]
    return before.rfind("{{") > before.rfind("}}") or before.rfind("<%") > before.rfind("%>")


def _build_automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    by_kw: dict[str, set[str]] = {}
    for rule in RULES:
        for kw in rule.keywords:
            by_kw.setdefault(kw.lower(), set()).add(rule.id)
    for kw, ids in by_kw.items():
        automaton.add_word(kw, frozenset(ids))
    automaton.make_automaton()
    return automaton


_AUTOMATON = _build_automaton()


def candidate_rules(line_lower: str) -> set[str]:
    """Rule ids whose keywords occur in the (lower-cased) line."""
    found: set[str] = set()
    for _end, ids in _AUTOMATON.iter(line_lower):
        found |= ids
    return found


# In documentation, a short or plainly guessable value beside a credential word is an example (root:root in a
# connection string a README shows), not a secret; provider-format keys and private keys are findings anywhere.
EXAMPLE_RULES = frozenset({"generic-assignment", "database-url-password"})


def _example_in_docs(rule_id: str, secret: str) -> bool:
    return rule_id in EXAMPLE_RULES and (len(secret) < 12 or entropy(secret) < 3.0)


def scan_line(line: str, lineno: int, key: bytes = b"", documentation: bool = False) -> Iterator[Finding]:
    """Findings on one line; placeholders, look-alikes and low-entropy generic values are dropped."""
    ids = candidate_rules(line.lower())
    if not ids:
        return
    seen: set[str] = set()
    for rule in RULES:
        if rule.id not in ids or rule.id == "k8s-secret-data":
            continue
        for m in rule.regex.finditer(line):
            secret = m.group("secret")
            if secret in seen:
                continue
            if rule.id == "generic-assignment" and _FILE_KEY.search(line[: m.start("secret")]):
                continue
            if (rule.generic or rule.min_entropy) and is_placeholder(secret, line):
                continue
            if "EXAMPLE" in secret:
                continue
            if rule.id == "generic-assignment" and (_REFERENCE.match(secret) or is_location(secret)):
                continue
            quoted = line[m.start("secret") - 1 : m.start("secret")] in ("'", '"')
            if rule.id == "generic-assignment" and not quoted and _CODE_VALUE.search(secret):
                continue
            if rule.min_entropy and entropy(secret) < rule.min_entropy:
                continue
            if documentation and _example_in_docs(rule.id, secret):
                continue
            seen.add(secret)
            yield Finding(rule.id, lineno, fingerprint(secret, key), mask(secret))


def _key_body(lines: list[str], start: int) -> str:
    """The base64 body of the private-key block whose BEGIN line is ``lines[start]``, whitespace removed.

    Every key of a type shares its BEGIN line; the body is what tells two keys apart. Header fields of
    encrypted PEM (``Proc-Type: ...``) are left out; a block cut off before its END line yields what is there.
    """
    body = []
    for line in lines[start + 1 : start + 1 + MAX_KEY_LINES]:
        if "-----END" in line:
            break
        if ":" not in line:
            body.append("".join(line.split()))
    return "".join(body)


MAX_KEY_LINES = 400  # a 16384-bit RSA key in PEM is under 200 lines


def scan_text(text: str, first_line: int = 1, key: bytes = b"", documentation: bool = False) -> Iterator[Finding]:
    """Findings in a text, line by line; specific rules win over the generic one on the same line.
    ``key`` keys the fingerprints (the repository's, from ``secrets.fingerprint_key``)."""
    lines = text.splitlines()
    for offset, line in enumerate(lines):
        findings = list(scan_line(line, first_line + offset, key, documentation))
        specific = {f.fingerprint for f in findings if f.rule != "generic-assignment"}
        for f in findings:
            if f.rule == "generic-assignment" and specific:
                continue
            if f.rule == "private-key" and (body := _key_body(lines, offset)):
                f = Finding(f.rule, f.line, fingerprint(body, key), mask(body))
            yield f
