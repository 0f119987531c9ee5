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
    # Hashes, digests and identifiers that look random but are not credentials.
    "web/package-lock.json": '{"packages": {"node_modules/left-pad": {"version": "1.3.0", "integrity": '
    '"sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQEnBQmjZIs/UMRbnsXWVSOo4A5ejWiOE3gfhB6oRUTGS0uQ=="}}}\n',
    "py/poetry.lock": '[[package]]\nname = "idna"\nfiles = [\n  {file = "idna-3.7.tar.gz", hash = '
    '"sha256:028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc"},\n]\n',
    "go/go.sum": "golang.org/x/net v0.26.0 h1:soB7SVo0PWrY4vPW/+ay0jKDNScG2X9wFeYlXIvJsOQ=\n",
    "deploy/images.yaml": "image: nginx@sha256:0f04e4f646a3f14bf31d8bc8d885b6c951fdcf42589d06845f64d18aec6a3c4d\n"
    "build_id: 3f2c9a7e-8d41-4b6a-9c0e-1a2b3c4d5e6f\ncommit: 9fceb02d0ae598e95dc970b74767f19372d61af8\n",
    "web/style.css": ".logo { background: url(data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==); }\n",
    "app/secrets-refs.yaml": "db_password: arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf\n"
    "api_token: vault:secret/data/prod#token\nsigning_key: ref+awsssm://prod/signing_key\n"
    "client_secret: projects/acme/secrets/client-secret/versions/latest\n",
    "app/template.env": "API_TOKEN={{ api_token }}\nSECRET_KEY=${SECRET_KEY:?required}\n"
    "PASSWORD=$(cat /run/secrets/pw)\n",
    "app/feature.py": 'TOKEN_HEADER = "X-Auth-Token"\npassword_field = "password"\nsecret_name = "prod/db"\n',
    "docs/openai.md": "Set `OPENAI_API_KEY=sk-proj-...` in your environment (see the dashboard).\n",
    "docs/keys.md": "An age recipient looks like age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p.\n"
    "A GitHub token starts with ghp_ and is 40 characters long.\n",
    "tests/fixtures/readme.txt": "sha1: da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
}


B32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
LOW, DIG = string.ascii_lowercase, string.digits


