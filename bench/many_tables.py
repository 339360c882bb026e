#!/usr/bin/env python3
"""Many-tables benchmark. Run through bench/many-tables.sh.

N tables x R rows, generated once (cached) in the mydumper layout, so
myloader loads the very same files: `many-schema-create.sql`, per table
`many.tNNNNN-schema.sql` (an INT primary key, a VARCHAR secondary key, a
DECIMAL and a DATETIME) and `many.tNNNNN.000000000.sql` (one INSERT), and
a `metadata` file. Then, each into a cold target, at default settings
(checkpoints on):

  local     importer, local backend -> embedded RocksDB
  tidb      importer, tidb backend  -> a fresh MariaDB
  myloader  myloader -t T           -> a fresh MariaDB

For each: wall time, time to the first row on the target, peak RSS (the
client's process tree; the server's VmHWM for MariaDB runs), CPU seconds;
every table's row count checked. Prints a table with each method's speed
relative to myloader, writes bench/results/many-<N>x<R>-t<T>.md and
regenerates bench/RESULTS.md. Only the standard library is used.
"""

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import common
import report
from common import (Maria, add_run_args, build, die, fresh, importer_config, log, need_tools,
                    only_methods, run_importer, stop_all_on_exit, store_counts, tail)

DB = "many"
ALL = ["local", "tidb", "myloader"]
LABELS = {
    "local": "importer local → RocksDB",
    "tidb": "importer tidb → MariaDB",
    "myloader": "myloader → MariaDB",
}


def generate(cache, tables, rows):
    """The dump, made once per (tables, rows) and reused."""
    dump = cache / f"many-{tables}x{rows}"
    if (dump / "metadata").exists():
        return dump
    tmp = dump.with_suffix(".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    log(f"generating {tables} tables x {rows} rows into {dump}")
    (tmp / f"{DB}-schema-create.sql").write_text(f"CREATE DATABASE `{DB}`;\n")
    width = max(4, len(str(tables - 1)))
    for t in range(tables):
        name = f"t{t:0{width}d}"
        (tmp / f"{DB}.{name}-schema.sql").write_text(
            f"CREATE TABLE `{name}` (\n"
            "  `id` INT NOT NULL,\n"
            "  `name` VARCHAR(64) NOT NULL,\n"
            "  `amount` DECIMAL(12,2) DEFAULT NULL,\n"
            "  `created` DATETIME DEFAULT NULL,\n"
            "  PRIMARY KEY (`id`),\n"
            "  KEY `k_name` (`name`)\n"
            ");\n")
        values = ",".join(
            f"({i},'name-{t}-{i}',{i}.25,'2024-01-{i % 28 + 1:02d} 10:00:00')"
            for i in range(rows))
        (tmp / f"{DB}.{name}.000000000.sql").write_text(
            f"INSERT INTO `{name}` VALUES {values};\n")
    # myloader refuses a directory without one.
    (tmp / "metadata").write_text("Started dump at: 2026-01-01 00:00:00\n"
                                  "Finished dump at: 2026-01-01 00:00:00\n")
    tmp.rename(dump)
    return dump


class FirstRow:
    """Polls a server for its first row-writing statement (`Com_insert` +
    `Com_replace`: MariaDB 10.11 has no InnoDB row counter) every 0.2 s
    until it sees one; `seconds` is measured from `t0`. A client per
    poll (the mariadb client answers a pipe only at its end); polling stops
    at the first row, so the measured run shares the cores with it only
    during its set-up."""

    def __init__(self, server, t0):
        self.seconds = None
        self.stop = threading.Event()
        self.t0 = t0
        self.server = server
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        query = ("SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS "
                 "WHERE VARIABLE_NAME IN ('COM_INSERT', 'COM_REPLACE')")
        while not self.stop.is_set():
            r = subprocess.run(self.server.client("-N", "-B", "-e", query),
                               capture_output=True, text=True)
            try:
                if int(r.stdout.split()[-1]) > 0:
                    self.seconds = time.monotonic() - self.t0
                    return
            except (ValueError, IndexError):
                pass
            self.stop.wait(0.2)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)


