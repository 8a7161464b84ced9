"""Load test of the running service on loopback: throughput and p50/p99 latency.

Starts ``b12dx serve`` on a free 127.0.0.1 port, then drives three endpoints of the same app
at a fixed number of concurrent connections with ``wrk`` (Debian package ``wrk``; a Python
asyncio load generator is used when wrk is absent or ``--tool python`` is given):

* ``GET /v1/ping``: the trivial endpoint (the baseline);
* ``POST /v1/assess``: a full assessment of a realistic case;
* ``POST /cds-services/b12dx-patient-view``: the CDS hook with complete prefetch, each request
  carrying its own ES384-signed JWT (pre-minted, unique ``jti``), so authentication is measured.

Usage::

    python bench/service_load.py --connections 32 --duration 20
    python bench/service_load.py --workers 2 --tool python
    python bench/service_load.py --rounds 3            # medians of three rounds
    python bench/service_load.py --memoize-assess      # diagnostic: the cost around assess()

Prints a Markdown table (requests/s, p50, p99, errors, p99 relative to ping, the server's CPU
time per request and the machine's load average during the run) and, with ``--json FILE``,
writes the figures. Nothing leaves 127.0.0.1.

At a fixed number of connections every client waits for its previous answer (a closed loop), so
once the server is saturated latency is about ``connections x service time``: the p99 ratio
tracks the ratio of per-request CPU costs, which the CPU column shows directly (and which,
unlike latency, hardly depends on what else runs on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASE = {
    "id": "bench-1",
    "age": 67,
    "sex": "female",
    "evidence": [
        {"id": "muscle_cramps", "initial": True},
        {"id": "paresthesia_feet"},
        {"id": "fatigue"},
        {"id": "unilateral_calf_swelling", "state": "absent"},
    ],
    "medications": [{"name": "metformin", "years": 6}, {"name": "omeprazole", "years": 3}],
    "labs": [
        {"test": "b12_total", "value": 190, "unit": "pg/mL"},
        {"test": "potassium", "value": 3.9, "unit": "mmol/L"},
    ],
}
ISS = "https://bench-ehr.example.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cds_body() -> dict[str, Any]:
    scenario = json.loads(
        (
            ROOT
            / "tests"
            / "fixtures"
            / "fhir"
            / "scenarios"
            / "metformin-neuropathy-transaction.json"
        ).read_text(encoding="utf-8")
    )
    res = [e["resource"] for e in scenario["entry"]]

    def bundle(rtype: str) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in res if r["resourceType"] == rtype],
        }

    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "scn1"},
        "prefetch": {
            "patient": next(r for r in res if r["resourceType"] == "Patient"),
            "observations": bundle("Observation"),
            "medications": bundle("MedicationRequest"),
            "conditions": bundle("Condition"),
        },
    }


class Keys:
    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP384R1())

    def jwks(self) -> dict[str, Any]:
        import jwt

        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "bench", "alg": "ES384", "use": "sig"})
        return {"keys": [jwk]}

    def tokens(self, aud: str, n: int, ttl: int) -> list[str]:
        import jwt

        now = int(time.time())
        return [
            jwt.encode(
                {"iss": ISS, "aud": aud, "iat": now, "exp": now + ttl, "jti": str(uuid.uuid4())},
                self.key,
                algorithm="ES384",
                headers={"kid": "bench", "typ": "JWT"},
            )
            for _ in range(n)
        ]


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process and its worker processes (Linux /proc)."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
        pids += [int(p) for p in children.split()]
    except OSError:
        return float("nan")
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def memoized_app() -> Any:
    """DIAGNOSTIC ONLY (``--memoize-assess``): the served app with ``assess()`` memoised.

    Every request still goes through HTTP, validation, the compute thread and serialisation of
    the full Assessment; only the assessment itself is looked up. It measures what the service
    costs around ``assess()``, never the service's real performance.
    """
    import b12dx.service.routers.assess as route
    from b12dx.service.app import create_served_app

    real = route.run_assess  # type: ignore[attr-defined]
    memo: dict[str, Any] = {}

    def run_assess(case: Any, kb: Any) -> Any:
        key = f"{kb.sha256}:{case.model_dump_json()}"
        if key not in memo:
            memo[key] = real(case, kb=kb)
        return memo[key]

    setattr(route, "run_assess", run_assess)  # noqa: B010 (monkeypatch for the diagnostic)
    return create_served_app()


def start_server(
    port: int, workers: int, jwks: dict[str, Any], *, memoize_assess: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "B12DX_CDS_ISSUERS": json.dumps({ISS: jwks}),
        "B12DX_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # no free text here: building the reader in the background would load the first seconds
        "B12DX_WARM_PARSER": "0",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "src"), str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    common = ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    cmd = [sys.executable, "-m", "b12dx", "serve", *common]
    if memoize_assess:
        # the same server as `b12dx serve` (uvicorn, access log off), with the diagnostic factory
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "service_load:memoized_app",
            "--factory",
            "--host",
            "127.0.0.1",
            *common,
            "--no-access-log",
        ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    import httpx

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/ping", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start within 60 s")


# -- wrk ------------------------------------------------------------------------------------

_LUA = """
local body = nil
local tokens = {}
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  local f = io.open(BODY_FILE, "r"); body = f:read("*a"); f:close()
  if TOKENS_FILE ~= "" then
    local n = 0
    for line in io.lines(TOKENS_FILE) do
      if n % NTHREADS == tid then table.insert(tokens, line) end
      n = n + 1
    end
  end
