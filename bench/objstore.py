#!/usr/bin/env python3
"""Object-storage benchmark. Run through bench/objstore.sh.

One invocation: the TPC-H dump of bench/run.sh at a scale factor (made
once, cached), served by an S3 server, moto, on a free loopback port
(scripts/moto_seeded.py holds the dump in memory before it listens); then,
each into a cold target:

  disk   importer, local backend, from the dump on local disk
  s3     importer, local backend, from the same dump on the S3 server
  read   every object read once by a plain client (boto3, --threads GETs in
         parallel): the server's own read throughput, the limit for `s3`

For each: wall time, source MB/s, peak RSS (process tree); row counts
checked after each import. Prints a table with s3 relative to disk and to
the server's limit. Nothing is written to bench/RESULTS.md.
"""

import argparse
import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from common import REPO, add_run_args, die, log, need_tools, only_methods, stop_all_on_exit
from harness import Bench
from report import text_table

ALL = ["disk", "s3", "read"]
BUCKET, PREFIX = "bench", "tpch"
# moto takes any key; these never leave the machine.
KEY, SECRET = "bench", "bench-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """scripts/moto_seeded.py serving `dump` as s3://BUCKET/PREFIX."""

    def __init__(self, dump):
        self.port = free_port()
        log(f"moto on port {self.port}: loading {dump} into memory")
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts/moto_seeded.py"), str(self.port), BUCKET,
             PREFIX, str(dump)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        atexit.register(self.stop)
        if self.proc.stdout.readline().strip() != "ready":
            die("scripts/moto_seeded.py did not start")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def url(self):
        q = urllib.parse.urlencode({"endpoint": self.endpoint, "region": "us-east-1",
                                    "access-key": KEY, "secret-access-key": SECRET})
        return f"s3://{BUCKET}/{PREFIX}?{q}"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait()


def read_all(moto, threads):
    """Every object under the prefix read once, `threads` at a time;
    returns the measurement in bench's shape."""
    import boto3  # moto[server] brings it (scripts/setup.sh test)
    client = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                          aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2")
            .paginate(Bucket=BUCKET, Prefix=PREFIX + "/") for o in page.get("Contents", [])]

    def get(key):
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
        n = 0
        while chunk := body.read(1 << 20):
            n += len(chunk)
        return n

    t0, c0 = time.monotonic(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(get, keys))
    wall = time.monotonic() - t0
    log(f"read: {len(keys)} objects, {total / 1e6:.1f} MB")
    return {"rc": 0, "wall": wall, "cpu": time.process_time() - c0,
            "rss_kib": 0, "log": "-"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sf", default="1", help="TPC-H scale factor (default 1)")
    add_run_args(p, ALL, writes="anything (this bench only prints)")
    args = p.parse_args()
    args.sf = f"{float(args.sf):g}"
    args.only = only_methods(args, ALL)
    need_tools(["cargo", "tpchgen-cli"])
    stop_all_on_exit()

    b = Bench(args)
    b.build()
    b.prepare()
    b.runs.mkdir(parents=True, exist_ok=True)
    if "disk" in args.only:
        b.run_local("default", False, method="disk")
    if "s3" in args.only or "read" in args.only:
        moto = Moto(b.dump)
        if "read" in args.only:
            b.record("read", read_all(moto, b.threads), verified="every object once")
        if "s3" in args.only:
            b.run_local("default", False, source=moto.url(), method="s3")
        moto.stop()

    mb = b.bytes / 1e6
    head = ["method", "wall s", "MB/s", "peak RSS MiB", "vs disk", "vs read", "checked"]
    rows = []
    for method in ALL:
        r = b.results.get(method)
        if not r:
            continue
        ratio = lambda other: (f"{b.results[other]['wall'] / r['wall']:.2f}×"
                               if other in b.results and r["rc"] == 0 else "–")
        rows.append([method, f"{r['wall']:.1f}", f"{mb / r['wall']:.1f}",
                     r["rss_kib"] // 1024 if r["rss_kib"] else "–", ratio("disk"),
                     ratio("read"), r["verified"] or ("ok" if r["rc"] == 0 else "FAILED")])
    print()
    print(f"TPC-H SF{b.sf}, {b.threads} threads, {mb:.0f} MB CSV, {b.rows:,} rows; "
          "speed relative to disk and to the server's read limit (>1 faster)")
    print(text_table(head, rows))
    if any(r["rc"] != 0 or "MISMATCH" in r["verified"] for r in b.results.values()):
        die("a run failed or imported the wrong row counts (see the table)")


if __name__ == "__main__":
    main()
