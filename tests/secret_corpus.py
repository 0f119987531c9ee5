"""Planted-secrets corpus, generated at test time with random values in each provider's format."""

from __future__ import annotations

import base64
import random
import string
from pathlib import Path

UP, AL, HEX = string.ascii_uppercase, string.ascii_letters + string.digits, "0123456789abcdef"


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def planted(rng: random.Random) -> dict[str, tuple[str, str, str]]:
    """rule id -> (relative path, file text, the secret value)."""
    aws_id = "AKIA" + _r(rng, UP + "234567", 16)
    aws_sec = _r(rng, AL + "/+", 40)
    az = _r(rng, AL + "+/", 86) + "=="
    jwt = "eyJ" + _r(rng, AL, 20) + ".eyJ" + _r(rng, AL, 30) + "." + _r(rng, AL + "_-", 43)
    pw = _r(rng, AL, 16)
    k8s = base64.b64encode(_r(rng, AL, 24).encode()).decode()
    gen = _r(rng, AL, 24)
    return {
        "aws-access-key-id": ("prod/aws.env", f"AWS_ACCESS_KEY_ID={aws_id}\n", aws_id),
        "aws-secret-access-key": ("prod/aws.ini", f"aws_secret_access_key = {aws_sec}\n", aws_sec),
        "gcp-service-account": (
            "prod/sa.json",
            '{"type": "service_account", "private_key_id": "%s"}\n' % (h := _r(rng, HEX, 40)),
            h,
        ),
        "azure-storage-key": ("prod/az.conf", f"DefaultEndpointsProtocol=https;AccountName=x;AccountKey={az}\n", az),
        "github-token": ("prod/gh.yml", f"token_gh: ghp_{(g := _r(rng, AL, 36))}\n", "ghp_" + g),
        "gitlab-token": ("prod/gl.sh", f"export GL=glpat-{(g2 := _r(rng, AL, 20))}\n", "glpat-" + g2),
        "slack-token": (
            "prod/slack.toml",
            f'bot = "xoxb-{(s := _r(rng, string.digits, 12))}-1234567890-{(s2 := _r(rng, AL, 24))}"\n',
            f"xoxb-{s}-1234567890-{s2}",
        ),
        "stripe-key": ("prod/stripe.properties", f"stripe=sk_live_{(st := _r(rng, AL, 24))}\n", "sk_live_" + st),
        "twilio-key": ("prod/tw.yml", f"twilio: SK{(t := _r(rng, HEX, 32))}\n", "SK" + t),
        "sendgrid-key": ("prod/sg.env", f"SG=SG.{(a := _r(rng, AL, 22))}.{(b := _r(rng, AL, 43))}\n", f"SG.{a}.{b}"),
        "npm-token": ("prod/.npmrc", f"//registry.npmjs.org/:_authToken=npm_{(n := _r(rng, AL, 36))}\n", "npm_" + n),
        "pypi-token": (
            "prod/.pypirc",
            f"password = pypi-AgEIcHlwaS5vcmc{(py := _r(rng, AL, 60))}\n",
            "pypi-AgEIcHlwaS5vcmc" + py,
        ),
        "dockerhub-token": ("prod/dh.sh", f"echo dckr_pat_{(d := _r(rng, AL, 27))}\n", "dckr_pat_" + d),
        "jwt": ("prod/jwt.json", f'{{"auth": "{jwt}"}}\n', jwt),
        "database-url-password": ("prod/db.yml", f"url: postgres://app:{pw}@db:5432/app\n", pw),
        "generic-assignment": ("prod/app.yaml", f"db_password: {gen}\n", gen),
        "private-key": (
            "prod/deploy.key",
            f"-----BEGIN OPENSSH PRIVATE KEY-----\n{(pk := _r(rng, AL, 64))}\n-----END OPENSSH PRIVATE KEY-----\n",
            pk,
        ),
        "k8s-secret-data": (
            "prod/secret.yaml",
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  key: {k8s}\n",
            k8s,
        ),
    }


LOOKALIKES = {
    "docs/aws.md": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    "app/config.yaml": "password: changeme\napi_key: <your-key>\ntoken: ${API_TOKEN}\nsecret: {{ .Values.secret }}\n"
    "db_password_FILE: /run/secrets/db\nsecret_key: xxxxxxxxxxxx\npassword: example-password\n",
    "app/db.yml": "url: postgres://app:${DB_PASSWORD}@db/app\n",
    "app/compose.yml": "services:\n  web:\n    secrets: [db_password]\n    environment:\n"
    "      DB_PASSWORD_FILE: /run/secrets/db_password\n",
    "k8s/ref.yaml": "env:\n  - name: TOKEN\n    valueFrom:\n      secretKeyRef: {name: t, key: t}\n",
}


def write_corpus(root: Path, seed: int = 0) -> dict[str, tuple[str, str, str]]:
    """Write planted secrets and look-alikes under root; return the planted table."""
    table = planted(random.Random(seed))
    for rel, text, _ in table.values():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel, text in LOOKALIKES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return table