end
function request()
  local headers = {["Content-Type"] = "application/json"}
  if TOKENS_FILE ~= "" then
    counter = counter + 1
    headers["Authorization"] = "Bearer " .. (tokens[counter] or "exhausted")
  end
  return wrk.format("POST", nil, headers, body)
end
"""


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(
    url: str,
    *,
    connections: int,
    duration: int,
    threads: int,
    body: dict[str, Any] | None,
    tokens: list[str] | None,
    tmp: Path,
) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "30s",
    ]
    if body is not None:
        body_file = tmp / f"body-{uuid.uuid4().hex}.json"
        body_file.write_text(json.dumps(body), encoding="utf-8")
        tokens_file = ""
        if tokens:
            tf = tmp / f"tokens-{uuid.uuid4().hex}.txt"
            tf.write_text("\n".join(tokens) + "\n", encoding="utf-8")
            tokens_file = str(tf)
        script = tmp / f"post-{uuid.uuid4().hex}.lua"
        script.write_text(
            f'BODY_FILE = "{body_file}"\nTOKENS_FILE = "{tokens_file}"\n'
            f"NTHREADS = {threads}\n" + _LUA,
            encoding="utf-8",
        )
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, flags=re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(x) for x in sock.groups()) if sock else 0
    )
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "requests": total,
        "rps": rps,
        "p50_ms": _ms(lat["50"]),
        "p99_ms": _ms(lat["99"]),
        "errors": errors,
    }


# -- Python load generator ------------------------------------------------------------------


async def _python_load(
    url: str,
    *,
    connections: int,
    duration: int,
    body: dict[str, Any] | None,
    tokens: list[str] | None,
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    token_iter = iter(tokens or [])
    stop = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                headers = {}
                if tokens is not None:
                    headers["Authorization"] = f"Bearer {next(token_iter, 'exhausted')}"
                t0 = time.perf_counter()
                try:
                    if body is None:
                        r = await client.get(url)
                    else:
                        r = await client.post(url, json=body, headers=headers)
                    ok = r.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += 0 if ok else 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    latencies.sort()

    def q(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "requests": len(latencies),
        "rps": len(latencies) / duration,
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
        "errors": errors,
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--duration", type=int, default=20, help="seconds per endpoint")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--tool", choices=("wrk", "python"), default=None)
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the three endpoints this many times in turn; the table shows medians",
    )
    ap.add_argument(
        "--memoize-assess",
        action="store_true",
        help="DIAGNOSTIC: memoise assess() in the server, to measure the cost around it",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    tool = args.tool or ("wrk" if shutil.which("wrk") else "python")
    port = _free_port()
    keys = Keys()
    base = f"http://127.0.0.1:{port}"
    cds_url = f"{base}/cds-services/b12dx-patient-view"
    proc = start_server(port, args.workers, keys.jwks(), memoize_assess=args.memoize_assess)
    rounds: list[dict[str, dict[str, Any]]] = []
    try:
        import httpx

        for _ in range(20):  # warm-up: KB load, network compilation, first imports
            httpx.post(f"{base}/v1/assess", json=CASE, timeout=30).raise_for_status()
        probe = httpx.post(
            cds_url,
            json=_cds_body(),
            timeout=30,
            headers={"Authorization": f"Bearer {keys.tokens(cds_url, 1, 60)[0]}"},
        )
        probe.raise_for_status()
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.rounds):
                tokens = keys.tokens(
                    cds_url, max(2000, 400 * args.duration), ttl=args.duration * 10 + 600
                )
                plan = [
                    ("GET /v1/ping (trivial)", f"{base}/v1/ping", None, None),
                    ("POST /v1/assess", f"{base}/v1/assess", CASE, None),
                    ("POST /cds-services/b12dx-patient-view", cds_url, _cds_body(), tokens),
                ]
                results: dict[str, dict[str, Any]] = {}
                for name, url, body, toks in plan:
                    load_before = os.getloadavg()[0]
                    cpu_before = server_cpu_seconds(proc.pid)
                    if tool == "wrk":
                        r = run_wrk(
                            url,
                            connections=args.connections,
                            duration=args.duration,
                            threads=args.threads,
                            body=body,
                            tokens=toks,
                            tmp=Path(tmp),
                        )
                    else:
                        r = asyncio.run(
                            _python_load(
                                url,
                                connections=args.connections,
                                duration=args.duration,
                                body=body,
                                tokens=toks,
                            )
                        )
                    cpu = server_cpu_seconds(proc.pid) - cpu_before
                    r["server_cpu_ms_per_request"] = 1000 * cpu / max(1, r["requests"])
                    r["load_avg_1m"] = [load_before, os.getloadavg()[0]]
                    if toks is not None and r["requests"] > len(toks):
                        r["note"] = "ran out of pre-minted tokens"
                    results[name] = r
                rounds.append(results)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ping = "GET /v1/ping (trivial)"
    ratios = [rd["POST /v1/assess"]["p99_ms"] / rd[ping]["p99_ms"] for rd in rounds]
    names = list(rounds[0])
    summary: dict[str, dict[str, Any]] = {}
    for name in names:
        runs = [rd[name] for rd in rounds]
        summary[name] = {
            key: _median([float(r[key]) for r in runs])
            for key in ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
        }
        summary[name]["errors"] = sum(int(r["errors"]) for r in runs)
        summary[name]["ratio"] = _median([rd[name]["p99_ms"] / rd[ping]["p99_ms"] for rd in rounds])
        summary[name]["load"] = (
            min(v for r in runs for v in r["load_avg_1m"]),
            max(v for r in runs for v in r["load_avg_1m"]),
        )
    label = " [DIAGNOSTIC: assess() memoised]" if args.memoize_assess else ""
    print(
        f"\n{tool}, {args.connections} connections, {args.duration} s per endpoint, "
        f"{args.workers} worker(s), {os.cpu_count()} CPUs, {args.rounds} round(s)"
        f"{' (medians)' if args.rounds > 1 else ''}{label}\n"
    )
    print(
        "| endpoint | requests/s | p50 ms | p99 ms | errors | p99 / trivial p99 "
        "| server CPU ms/request | load avg (1 min) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, r in summary.items():
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['errors']} | {r['ratio']:.1f}x | "
            f"{r['server_cpu_ms_per_request']:.2f} | {r['load'][0]:.1f} to {r['load'][1]:.1f} |"
        )
    assess_ratio = _median(ratios)
    total_errors = sum(r["errors"] for r in summary.values())
    verdict = "met" if total_errors == 0 and assess_ratio <= 3 else "NOT met"
    per_round = ", ".join(f"{x:.1f}x" for x in ratios)
    print(
        f"\ntarget (0 errors, /v1/assess p99 <= 3x trivial): {verdict}{label} "
        f"(errors {total_errors}, ratio {assess_ratio:.1f}x; per round: {per_round})"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "tool": tool,
                    "connections": args.connections,
                    "duration": args.duration,
                    "workers": args.workers,
                    "memoize_assess": args.memoize_assess,
                    "rounds": rounds,
                },
                indent=2,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
