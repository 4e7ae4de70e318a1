"""An outside probe of a running demo server, of the kind that found issue 20's list: hostile requests with
each role's key and none, then the server's log. Not a pytest module; run it by hand:

    HELPDESK_VAR_DIR=/tmp/probe HELPDESK_PORT=8765 .venv/bin/helpdesk demo --no-serve > demo.out
    (grep -o 'export [A-Z]*_KEY=[^ ]*' demo.out | python -c 'import json, sys; print(json.dumps(
        {l.split("=")[0][7:-4].lower(): l.strip().split("=")[1] for l in sys.stdin}))') > keys.json
    HELPDESK_VAR_DIR=/tmp/probe HELPDESK_PORT=8765 .venv/bin/helpdesk serve > server.log 2>&1 &
    python tests/probe.py http://127.0.0.1:8765 keys.json server.log

It prints what each probe got, the personal data found after erasure, the 5xx answers, and what the log
holds (tracebacks, keys, e-mail addresses, raw control characters)."""

import itertools
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

BASE = sys.argv[1]
KEYS = json.loads(Path(sys.argv[2]).read_text())
LOG = sys.argv[3]
answers = []


def call(method, path, body=None, key=None, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"content-type": "application/json"} if data is not None else {}
    if key:
        h["authorization"] = f"Bearer {key}"
    h.update(headers or {})
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text = r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode("utf-8", "replace")
    answers.append((method, path, status, text))
    return status, text


A, G, P, N = KEYS["admin"], KEYS["agent"], KEYS["portal"], KEYS["analyst"]
deep = b'{"subject": ' + b"[" * 1000 + b"]" * 1000 + b"}"
for path, key in (("/v1/portal/suggest", P), ("/v1/suggest", G), ("/v1/tickets/1/assist/feedback", G)):
    print("deep", path, call("POST", path, key=key, raw=deep)[0])
for path in (
    "/static/pages.css%00.js",
    "/help/forged%0aINFO:%20%20FORGED",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/help/..%2f..%2fetc",
):
    print("path", path, call("GET", path)[0])
for role, key in KEYS.items():
    status, text = call("GET", f"/demo/portal?key={key}")
    print("demo page", role, status, "key in page" if key in text else "key not in page")
print("demo newline", P + "\n" in call("GET", "/demo/portal?key=" + P + "%0a")[1])
print("host header", "evil.example" in call("GET", "/demo/portal", headers={"host": "evil.example"})[1])
for body in ({"subject": "vpn", "top_k": "5"}, {"subject": "a\u0000b"}, {"subject": "x", "body": "\u001b[2J"}):
    print("strict", body, call("POST", "/v1/tickets", body, key=G)[0])
print("dup keys", call("POST", "/v1/suggest", key=G, raw=b'{"subject":"a","subject":"b"}')[0])
print("missing q", call("GET", "/v1/kb/search", key=G)[1][:120])
print("schema cdn", any(c in call("GET", "/schema")[1] for c in ("jsdelivr", "unpkg", "cdn.")))
# portal replay
status, text = call("POST", "/v1/portal/suggest", {"subject": "I forgot my VPN password"}, key=P)
sid = json.loads(text)["suggestion_id"]
slug = json.loads(text)["articles"][0]["slug"]
print(
    "replay",
    [
        call("POST", "/v1/portal/events", {"suggestion_id": sid, "type": "helpful", "article": slug}, key=P)[0]
        for _ in range(5)
    ],
)
# similar redaction
t1 = json.loads(
    call(
        "POST",
        "/v1/tickets",
        {
            "subject": "VPN broken, call me +31 6 1234 5678 or probe.person@example.org",
            "body": "IBAN NL91ABNA0417164300",
            "requester": "probe.person@example.org",
        },
        key=G,
    )[1]
)
t2 = json.loads(
    call(
        "POST",
        "/v1/tickets",
        {
            "subject": "VPN broken, call me +31 6 1234 5678 or probe.person@example.org",
            "body": "IBAN NL91ABNA0417164300",
            "requester": "someone.else@example.org",
        },
        key=G,
    )[1]
)
sim = call("GET", f"/v1/tickets/{t2['id']}/similar", key=G)[1]
print("similar leaks", [p for p in ("probe.person@example.org", "+31 6 1234 5678", "NL91ABNA0417164300") if p in sim])
# unknown keys and 403s
print("guesses", [call("GET", "/v1/keys", key=f"hdt_guess{i}xxxxxxxxxxxxxxxxxxxx")[0] for i in range(33)][-4:])
# every route x role with junk
schema = json.loads(call("GET", "/schema/openapi.json")[1])
junk = [None, {}, {"subject": "x" * 600}, {"subject": "\U0001f4a9\u202e"}, {"top_k": -1}, {"a": [[[[1]]]]}]
for path, ops in schema["paths"].items():
    url = re.sub(r"\{[^}]+\}", "1", path)
    for method in ops:
        for key, body in itertools.product(
            (A, G, P, N, None), junk if method.upper() in ("POST", "PUT", "PATCH") else [None]
        ):
            if method.upper() == "DELETE" and "keys" in path:
                continue
            call(method.upper(), url, body, key=key)
# GDPR: export and erase, then every GET for the text
for who in ("probe.person@example.org", "gareth.lowe@example.com"):
    print(
        "export",
        call("POST", "/v1/requesters/export", {"requester": who}, key=A)[0],
        "erase",
        call("POST", "/v1/requesters/erase", {"requester": who}, key=A)[0],
    )
personal = (
    "probe.person@example.org",
    "+31 6 1234 5678",
    "NL91ABNA0417164300",
    "gareth.lowe@example.com",
    "Gareth Lowe",
    "Kyle Dobson",
)
found = []
for path, ops in schema["paths"].items():
    if "get" not in ops or "{" in path and "ticket_id" not in path:
        continue
    for tid in [t1["id"], t2["id"]] if "ticket_id" in path else [None]:
        url = re.sub(r"\{[^}]+\}", str(tid), path)
        status, text = call("GET", url + ("?q=vpn" if "search" in url else ""), key=A)
        found += [(url, p) for p in personal if p in text]
print("personal data after erasure:", found)
fives = [(m, p, s) for m, p, s, _ in answers if s >= 500]
print("requests", len(answers), "5xx", len(fives), fives[:5])
time.sleep(2)
log = Path(LOG).read_text(encoding="utf-8", errors="replace")
print(
    "log: tracebacks",
    log.count("Traceback"),
    "keys",
    sum(k in log for k in KEYS.values()),
    "guess keys",
    log.count("hdt_guess"),
    "emails",
    sorted(set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", log)))[:10],
    "raw control chars",
    bool(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", log)),
    "FORGED lines",
    [line[:60] for line in log.splitlines() if "FORGED" in line],
)
print("statuses", sorted(Counter(s for _, _, s, _ in answers).items()))
