"""Record store throughput: direct writes, JSON Lines import, and N concurrent API clients.

    .venv/bin/python bench/records.py                 # SQLite file in a temporary directory
    .venv/bin/python bench/records.py --pg            # a throwaway PostgreSQL on 127.0.0.1
    .venv/bin/python bench/records.py --db URL        # any database b12dx supports

Prints one Markdown table row per measurement. Every run also checks that no record was lost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

from b12dx.service.app import create_app
from b12dx.store import LabIn, open_store
from b12dx.store.jsonl import import_lines

D0 = dt.date(2024, 1, 1)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench(url: str, backend: str, clients: int, per_client: int, n_import: int) -> None:
    store = open_store(url)
    # 1. direct writes, one transaction each
    n = 200
    t0 = time.perf_counter()
    for i in range(n):
        store.add_lab(
            "direct",
            LabIn(
                test="b12_total",
                value=100 + i % 300,
                unit="ng/L",
                date=D0 + dt.timedelta(days=i % 365),
            ),
            create=True,
        )
    direct = n / (time.perf_counter() - t0)
    print(f"| {backend} | direct add_lab, 1 thread | {direct:.0f} records/s | |")

    # 2. JSON Lines import, 500 lines per transaction
    lines = [json.dumps({"kind": "person", "ref": "bulk"})]
    lines += [
        json.dumps(
            {
                "kind": "symptoms",
                "person": "bulk",
                "uid": uuid.uuid4().hex,
                "date": str(D0 + dt.timedelta(days=i % 365)),
                "cramps_per_week": i % 9,
            }
        )
        for i in range(n_import)
    ]
    t0 = time.perf_counter()
    report = import_lines(store, lines, batch_size=500)
    rate = report.added / (time.perf_counter() - t0)
    assert report.added == n_import + 1
    print(f"| {backend} | import, 500 lines/transaction | {rate:.0f} records/s | |")

    # 3. concurrent API clients through a real server
    app = create_app()
    app.state.b12dx_store = store
    app.state.b12dx_admin_token = "bench-admin"
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(
        base + "/v1/users", json={"name": "bench"}, headers={"Authorization": "Bearer bench-admin"}
    ).json()["token"]
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def work(i: int) -> None:
        mine: list[float] = []
        with httpx.Client(
            base_url=base, timeout=300, headers={"Authorization": f"Bearer {token}"}
        ) as c:
            c.post("/v1/people", json={"ref": f"c{i}"})
            barrier.wait()
            for k in range(per_client):
                t = time.perf_counter()
                r = c.post(
                    f"/v1/people/c{i}/labs",
                    json={
                        "test": "b12_total",
                        "value": 100 + k,
                        "unit": "ng/L",
                        "date": str(D0 + dt.timedelta(days=k)),
                    },
                )
                mine.append(time.perf_counter() - t)
                assert r.status_code == 201, r.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    barrier.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    server.should_exit = True
    thread.join()
    total = clients * per_client
    assert store.counts()["labs"] == n + total, "records were lost"
    q = statistics.quantiles(latencies, n=100)
    print(
        f"| {backend} | API, {clients} concurrent clients | {total / elapsed:.0f} records/s "
        f"| p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms |"
    )
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--pg", action="store_true", help="start a throwaway PostgreSQL")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--per-client", type=int, default=50)
    ap.add_argument("--import-records", type=int, default=5000)
    args = ap.parse_args()
    print("| backend | measurement | throughput | latency |")
    print("|---|---|---:|---|")
    if args.pg:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from conftest_pg import _start_server  # the test suite's throwaway server

        url, backend = _start_server().create_database(), "PostgreSQL"
    elif args.db:
        url, backend = args.db, args.db.split(":", 1)[0]
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
        backend = "SQLite (WAL, synchronous=FULL)"
    bench(url, backend, args.clients, args.per_client, args.import_records)


if __name__ == "__main__":
    main()
