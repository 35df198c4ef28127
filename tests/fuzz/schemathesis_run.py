"""Fuzz the /v1 API against its own OpenAPI description (docs/api.md).

Starts `rootvault dev` on a free loopback port, deposits canary secrets
through the API, then runs schemathesis (pinned by scripts/test) against the
served document once per caller (an all-roles person of the provider and of a
customer), with a fixed budget and deterministic generation. Every response
is recorded (HAR) and scanned afterwards: no canary secret and no bearer
token may appear in any response. Talks to 127.0.0.1 only.

Usage: python schemathesis_run.py ROOTVAULT_BIN SCHEMATHESIS_BIN OUT_DIR
Exit status 0 when every check passed; the last line counts the checks
(the document's validity, then a schemathesis run and a secret scan per
caller) that passed and failed.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# Cases per operation and phase. Bounded so the run takes a few minutes on
# two cores; deterministic generation makes it the same run every time.
MAX_EXAMPLES = int(os.environ.get("ROOTVAULT_FUZZ_MAX_EXAMPLES", "25"))
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
])
# Callers: (org, sub). Each holds every role, to reach every rule.
CALLERS = [("acme", "fuzz"), ("globex", "fuzz")]
ALL_ROLES = "admin,staff,approver,auditor"
# Canary secrets deposited before the run; none may come back.
CANARY_PASSWORD = "Canary-Passw0rd-7Hq!zX2v"
CANARY_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def start_dev(binary, data_dir, log_path):
    """Start `rootvault dev` on 127.0.0.1:0; return (process, base, banner tokens)."""
    server_log = open(log_path, "w")
    proc = subprocess.Popen(
        [binary, "dev", "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=server_log, text=True,
    )
    base, tokens = None, {}
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        found = re.match(r"^listening on (http://127\.0\.0\.1:\d+)\s*$", line)
        if found:
            base = found.group(1)
        exported = re.match(r"^\s+export ([A-Z_]+)=(\S+)\s*$", line)
        if exported and exported.group(1) not in ("RV", "ROOTVAULT_ADDR"):
            tokens[exported.group(1)] = exported.group(2)
        if line.startswith("Walkthrough") or time.monotonic() > deadline:
            break
    if base is None:
        proc.kill()
        raise SystemExit("rootvault dev did not say where it listens")
    # Drain the rest of the banner so the server never blocks on a full pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, base, tokens


def call(base, method, path, token, body=None):
    request = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def deposit_canaries(base, tokens):
    status, body = call(base, "PUT", "/v1/accounts/100000000002/halves/password", tokens["ALICE"],
                        {"password": CANARY_PASSWORD})
    if status != 200:
        raise SystemExit(f"depositing the canary password answered {status}: {body}")
    status, body = call(base, "PUT", "/v1/accounts/100000000002/halves/mfa", tokens["BOB"],
                        {"secret_base32": CANARY_SEED})
    if status != 200:
        raise SystemExit(f"depositing the canary seed answered {status}: {body}")


def mint(binary, data_dir, org, sub):
    return subprocess.run(
        [binary, "token", "--data-dir", data_dir, "--org", org, "--sub", sub, "--roles", ALL_ROLES, "--ttl", "2h"],
        check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    ).stdout.strip()


def valid_document(base):
    """Whether the served document is valid OpenAPI 3.1 (openapi-spec-validator,
    which the test venv has through moto)."""
    from openapi_spec_validator import validate

    with urllib.request.urlopen(f"{base}/v1/openapi.json", timeout=30) as response:
        document = json.load(response)
    try:
        validate(document)
    except Exception as e:  # the validator's errors have no common base
        log(f"the served document is not valid OpenAPI: {e}")
        return False
    return document.get("openapi") == "3.1.0"


def run_schemathesis(st, base, token, har_path):
    command = [
        st, "run", f"{base}/v1/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--generation-with-security-parameters", "false",
        "--workers", "1",
        "--request-timeout", "30",
        "--max-redirects", "0",
        "--no-color",
        "--report", "har", "--report-har-path", har_path,
    ]
    return subprocess.run(command, stdin=subprocess.DEVNULL).returncode


def scan(har_path, secrets):
    """The responses of a HAR file that carry any of `secrets`."""
    with open(har_path) as f:
        har = json.load(f)
    leaks = []
    for entry in har["log"]["entries"]:
        text = entry["response"].get("content", {}).get("text") or ""
        headers = " ".join(h["value"] for h in entry["response"].get("headers", []))
        for name, value in secrets.items():
            if value in text or value in headers:
                leaks.append(f'{entry["request"]["method"]} {entry["request"]["url"]}: {name}')
    return leaks, len(har["log"]["entries"])


def main():
    binary, st, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="rootvault-fuzz.")
    data_dir = os.path.join(work, "data")
    started = time.monotonic()
    proc, base, tokens = start_dev(binary, data_dir, os.path.join(out_dir, "server.log"))
    failures = []
    checks = 0
    try:
        checks += 1
        if not valid_document(base):
            failures.append("the served document is not valid OpenAPI 3.1")
        deposit_canaries(base, tokens)
        secrets = {"canary password": CANARY_PASSWORD, "canary seed": CANARY_SEED}
        secrets.update({f"{name}'s token": token for name, token in tokens.items()})
        for org, sub in CALLERS:
            token = mint(binary, data_dir, org, sub)
            secrets[f"{org}/{sub}'s token"] = token
            har_path = os.path.join(out_dir, f"{org}.har")
            log(f"schemathesis as {org}/{sub} (all roles) against {base}")
            checks += 2
            if run_schemathesis(st, base, token, har_path) != 0:
                failures.append(f"schemathesis as {org}/{sub} found failures (above)")
            if not os.path.exists(har_path):
                failures.append(f"schemathesis as {org}/{sub} recorded no responses to scan")
                continue
            leaks, count = scan(har_path, secrets)
            log(f"scanned {count} responses to {org}/{sub} for secrets: {len(leaks)} found")
            for leak in leaks[:20]:
                log(f"secret in a response: {leak}")
            if leaks:
                failures.append(f"{len(leaks)} responses to {org}/{sub} carried a secret")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    log(f"api fuzz took {round(time.monotonic() - started)} s")
    print(f"fuzz: {checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