def first_engine_import(log_path, started_wall):
    """Seconds from the start to the first data engine imported into the
    local store (its rows are readable from then on), from the log."""
    pattern = re.compile(r"^(\S+)Z .*engine\{tag=\S+:(\d+) .*engine imported")
    try:
        for line in Path(log_path).read_text(errors="replace").splitlines():
            m = pattern.match(line)
            if m:
                at = datetime.datetime.fromisoformat(m.group(1)).replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                return at - started_wall
    except OSError:
        pass
    return None


class ManyBench:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work).resolve()
        self.runs = self.work / "run"
        self.results = {}

    def record(self, method, m, first, verified, server_kib=0):
        self.results[method] = dict(m, first=first, verified=verified, server_kib=server_kib)
        status = "ok" if m["rc"] == 0 else f"FAILED rc={m['rc']} (log {m['log']})"
        first_s = f"{first:.1f} s" if first is not None else "–"
        log(f"{method}: {m['wall']:.1f} s, first row after {first_s}, peak RSS "
            f"{m['rss_kib'] // 1024} MiB, {verified} — {status}")
        if m["rc"] != 0:
            print(tail(m["log"]), file=sys.stderr)

    def expect(self, counts):
        want = self.args.tables
        bad = [t for t, c in counts.items() if c != self.args.rows]
        if len(counts) != want or bad:
            return (f"MISMATCH: {len(counts)} of {want} tables, "
                    f"{len(bad)} with a wrong row count ({bad[:3]})")
        return f"{want} tables x {self.args.rows} rows ok"

    def server_counts(self, s):
        names = s.sql(f"SELECT TABLE_NAME FROM information_schema.TABLES "
                      f"WHERE TABLE_SCHEMA = '{DB}'").split()
        counts = {}
        for i in range(0, len(names), 500):
            part = names[i:i + 500]
            query = " UNION ALL ".join(
                f"SELECT '{n}', COUNT(*) FROM `{DB}`.`{n}`" for n in part)
            for line in s.sql(query).splitlines():
                n, c = line.split("\t")
                counts[n] = int(c)
        return counts

    def run_local(self):
        d = fresh(self.runs / "many-local")
        cfg = importer_config(d, self.args.threads, self.dump, "local",
                              importer=f'sorted-kv-dir = "{d}/sorted"\n')
        started = time.time()
        m = run_importer(self.importer, "local", cfg)
        first = first_engine_import(d / "importer.log", started)
        verified = ""
        if m["rc"] == 0:
            verified = self.expect(store_counts(self.importer, d / "store", DB))
        self.record("local", m, first, verified)
        if not self.args.keep:
            shutil.rmtree(d, ignore_errors=True)

    def run_server(self, method, cmd_for):
        d = fresh(self.runs / f"many-{method}")
        s = Maria(self.runs / f"mariadb-{method}")
        try:
            cmd = cmd_for(d, s)
            log(f"{method}: {' '.join(cmd)}")
            poll = FirstRow(s, time.monotonic())
            try:
                m = s.measure(cmd, d / "stdout.log")
            finally:
                poll.close()
            verified = self.expect(self.server_counts(s)) if m["rc"] == 0 else ""
            self.record(method, m, poll.seconds, verified, s.hwm_kib())
        finally:
            s.stop()
            if not self.args.keep:
                shutil.rmtree(d, ignore_errors=True)

    def tidb_cmd(self, d, s):
        cfg = importer_config(d, self.args.threads, self.dump, "tidb", server=s)
        return [str(self.importer), "--config", str(cfg)]

    def myloader_cmd(self, d, s):
        return ["myloader", "-h", "127.0.0.1", "-P", s.port, "-u", "root", "-d",
                str(self.dump), "-t", str(self.args.threads)]

    def run(self):
        self.runs.mkdir(parents=True, exist_ok=True)
        self.dump = generate(self.work / "cache", self.args.tables, self.args.rows)
        self.load_start = os.getloadavg()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        if "local" in self.args.only:
            self.run_local()
        if "tidb" in self.args.only:
            self.run_server("tidb", self.tidb_cmd)
        if "myloader" in self.args.only:
            self.run_server("myloader", self.myloader_cmd)
        self.load_end = os.getloadavg()
        self.finished = datetime.datetime.now(datetime.timezone.utc)

    def table(self):
        head = ["method", "wall s", "first row s", "tables/s", "peak RSS MiB",
                "server RSS MiB", "CPU s", "speed ÷ myloader", "check"]
        ref = self.results.get("myloader")
        rows = []
        for method in ALL:
            r = self.results.get(method)
            if not r:
                continue
            ok = r["rc"] == 0
            rows.append([
                LABELS[method],
                f"{r['wall']:.1f}" if ok else "failed",
                f"{r['first']:.1f}" if r["first"] is not None else "–",
                f"{self.args.tables / r['wall']:.0f}" if ok else "–",
                f"{r['rss_kib'] / 1024:.0f}",
                f"{r['server_kib'] / 1024:.0f}" if r["server_kib"] else "–",
                f"{r['cpu']:.1f}",
                f"{ref['wall'] / r['wall']:.2f}×" if ref and ref["rc"] == 0 and ok else "–",
                r["verified"],
            ])
        return head, rows

    def fragment(self, head, rows, command):
        mach = report.machine()
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=common.REPO,
                                capture_output=True, text=True).stdout.strip()
        when = (f"{self.started:%Y-%m-%d %H:%M} – {self.finished:%H:%M} UTC")
        lines = [
            f"## Many tables: {self.args.tables:,} × {self.args.rows} rows, "
            f"{self.args.threads} threads",
            "",
            f"- Date: {when}; commit {commit}",
            f"- Command: `{command}`",
            f"- Machine: {mach['cpu']}",
            f"- Load average at start / end: {self.load_start[0]:.1f} / {self.load_end[0]:.1f}",
            "- Settings: defaults (checkpoints on, checksum and analyze at their defaults: on for the local backend, off for the tidb backend as in Lightning); "
            "each MariaDB run on a fresh datadir from `scripts/mariadb.sh`",
            "",
            report.markdown_table(head, rows),
            "",
        ]
        return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", type=int, default=2000, help="number of tables (default 2000)")
    p.add_argument("--rows", type=int, default=50, help="rows per table (default 50)")
    add_run_args(p, ALL)
    args = p.parse_args()
    args.only = only_methods(args, ALL)
    if args.tables < 1 or args.rows < 1:
        die("--tables and --rows must be at least 1")
    tools = ["cargo"]
    if "tidb" in args.only or "myloader" in args.only:
        tools += ["mariadbd", "mariadb", "mariadb-install-db", "mariadb-admin"]
    if "myloader" in args.only:
        tools += ["myloader"]
    need_tools(tools)
    stop_all_on_exit()
    target = build(args.no_build, ["--workspace", "--bins"])
    b = ManyBench(args)
    b.importer = target / "debug" / "importer"
    if not b.importer.exists():
        die(f"{b.importer} was not built")
    b.run()
    head, rows = b.table()
    print()
    print(f"{args.tables:,} tables x {args.rows} rows, {args.threads} threads")
    print(report.text_table(head, rows))
    if not args.no_report:
        command = "bench/many-tables.sh " + " ".join(sys.argv[1:])
        report.add_fragment(f"many-{args.tables}x{args.rows}-t{args.threads}.md",
                            b.fragment(head, rows, command))
    if any(r["rc"] != 0 or "MISMATCH" in r["verified"] for r in b.results.values()):
        die("a run failed or imported the wrong rows (see the table)")


if __name__ == "__main__":
    main()
