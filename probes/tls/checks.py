"""The checks the TLS probe offers, as data."""

from readiness.model import Check, Status

CERTIFICATE_VALID = Check(
    id="tls.certificate_valid",
    title="Every production endpoint presents a trusted, unexpired certificate matching its hostname",
    rationale="Clients refuse, or users click through, certificates that are untrusted, expired, for another "
    "name, weakly keyed or signed with SHA-1/MD5; an incomplete chain breaks clients that do not fetch issuers.",
    remediation="Serve a certificate from a trusted CA for the endpoint's name with the full chain (leaf then "
    "intermediates), an RSA >= 2048 or ECDSA P-256/P-384 key and a SHA-256+ signature; renew before expiry.",
    when_absent=Status.UNKNOWN,
)
HSTS = Check(
    id="tls.hsts",
    title="Every HTTPS endpoint sends a Strict-Transport-Security header with a long max-age",
    rationale="Without HSTS a network attacker can strip HTTPS on the first plain-HTTP request.",
    remediation="Send `Strict-Transport-Security: max-age=63072000; includeSubDomains; preload` on HTTPS "
    "responses (at least 15552000 s for an SSL Labs A+; one year plus includeSubDomains and preload for the "
    "preload list).",
    when_absent=Status.UNKNOWN,
)
PROTOCOLS_MODERN = Check(
    id="tls.protocols_modern",
    title="Endpoints accept only TLS 1.2 and TLS 1.3",
    rationale="SSLv3, TLS 1.0 and 1.1 are deprecated (RFC 8996) and open downgrade and padding-oracle attacks.",
    remediation="Allow only TLSv1.2 and TLSv1.3 (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`).",
    when_absent=Status.UNKNOWN,
)
CIPHER_SUITES_STRONG = Check(
    id="tls.cipher_suites_strong",
    title="Endpoints offer only strong cipher suites (forward secrecy, AEAD)",
    rationale="Suites without forward secrecy expose past traffic when the key leaks; CBC, RC4, 3DES, NULL, "
    "export and anonymous suites are broken or weak; small DH groups weaken the key exchange.",
    remediation="Offer only ECDHE/DHE suites with AES-GCM or ChaCha20-Poly1305 (the Mozilla intermediate list) "
    "and DH groups of at least 2048 bits.",
    when_absent=Status.UNKNOWN,
)
OCSP_STAPLING = Check(
    id="tls.ocsp_stapling",
    title="Endpoints staple a valid OCSP response",
    rationale="A stapled response spares clients a privacy-leaking, often skipped, lookup at the CA.",
    remediation="Enable stapling (nginx: `ssl_stapling on; ssl_stapling_verify on;` with a resolver and the "
    "issuer chain in ssl_trusted_certificate).",
    when_absent=Status.UNKNOWN,
)
GRADE_A_PLUS = Check(
    id="tls.grade_a_plus",
    title="Endpoints reach an SSL Labs-equivalent grade of A+",
    rationale="An offline approximation of the SSL Labs rating guide summarises protocol, key exchange and "
    "cipher strength, with caps for known weaknesses; the caps say what to fix.",
    remediation="Fix every cap the evidence lists; A+ also needs HSTS of at least 180 days and no warnings.",
    when_absent=Status.UNKNOWN,
)
MOZILLA_PROFILE = Check(
    id="tls.mozilla_profile",
    title="Endpoint TLS configuration matches the Mozilla intermediate (or modern) profile",
    rationale="The Mozilla server-side TLS profiles are a maintained, widely reviewed baseline.",
    remediation="Generate the configuration at https://ssl-config.mozilla.org for your server and profile; the "
    "evidence lists each deviation.",
    when_absent=Status.UNKNOWN,
)
HTTP_REDIRECTS_TO_HTTPS = Check(
    id="tls.http_redirects_to_https",
    title="Plain HTTP requests are redirected to HTTPS",
    rationale="A plain-HTTP site that does not redirect keeps users on an unencrypted, modifiable channel.",
    remediation="Answer every plain-HTTP request with a 301/308 to https:// on the same host.",
    when_absent=Status.UNKNOWN,
)
RENEWAL_AUTOMATED = Check(
    id="tls.renewal_automated",
    title="Certificate renewal is automated (certbot timer, cert-manager, ACME client, ACM)",
    rationale="Hand-renewed certificates expire: most certificate outages are forgotten renewals.",
    remediation="Automate renewal (certbot/acme.sh timer, cert-manager Certificate, Caddy or Traefik ACME, AWS ACM) "
    "and keep its configuration in the repository.",
    when_absent=Status.UNKNOWN,
)

ALL = (
    CERTIFICATE_VALID,
    HSTS,
    PROTOCOLS_MODERN,
    CIPHER_SUITES_STRONG,
    OCSP_STAPLING,
    GRADE_A_PLUS,
    MOZILLA_PROFILE,
    HTTP_REDIRECTS_TO_HTTPS,
    RENEWAL_AUTOMATED,
)
LIVE = tuple(c for c in ALL if c is not RENEWAL_AUTOMATED)