def provider_tokens(rng: random.Random) -> dict[str, tuple[str, str, str]]:
    """rule id -> (relative path, file text, secret) for the provider-prefixed rules, in varied file formats."""
    r = lambda alphabet, n: _r(rng, alphabet, n)  # noqa: E731
    v: dict[str, str] = {
        "gitlab-other-token": "gldt-" + r(AL, 20),
        "slack-webhook": f"https://hooks.slack.com/services/T{r(UP + DIG, 9)}/B{r(UP + DIG, 9)}/{r(AL, 24)}",
        "slack-app-token": f"xapp-1-A{r(UP + DIG, 10)}-{r(DIG, 13)}-{r(HEX, 64)}",
        "openai-key": "sk-proj-" + r(AL + "_-", 60),
        "anthropic-key": "sk-ant-api03-" + r(AL + "_-", 93) + "AA",
        "huggingface-token": "hf_" + r(string.ascii_letters, 34),
        "shopify-token": "shpat_" + r(HEX, 32),
        "digitalocean-token": "dop_v1_" + r(HEX, 64),
        "databricks-token": "dapi" + r(HEX, 32),
        "vault-token": "hvs." + r(AL + "_-", 94),
        "terraform-cloud-token": r(AL, 14) + ".atlasv1." + r(AL, 67),
        "linear-key": "lin_api_" + r(AL, 40),
        "newrelic-key": "NRAK-" + r(UP + DIG, 27),
        "postman-key": f"PMAK-{r(HEX, 24)}-{r(HEX, 34)}",
        "doppler-token": "dp.pt." + r(AL, 43),
        "pulumi-token": "pul-" + r(HEX, 40),
        "grafana-token": f"glsa_{r(AL, 32)}_{r(HEX, 8)}",
        "age-secret-key": "AGE-SECRET-KEY-1" + r(B32, 58),
        "onepassword-service-token": "ops_eyJ" + r(AL + "_-", 300),
        "sentry-token": "sntryu_" + r(HEX, 64),
        "gcp-api-key": "AIza" + r(AL + "_-", 35),
        "alibaba-access-key": "LTAI" + r(AL, 20),
        "planetscale-token": "pscale_tkn_" + r(AL, 43),
        "supabase-token": "sbp_" + r(HEX, 40),
        "mailgun-key": "key-" + r(HEX, 32),
        "mailchimp-key": r(HEX, 32) + "-us" + r(DIG, 2),
        "telegram-bot-token": r(DIG, 10) + ":AA" + r(AL + "_-", 33),
        "discord-bot-token": f"M{r(AL, 25)}.{r(AL, 6)}.{r(AL, 38)}",
        "square-token": "sq0csp-" + r(AL, 43),
        "mapbox-secret-token": f"sk.eyJ{r(AL, 60)}.{r(AL, 22)}",
        "dynatrace-token": f"dt0c01.{r(UP + DIG, 24)}.{r(UP + DIG, 64)}",
        "flutterwave-key": f"FLWSECK-{r('abcdefgh' + DIG, 32)}-X",
        "atlassian-token": "ATATT3" + r(AL + "_-", 186),
        "azure-ad-client-secret": f"{r(AL, 3)}{r(DIG, 1)}Q~{r(AL + '_~.-', 34)}",
        "azure-devops-pat": r(AL, 76) + "AZDO" + r(AL, 4),
        "azure-sas-token": r(AL + "%", 52),
        "azure-shared-access-key": r(AL + "+/", 43) + "=",
        "brevo-key": f"xkeysib-{r(HEX, 64)}-{r(AL, 16)}",
        "jfrog-token": "AKCp" + r(AL, 69),
        "contentful-token": "CFPAT-" + r(AL + "_-", 43),
        "netlify-token": "nfp_" + r(AL, 36),
        "heroku-key": "HRKU-AA" + r(AL + "_-", 58),
        "rubygems-key": "rubygems_" + r(HEX, 48),
        "nuget-key": "oy2" + r(LOW + DIG, 43),
        "cloudflare-origin-ca-key": f"v1.0-{r(HEX, 24)}-{r(HEX, 146)}",
        "datadog-key": r(HEX, 32),
        "docker-config-auth": base64.b64encode(f"ci:{r(AL, 24)}".encode()).decode(),
        "kubeconfig-client-key": base64.b64encode(r(AL, 120).encode()).decode(),
        "putty-private-key": "PuTTY-User-Key-File-3: ssh-ed25519",
        "http-basic-auth": base64.b64encode(f"deploy:{r(AL, 20)}".encode()).decode(),
    }
    contexts = {  # rule id -> (path, template): a spread of the formats secrets are found in
        "gitlab-other-token": ("prod/.gitlab-ci.yml", "variables:\n  DEPLOY_TOKEN: {v}\n"),
        "slack-webhook": (
            "prod/alertmanager.yml",
            "receivers:\n  - name: chat\n    slack_configs:\n      - api_url: {v}\n",
        ),
        "slack-app-token": ("prod/slack.env", "SLACK_APP_TOKEN={v}\n"),
        "openai-key": ("prod/settings.py", 'OPENAI = "{v}"\n'),
        "anthropic-key": ("prod/llm.toml", 'api_key = "{v}"\n'),
        "huggingface-token": ("prod/hf.sh", "export HF_TOKEN={v}\n"),
        "shopify-token": ("prod/shop.json", '{{"shopify": {{"token": "{v}"}}}}\n'),
        "digitalocean-token": ("prod/main.tf", 'provider "digitalocean" {{\n  token = "{v}"\n}}\n'),
        "databricks-token": ("prod/databricks.cfg", "[DEFAULT]\nhost = https://x.cloud.databricks.com\ntoken = {v}\n"),
        "vault-token": ("prod/Dockerfile", "FROM alpine:3.20\nENV VAULT_TOKEN={v}\n"),
        "terraform-cloud-token": ("prod/.terraformrc", 'credentials "app.terraform.io" {{\n  token = "{v}"\n}}\n'),
        "linear-key": ("prod/linear.yaml", "linear:\n  key: {v}\n"),
        "newrelic-key": ("prod/newrelic.properties", "newrelic.api={v}\n"),
        "postman-key": ("prod/postman.env", "POSTMAN_API_KEY={v}\n"),
        "doppler-token": ("prod/doppler.sh", "doppler configure set token {v}\n"),
        "pulumi-token": ("prod/pulumi.env", "PULUMI_ACCESS_TOKEN={v}\n"),
        "grafana-token": ("prod/grafana.ini", "[auth]\ntoken = {v}\n"),
        "age-secret-key": ("prod/keys.txt", "# created: 2026-01-01\n{v}\n"),
        "onepassword-service-token": ("prod/op.env", "OP_SERVICE_ACCOUNT_TOKEN={v}\n"),
        "sentry-token": ("prod/.sentryclirc", "[auth]\ntoken={v}\n"),
        "gcp-api-key": ("prod/maps.js", 'const key = "{v}";\n'),
        "alibaba-access-key": ("prod/aliyun.yaml", "access_key_id: {v}\n"),
        "planetscale-token": ("prod/ps.env", "PLANETSCALE_TOKEN={v}\n"),
        "supabase-token": ("prod/supa.sh", "supabase login --token {v}\n"),
        "mailgun-key": ("prod/mail.yaml", "mailgun_api_key: {v}\n"),
        "mailchimp-key": ("prod/mc.json", '{{"mailchimp": "{v}"}}\n'),
        "telegram-bot-token": ("prod/bot.py", 'BOT = "{v}"\n'),
        "discord-bot-token": ("prod/discord.env", "DISCORD_TOKEN={v}\n"),
        "square-token": ("prod/square.properties", "square.secret={v}\n"),
        "mapbox-secret-token": ("prod/mapbox.yml", "mapbox: {v}\n"),
        "dynatrace-token": ("prod/dt.env", "DT_API_TOKEN={v}\n"),
        "flutterwave-key": ("prod/pay.env", "FLW_SECRET={v}\n"),
        "atlassian-token": ("prod/jira.sh", "curl -u me@example.test:{v} https://x.atlassian.net\n"),
        "azure-ad-client-secret": ("prod/azure.json", '{{"clientSecret": "{v}"}}\n'),
        "azure-devops-pat": ("prod/ado.yml", "pat: {v}\n"),
        "azure-sas-token": (
            "prod/blob.txt",
            "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=o&sp=r&sig={v}\n",
        ),
        "azure-shared-access-key": (
            "prod/bus.conf",
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey={v}\n",
        ),
        "brevo-key": ("prod/brevo.env", "BREVO={v}\n"),
        "jfrog-token": ("prod/.jfrog.yaml", "apikey: {v}\n"),
        "contentful-token": ("prod/cf.env", "CONTENTFUL={v}\n"),
        "netlify-token": ("prod/netlify.toml", '[build.environment]\nNETLIFY_AUTH = "{v}"\n'),
        "heroku-key": ("prod/.netrc", "machine api.heroku.com\n  password {v}\n"),
        "rubygems-key": ("prod/.gem/credentials", "---\n:rubygems_api_key: {v}\n"),
        "nuget-key": ("prod/nuget.sh", "dotnet nuget push x.nupkg --api-key {v}\n"),
        "cloudflare-origin-ca-key": ("prod/cf.sh", "export CF_ORIGIN={v}\n"),
        "datadog-key": ("prod/datadog.yaml", "dd_api_key: {v}\n"),
        "docker-config-auth": (
            "prod/.docker/config.json",
            '{{"auths": {{"registry.example.test": {{"auth": "{v}"}}}}}}\n',
        ),
        "kubeconfig-client-key": ("prod/kubeconfig", "users:\n- name: admin\n  user:\n    client-key-data: {v}\n"),
        "putty-private-key": ("prod/deploy.ppk", "{v}\nEncryption: none\nComment: deploy\n"),
        "http-basic-auth": ("prod/nginx-upstream.conf", 'proxy_set_header Authorization "Basic {v}";\n'),
    }
    return {rule: (path, template.format(v=v[rule]), v[rule]) for rule, (path, template) in contexts.items()}


def write_corpus(root: Path, seed: int = 0) -> dict[str, tuple[str, str, str]]:
    """Write planted secrets and look-alikes under root; return the planted table."""
    rng = random.Random(seed)
    table = {**planted(rng), **provider_tokens(rng)}
    for rel, text, _ in table.values():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel, text in LOOKALIKES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return table
