#!/usr/bin/env python3
"""One-big-file benchmark. Run through bench/big-file.sh.

TPC-H `lineitem` at a scale factor (the CSV of bench/harness.py's
`generate`, cached) as three dumps in the mydumper layout with the same
rows, made once and cached next to the CSV: `tpch-schema-create.sql`,
`tpch.lineitem-schema.sql` (bench/tpch.sql's DDL) and the data as
mydumper-like SQL, `INSERT INTO `lineitem` VALUES (...),(...);` statements
of about 1 MiB, one a line:

  8    tpch.lineitem.000000000.sql ... .000000007.sql
  1    tpch.lineitem.000000000.sql
  zst  tpch.lineitem.000000000.sql.zst (the one file, `zstd` default level)

Each dump is imported into a cold target at default settings (checkpoints
on; `--strict-format` sets `[mydumper] strict-format = true`, with the
CSV terminator it requires):

  local-8, local-1, local-zst  importer, local backend -> embedded RocksDB
  tidb-8, tidb-1, tidb-zst     importer, tidb backend  -> a fresh MariaDB
                               (post-restore checksum and analyze off)

For each: wall time, rows/s, CPU seconds (client, plus the server's for
MariaDB runs), cores busy (CPU seconds / wall), peak RSS (the client's
process tree; the server's VmHWM for MariaDB runs), and for the one-file
rows the speed relative to the same backend's 8-file run, with the
targets: at least 0.9x its speed, as many cores busy, no more peak RSS.
Row counts are checked (`importer store tables`, `SELECT COUNT(*)`).
Prints a table, writes bench/results/big-file-sf<SF>-t<T>.md and
regenerates bench/RESULTS.md. Only the standard library is used.
"""

import argparse
import csv
import datetime
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import report
from common import (Maria, add_run_args, build, die, fresh, importer_config, log, need_tools,
                    only_methods, run_checked, run_importer, stop_all_on_exit, store_counts,
                    tail)
from harness import generate, tpch_ddl

DB = "tpch"
TABLE = "lineitem"
FILES = 8
STATEMENT_BYTES = 1 << 20
DUMPS = {"8": f"{FILES} SQL files", "1": "one SQL file", "zst": "one SQL file, zstd"}
ALL = [f"{backend}-{dump}" for backend in ("local", "tidb") for dump in DUMPS]
BACKENDS = {"local": "importer local → RocksDB", "tidb": "importer tidb → MariaDB"}
# Targets of a one-file import against the same backend's 8-file import.
SPEED_GOAL = 0.9
# Column types written as bare literals; every other value is quoted.
NUMERIC = {"TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT", "DECIMAL",
           "NUMERIC", "FLOAT", "DOUBLE", "REAL"}


def label(method):
    backend, dump = method.split("-")
    return f"{BACKENDS[backend]}, {DUMPS[dump]}"


# ---------------------------------------------------------------- data

def quoted_columns(create):
    """Per column of a CREATE TABLE, in order: whether its values are
    quoted (strings, dates) rather than bare (numbers)."""
    out = []
    for line in create.splitlines()[1:]:
        m = re.match(r"\s*`?(\w+)`?\s+([A-Za-z]+)", line)
        if m and m.group(1).upper() not in ("PRIMARY", "KEY", "UNIQUE", "INDEX", "CONSTRAINT"):
            out.append(m.group(2).upper() not in NUMERIC)
    return out


class SqlFiles:
    """Row tuples written as INSERT statements of about STATEMENT_BYTES,
    one a line, spread over `paths`: `rows` rows in all, each file an equal
    run of them."""

    def __init__(self, paths, rows):
        self.paths = paths
        self.ends = [rows * (i + 1) // len(paths) for i in range(len(paths))]
        self.head = f"INSERT INTO `{TABLE}` VALUES "
        self.index = -1
        self.file = None
        self.rows = 0
        self.values, self.size = [], 0
        self.next_file()

    def next_file(self):
        self.flush()
        if self.file:
            self.file.close()
        self.index += 1
        self.file = open(self.paths[self.index], "w", encoding="utf-8", newline="\n",
                         buffering=1 << 20)

    def add(self, values):
        while self.rows == self.ends[self.index] and self.index + 1 < len(self.paths):
            self.next_file()
        self.values.append(values)
        self.size += len(values) + 1
        self.rows += 1
        if self.size >= STATEMENT_BYTES:
            self.flush()

    def flush(self):
        if self.values:
            self.file.write(self.head + ",".join(self.values) + ";\n")
            self.values, self.size = [], 0

    def close(self):
        self.flush()
        self.file.close()


def csv_to_sql(csv_files, quoted, sinks):
    """Streams the rows of CSV files with a header line into the SqlFiles
    `sinks` as MySQL literals: quoted values in single quotes with `'` and
    `\\` escaped, the rest bare. Returns the number of rows."""
    tuple_of = ("(" + ",".join("'{}'" if q else "{}" for q in quoted) + ")").format
    strings = [i for i, q in enumerate(quoted) if q]
    rows = 0
    for path in csv_files:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            for row in reader:
                for i in strings:
                    v = row[i]
                    if "'" in v or "\\" in v:
                        row[i] = v.replace("\\", "\\\\").replace("'", "\\'")
                values = tuple_of(*row)
                for sink in sinks:
                    sink.add(values)
                rows += 1
    return rows


def data_name(i, suffix=""):
    return f"{DB}.{TABLE}.{i:09d}.sql{suffix}"


def sql_dumps(cache, csv_dump, rows):
    """The three dumps under cache/big-file and their manifest (rows, files
    and bytes of each); made once, reused."""
    root, manifest_path = cache / "big-file", cache / "big-file" / "manifest.json"
    if manifest_path.exists():
        log(f"reusing the SQL dumps of {TABLE} in {root}")
        return root, json.loads(manifest_path.read_text())
    tmp = fresh(cache / "big-file.tmp")
    create = tpch_ddl()[TABLE]
    for name in DUMPS:
        (tmp / name).mkdir()
        (tmp / name / f"{DB}-schema-create.sql").write_text(f"CREATE DATABASE `{DB}`;\n")
        (tmp / name / f"{DB}.{TABLE}-schema.sql").write_text(create)
    log(f"writing {TABLE} as SQL into {root} ({', '.join(DUMPS.values())})")
    t0 = time.monotonic()
    sinks = [SqlFiles([tmp / "8" / data_name(i) for i in range(FILES)], rows),
             SqlFiles([tmp / "1" / data_name(0)], rows)]
    written = csv_to_sql(sorted(csv_dump.glob(f"{DB}.{TABLE}.*.csv")), quoted_columns(create),
                         sinks)
    for sink in sinks:
        sink.close()
    if written != rows:
        die(f"{written} rows of {TABLE} in the CSV files, the manifest says {rows}")
    run_checked(["zstd", "-q", str(tmp / "1" / data_name(0)), "-o",
                 str(tmp / "zst" / data_name(0, ".zst"))])
    manifest = {"table": TABLE, "rows": rows, "dumps": {}}
    for name in DUMPS:
        files = sorted(tmp.glob(f"{name}/{DB}.{TABLE}.0*"))
        manifest["dumps"][name] = {"files": len(files),
                                   "bytes": sum(f.stat().st_size for f in files)}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    log(f"SQL dumps written in {time.monotonic() - t0:.1f} s")
    return root, manifest


# ---------------------------------------------------------------- runs

class BigFileBench:
    def __init__(self, args, importer):
        self.args = args
        self.importer = importer
        self.work = Path(args.work).resolve()
        self.runs = self.work / "run"
        self.results = {}

    def prepare(self):
        cache = self.work / "cache" / f"sf{self.args.sf}"
        csv_dump, tables = generate(cache, self.args.sf)
        self.rows = tables["tables"][TABLE]["rows"]
        self.root, self.manifest = sql_dumps(cache, csv_dump, self.rows)

    def config(self, d, dump, backend, server=None):
        # strict-format needs a CSV terminator (the dumps hold no CSV).
        mydumper = ("strict-format = true\n[mydumper.csv]\nterminator = \"\\n\"\n"
                    if self.args.strict_format else "")
        if backend == "local":
            return importer_config(d, self.args.threads, dump, "local",
                                   importer=f'sorted-kv-dir = "{d}/sorted"\n', mydumper=mydumper)
        return importer_config(d, self.args.threads, dump, "tidb", server=server,
                               mydumper=mydumper,
                               more='[post-restore]\nchecksum = "off"\nanalyze = "off"\n')

    def record(self, method, m, rows, server_kib):
        if m["rc"] != 0:
            verified = ""
        elif rows == self.rows:
            verified = f"{rows:,} rows ok"
        else:
            verified = f"MISMATCH: {rows} rows of {self.rows:,}"
        self.results[method] = dict(m, verified=verified, server_kib=server_kib)
        status = "ok" if m["rc"] == 0 else f"FAILED rc={m['rc']} (log {m['log']})"
        log(f"{method}: {m['wall']:.1f} s, {m['cpu'] / m['wall']:.2f} cores busy, peak RSS "
            f"{m['rss_kib'] / 1024:.0f} MiB, {verified} — {status}")
        if m["rc"] != 0:
            print(tail(m["log"]), file=sys.stderr)

    def run_one(self, method, dump):
        """One import into a cold target: a new store, or a fresh MariaDB
        for the tidb backend."""
        backend = method.split("-")[0]
        d = fresh(self.runs / f"big-file-{method}")
        s = Maria(self.runs / f"mariadb-{method}") if backend == "tidb" else None
        try:
            m = run_importer(self.importer, method, self.config(d, dump, backend, s), server=s)
            hwm = s.hwm_kib() if s else 0
            rows = None
            if m["rc"] == 0 and s:
                rows = s.counts(DB, [TABLE])[TABLE]
            elif m["rc"] == 0:
                rows = store_counts(self.importer, d / "store", DB).get(TABLE)
            self.record(method, m, rows, hwm)
        finally:
            if s:
                s.stop()
            if not self.args.keep:
                shutil.rmtree(d, ignore_errors=True)

    def run(self):
        self.runs.mkdir(parents=True, exist_ok=True)
        self.load_start = os.getloadavg()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        for method in ALL:
            if method in self.args.only:
                self.run_one(method, self.root / method.split("-")[1])
        self.load_end = os.getloadavg()
        self.finished = datetime.datetime.now(datetime.timezone.utc)

    # -- table

    def reference(self, method):
        """The same backend's successful 8-file run, for a one-file run."""
        backend, dump = method.split("-")
        ref = self.results.get(f"{backend}-8")
        return ref if dump != "8" and ref and ref["rc"] == 0 else None

    def targets(self):
        """(method, short name, target, value, met) for every one-file run
        with an 8-file run to compare with; speed and cores busy at two
        decimals and RSS in whole MiB, as shown."""
        out = []
        for method in ALL:
            r, ref = self.results.get(method), self.reference(method)
            if not r or not ref:
                continue
            if r["rc"] != 0:
                out.append((method, "import", "import succeeds", "failed", "not met"))
                continue
            speed = round(ref["wall"] / r["wall"], 2)
            cores, ref_cores = round(r["cpu"] / r["wall"], 2), round(ref["cpu"] / ref["wall"], 2)
            rss, ref_rss = round(r["rss_kib"] / 1024), round(ref["rss_kib"] / 1024)
            out += [
                (method, "speed", f"speed ≥ {SPEED_GOAL}× the 8-file import", f"{speed:.2f}×",
                 "met" if speed >= SPEED_GOAL else "not met"),
                (method, "cores", f"cores busy ≥ the 8-file import's ({ref_cores:.2f})",
                 f"{cores:.2f}", "met" if cores >= ref_cores else "not met"),
                (method, "RSS", f"peak RSS ≤ the 8-file import's ({ref_rss} MiB)", f"{rss} MiB",
                 "met" if rss <= ref_rss else "not met"),
            ]
        return out

    def table(self):
        head = ["method", "files", "source MB", "wall s", "rows/s", "CPU s", "cores busy",
                "peak RSS MiB", "server RSS MiB", "speed ÷ 8 files", "targets", "check"]
        missed = {}
        for method, short, _, _, met in self.targets():
            missed.setdefault(method, [])
            if met != "met":
                missed[method].append(short)
        rows = []
        for method in [m for m in ALL if m in self.results]:
            r, ref = self.results[method], self.reference(method)
            ok = r["rc"] == 0
            dump = self.manifest["dumps"][method.split("-")[1]]
            rows.append([
                label(method), str(dump["files"]), f"{dump['bytes'] / 1e6:.1f}",
                f"{r['wall']:.1f}" if ok else "failed",
                f"{self.rows / r['wall']:,.0f}" if ok else "–",
                f"{r['cpu']:.1f}",
                f"{r['cpu'] / r['wall']:.2f}",
                f"{r['rss_kib'] / 1024:.0f}",
                f"{r['server_kib'] / 1024:.0f}" if r["server_kib"] else "–",
                f"{ref['wall'] / r['wall']:.2f}×" if ref and ok else "–",
                "–" if method not in missed else
                "met" if not missed[method] else "not met: " + ", ".join(missed[method]),
                r["verified"] or "–",
            ])
        return head, rows

    def fragment(self, head, rows, command):
        mach = report.machine()
        dumps = "; ".join(f"{DUMPS[n]}: {d['bytes'] / 1e6:.1f} MB"
                          for n, d in self.manifest["dumps"].items())
        lines = [
            f"## One big file: TPC-H {TABLE} SF {self.args.sf}, {self.args.threads} threads"
            + (", strict-format" if self.args.strict_format else ""),
            "",
            f"- Date: {self.started:%Y-%m-%d %H:%M} – {self.finished:%H:%M} UTC; "
            f"commit {mach['commit']}",
            f"- Command: `{command}`",
            f"- Machine: {mach['cpu']}, {mach['nproc']} cores, {mach['mem_gib']:.1f} GiB RAM",
            f"- Load average at start / end: {self.load_start[0]:.1f} / {self.load_end[0]:.1f}",
            f"- Source: {self.rows:,} rows of `{TABLE}` as `INSERT` statements of about 1 MiB: "
            f"{dumps} (zstd at its default level)",
            "- Settings: defaults (checkpoints on; "
            + ("`strict-format = true` with the CSV terminator it needs, `\\n`); "
               if self.args.strict_format else "`strict-format = false`); ")
            + "local backend with its "
            "checksum at the default (on); tidb backend with post-restore checksum and analyze "
            "off, each MariaDB run on a fresh datadir from `scripts/mariadb.sh`. Cores busy = "
            "CPU seconds of the importer (and of the server, for MariaDB runs) ÷ wall",
            "",
            report.markdown_table(head, rows),
            "",
            "Targets, from this run (each one-file import against the same backend's "
            "8-file import; peak RSS is the importer's):",
            "",
            report.markdown_table(["method", "target", "value", ""],
                                  [[label(m), t, v, met] for m, _, t, v, met in self.targets()]),
            "",
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sf", default="0.5", help="TPC-H scale factor (default 0.5)")
    add_run_args(p, ALL)
    p.add_argument("--strict-format", action="store_true",
                   help="set [mydumper] strict-format = true for every import")
    args = p.parse_args()
    args.sf = f"{float(args.sf):g}"
    args.only = only_methods(args, ALL)
    tools = ["tpchgen-cli", "zstd"] + ([] if args.no_build else ["cargo"])
    if any(m.startswith("tidb") for m in args.only):
        tools += ["mariadbd", "mariadb", "mariadb-install-db", "mariadb-admin"]
    need_tools(tools)
    stop_all_on_exit()
    importer = build(args.no_build, ["--workspace", "--bins"]) / "debug" / "importer"
    if not importer.exists():
        die(f"{importer} was not built")
    b = BigFileBench(args, importer)
    b.prepare()
    b.run()
    head, rows = b.table()
    print()
    print(f"TPC-H {TABLE} SF{args.sf}: {b.rows:,} rows, {args.threads} threads, "
          f"strict-format {'on' if args.strict_format else 'off'}")
    print(report.text_table(head, rows))
    for method, _, target, value, met in b.targets():
        print(f"  {method}: {target}: {value} {met}")
    if not args.no_report:
        command = "bench/big-file.sh " + " ".join(sys.argv[1:])
        name = f"big-file-sf{args.sf}-t{args.threads}{'-strict' if args.strict_format else ''}.md"
        report.add_fragment(name, b.fragment(head, rows, command))
    if any(r["rc"] != 0 or "MISMATCH" in r["verified"] for r in b.results.values()):
        die("a run failed or imported the wrong rows (see the table)")


if __name__ == "__main__":
    main()
