#!/usr/bin/env python3
"""End-to-end import benchmark. Run through bench/run.sh.

One invocation: TPC-H at a scale factor (tpchgen-cli, CSV, cached) in the
dumpling layout with bench/tpch.sql's DDL; the importer built with the
workspace's dev profile; then, each into a cold target:

  local     importer, local backend -> embedded RocksDB (default, tuned)
  tidb      importer, tidb backend  -> a fresh MariaDB
  loaddata  LOAD DATA LOCAL INFILE of the CSVs through the mariadb client
  myloader  myloader of a mydumper dump of the same tables (made once, cached)
  limits    cat of the source, parse-only (importer parsers), RocksDB ingest
            of the already-encoded pairs (needs the local run's store)

For each: wall time, source MB/s, rows/s, peak RSS (process tree, and the
server's VmHWM for MariaDB runs), CPU utilisation (user+sys of client and
server / wall / cores); row counts checked after each import. Prints a
table with ratios to ours, writes bench/results/sf<SF>-t<T>.md, merges
bench/results.csv, and regenerates bench/RESULTS.md and bench/throughput.svg.
Only the standard library is used.
"""

import argparse
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from common import (BENCH, Maria, add_run_args, build, die, fresh, importer_config, log,
                    measure, need_tools, only_methods, run_checked, run_importer,
                    stop_all_on_exit, tail)
from report import (fragment, format_table, machine, merge_csv, read_csv, svg_plot, targets,
                    text_table, write_results)

DB = "tpch"
ALL = ["local", "tidb", "loaddata", "myloader", "limits"]
# Approximate CSV MB per table at SF1: a table gets one file per ~128 MB
# (dumpling `-F 128MiB`-like), so large tables load in parallel.
SF1_MB = {"lineitem": 760, "orders": 170, "partsupp": 120, "customer": 24,
          "part": 24, "supplier": 1.4, "nation": 0.01, "region": 0.01}
FILE_MB = 128


# ---------------------------------------------------------------- data

def tpch_ddl():
    """{table: CREATE TABLE statement} from bench/tpch.sql."""
    text = (BENCH / "tpch.sql").read_text()
    text = "\n".join(l for l in text.splitlines() if not l.startswith("--"))
    out = {}
    for stmt in text.split(";"):
        m = re.search(r"CREATE TABLE `(\w+)`", stmt)
        if m:
            out[m.group(1)] = stmt.strip() + ";\n"
    return out


def count_rows(path):
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
    return n - 1  # header


def generate(cache, sf):
    """The dumpling-layout dump at cache/dump plus manifest.json; reused."""
    dump, manifest_path = cache / "dump", cache / "manifest.json"
    if manifest_path.exists():
        log(f"reusing TPC-H SF{sf} in {dump}")
        return dump, json.loads(manifest_path.read_text())
    log(f"generating TPC-H SF{sf} with tpchgen-cli into {cache}")
    if cache.exists():
        shutil.rmtree(cache)
    gen = cache / "gen"
    dump.mkdir(parents=True)
    ddl = tpch_ddl()
    (dump / f"{DB}-schema-create.sql").write_text(f"CREATE DATABASE `{DB}`;\n")
    manifest = {"sf": sf, "tables": {}}
    for table, create in ddl.items():
        (dump / f"{DB}.{table}-schema.sql").write_text(create)
        parts = max(1, math.ceil(float(sf) * SF1_MB[table] / FILE_MB))
        cmd = ["tpchgen-cli", "csv", "-s", str(sf), "-T", table, "-o", str(gen), "--no-progress"]
        if parts > 1:
            cmd += ["--parts", str(parts)]
        run_checked(cmd)
        files = [gen / f"{table}.csv"] if parts == 1 else \
            [gen / table / f"{table}.{i}.csv" for i in range(1, parts + 1)]
        rows = size = 0
        for i, f in enumerate(files):
            if not f.exists():
                die(f"tpchgen-cli made no {f}")
            target = dump / f"{DB}.{table}.{i:09d}.csv"
            f.rename(target)
            rows += count_rows(target)
            size += target.stat().st_size
        manifest["tables"][table] = {"rows": rows, "bytes": size, "files": len(files)}
    shutil.rmtree(gen, ignore_errors=True)
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return dump, manifest


def data_files(dump):
    """CSV data files, largest first, as (path, table)."""
    files = []
    for f in dump.glob(f"{DB}.*.csv"):
        files.append((f, f.name.split(".")[1]))
    files.sort(key=lambda x: -x[0].stat().st_size)
    return files


def bins(items, n, size):
    """Longest-processing-time split of items into n lists."""
    out = [[] for _ in range(n)]
    load = [0] * n
    for item in items:
        i = load.index(min(load))
        out[i].append(item)
        load[i] += size(item)
    return [b for b in out if b]


# ---------------------------------------------------------------- runs

class Bench:
    def __init__(self, args):
        self.args = args
        self.sf = args.sf
        self.threads = args.threads
        self.work = Path(args.work).resolve()
        self.cache = self.work / "cache" / f"sf{self.sf}"
        self.runs = self.work / "run"
        self.results = {}
        self.server_settings = None
        self.notes = []
        self.profile = None

    # -- setup

    def build(self):
        target = build(self.args.no_build, ["--workspace", "--all-targets"])
        self.importer = target / "debug" / "importer"
        self.parse_limit = target / "debug" / "examples" / "parse_limit"
        self.ingest_limit = target / "debug" / "examples" / "ingest_limit"
        for b in (self.importer, self.parse_limit, self.ingest_limit):
            if not b.exists():
                die(f"{b} was not built")

    def prepare(self):
        self.dump, self.manifest = generate(self.cache, self.sf)
        self.tables = list(self.manifest["tables"])
        self.rows = sum(t["rows"] for t in self.manifest["tables"].values())
        self.bytes = sum(t["bytes"] for t in self.manifest["tables"].values())
        self.file_count = len(data_files(self.dump))
        log(f"source: {self.bytes / 1e6:.1f} MB CSV, {self.rows} rows, "
            f"{self.file_count} files")

    def record(self, method, m, server=None, verified="", extra=None):
        r = {"method": method, "rc": m["rc"], "wall": m["wall"], "cpu": m["cpu"],
             "rss_kib": m["rss_kib"], "server_rss_kib": server or 0,
             "verified": verified, "rows": self.rows, "bytes": self.bytes}
        r.update(extra or {})
        self.results[method] = r
        status = "ok" if m["rc"] == 0 else f"FAILED rc={m['rc']} (log {m['log']})"
        log(f"{method}: {m['wall']:.1f} s, {self.bytes / 1e6 / m['wall']:.1f} MB/s, "
            f"peak RSS {m['rss_kib'] // 1024} MiB, {verified} — {status}")
        if m["rc"] != 0:
            print(tail(m["log"]), file=sys.stderr)

    def fresh(self, name):
        return fresh(self.runs / name)

    def verify_counts(self, got):
        bad = [f"{t}: {got.get(t)} != {v['rows']}" for t, v in self.manifest["tables"].items()
               if got.get(t) != v["rows"]]
        return "rows ok" if not bad else "ROW MISMATCH " + "; ".join(bad)

    # -- local backend

    def local_config(self, d, tuned, source=None):
        importer = f'sorted-kv-dir = "{d}/sorted"\n'
        mydumper = ""
        if tuned:
            importer += "local-writer-mem-cache-size = '512MiB'\n"
            mydumper = "strict-format = true\nmax-region-size = '64MiB'\n" \
                       "[mydumper.csv]\nterminator = \"\\n\"\n"
        return importer_config(d, self.threads, source or self.dump, "local",
                               importer=importer, mydumper=mydumper)

    def run_local(self, variant, limits, source=None, method=None):
        """A local-backend import of the dump (or of `source`, e.g. its copy
        in object storage), recorded as `method` (default local-VARIANT)."""
        method = method or f"local-{variant}"
        d = self.fresh(method)
        cfg = self.local_config(d, variant == "tuned", source)
        m = run_importer(self.importer, method, cfg)
        verified = ""
        if m["rc"] == 0:
            out = run_checked([str(self.importer), "store", "tables", "--store", str(d / "store")])
            got = {}
            for line in out.splitlines():
                parts = line.split()
                for i, p in enumerate(parts):
                    name = p.strip("`").split(".")
                    if len(name) == 2 and name[0] == DB and i + 1 < len(parts):
                        num = [x for x in parts[i + 1:] if x.replace(",", "").isdigit()]
                        if num:
                            got[name[1].strip("`")] = int(num[0].replace(",", ""))
            verified = self.verify_counts(got) + ", checksum ok (importer)"
            if not got:
                verified = "COULD NOT READ `importer store tables`: " + out[:200]
        self.record(method, m, verified=verified)
        if limits and m["rc"] == 0:
            self.run_ingest_limit(d / "store")
        if not self.args.keep:
            shutil.rmtree(d, ignore_errors=True)

    def run_ingest_limit(self, store):
        d = self.fresh("ingest-limit")
        log("limit-ingest: ingest_limit (segments untimed, SST write + ingest timed)")
        m = measure([str(self.ingest_limit), str(store), str(d / "work"), str(self.threads)],
                    d / "stdout.log")
        extra, verified = {}, ""
        if m["rc"] == 0:
            line = [l for l in Path(m["log"]).read_text().splitlines() if l.startswith("{")][-1]
            j = json.loads(line)
            m = dict(m, wall=j["seconds"], cpu=j["cpu_seconds"], rss_kib=j["peak_rss_kib"])
            verified = f"{j['pairs']} pairs, {j['kv_bytes'] / 1e6:.0f} MB of KV, {j['ssts']} SSTs"
            extra = {"kv_bytes": j["kv_bytes"], "pairs": j["pairs"]}
        self.record("limit-ingest", m, verified=verified, extra=extra)
        shutil.rmtree(d, ignore_errors=True)

    def profile_local(self):
        """An extra local-default import under `perf record`; its flat
        profile (self time by symbol) goes next to the results."""
        d = self.fresh("local-profile")
        cfg = self.local_config(d, False)
        log("profile: perf record of a local-default import (not in the table)")
        r = subprocess.run(["perf", "record", "-F", "499", "-g", "-o", str(d / "perf.data"),
                            str(self.importer), "--config", str(cfg)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.notes.append(f"profile failed: {r.stderr[-300:]}")
        else:
            rep = subprocess.run(["perf", "report", "-i", str(d / "perf.data"), "--no-children",
                                  "--sort", "dso,symbol", "--percent-limit", "1", "--stdio",
                                  "-g", "none"], capture_output=True, text=True).stdout
            lines = [l.rstrip(" -") for l in rep.splitlines() if l.strip() and not l.startswith("#")]
            self.profile = "\n".join(lines[:30])
        shutil.rmtree(d, ignore_errors=True)

    # -- MariaDB runs

    def server(self, name):
        s = Maria(self.runs / f"mariadb-{name}")
        if self.server_settings is None:
            self.server_settings = " ".join(
                a for a in s.cmdline()[1:]
                if not any(k in a for k in ("--datadir", "--socket", "--port", "--pid-file",
                                            "--log-error")))
        return s

    def server_run(self, method, s, cmd, d, env=None):
        m = s.measure(cmd, d / "stdout.log", env=env)
        hwm = s.hwm_kib()
        verified = ""
        if m["rc"] == 0:
            # Every method must leave every index of the DDL in place
            # (add-index-by-sql drops some for the load).
            want = len(re.findall(r"^\s*(PRIMARY )?KEY ", (BENCH / "tpch.sql").read_text(), re.M))
            got = s.index_count(DB)
            verified = self.verify_counts(s.counts(DB, self.tables)) + (
                f", {got} indexes" if got == want else f", INDEX MISMATCH {got} != {want}")
        self.record(method, m, server=hwm, verified=verified)

    def run_tidb(self, method):
        """`tidb` at default settings; `tidb-tuned` builds the secondary
        indexes after the rows (`add-index-by-sql`)."""
        d = self.fresh(method)
        s = self.server(method)
        try:
            cfg = importer_config(
                d, self.threads, self.dump, "tidb", server=s,
                importer=f'add-index-by-sql = {"true" if method == "tidb-tuned" else "false"}\n',
                more='[post-restore]\nchecksum = "off"\nanalyze = "off"\n')
            log(f"{method}: importer --config {cfg}")
            self.server_run(method, s, [str(self.importer), "--config", str(cfg)], d)
        finally:
            s.stop()
            if not self.args.keep:
                shutil.rmtree(d, ignore_errors=True)

    def run_loaddata(self, want_myloader):
        d = self.fresh("loaddata")
        s = self.server("loaddata")
        try:
            s.sql(f"CREATE DATABASE `{DB}`")
            for create in tpch_ddl().values():
                s.sql(create, DB)
            files = data_files(self.dump)
            script = ["set -e"]
            groups = bins(files, self.threads, lambda x: x[0].stat().st_size)
            for i, group in enumerate(groups):
                sql = "".join(
                    f"LOAD DATA LOCAL INFILE '{f}' INTO TABLE `{t}` FIELDS TERMINATED BY ',' "
                    f"OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' IGNORE 1 LINES;\n"
                    for f, t in group)
                (d / f"worker{i}.sql").write_text(sql)
                client = " ".join(s.client("--local-infile=1", DB))
                script.append(f"{client} < {d}/worker{i}.sql & p{i}=$!")
            script += [f"wait $p{i}" for i in range(len(groups))]
            (d / "load.sh").write_text("\n".join(script) + "\n")
            log(f"loaddata: {len(groups)} parallel mariadb clients ({d}/load.sh)")
            self.server_run("loaddata", s, ["bash", str(d / "load.sh")], d)
            if want_myloader and not (self.cache / "mydumper").exists():
                self.make_mydumper_dump(s)
        finally:
            s.stop()
            if not self.args.keep:
                shutil.rmtree(d, ignore_errors=True)

    def make_mydumper_dump(self, s):
        out = self.cache / "mydumper.tmp"
        if out.exists():
            shutil.rmtree(out)
        log(f"making the mydumper dump once (untimed) into {self.cache / 'mydumper'}")
        run_checked(["mydumper", "-h", "127.0.0.1", "-P", s.port, "-u", "root", "-B", DB,
                     "-o", str(out), "-t", str(self.threads), "-F", str(FILE_MB)])
        out.rename(self.cache / "mydumper")

    def run_myloader(self):
        dump = self.cache / "mydumper"
        if not dump.exists():
            s = self.server("mydumper-source")
            try:
                log("myloader needs a mydumper dump: loading the CSVs into MariaDB (untimed)")
                s.sql(f"CREATE DATABASE `{DB}`")
                for create in tpch_ddl().values():
                    s.sql(create, DB)
                for f, t in data_files(self.dump):
                    run_checked(s.client("--local-infile=1", DB, "-e",
                                         f"LOAD DATA LOCAL INFILE '{f}' INTO TABLE `{t}` FIELDS "
                                         f"TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
                                         f"IGNORE 1 LINES"))
                self.make_mydumper_dump(s)
            finally:
                s.stop()
        size = sum(f.stat().st_size for f in dump.iterdir())
        d = self.fresh("myloader")
        s = self.server("myloader")
        try:
            log(f"myloader: -t {self.threads} from {dump} ({size / 1e6:.0f} MB of SQL)")
            self.server_run("myloader", s, [
                "myloader", "-h", "127.0.0.1", "-P", s.port, "-u", "root", "-d", str(dump),
                "-t", str(self.threads)], d)
            self.results["myloader"]["verified"] += f" (dump {size / 1e6:.0f} MB SQL)"
        finally:
            s.stop()
            if not self.args.keep:
                shutil.rmtree(d, ignore_errors=True)

    # -- limits

    def run_limits(self):
        d = self.fresh("limits")
        files = data_files(self.dump)
        script = ["set -e"]
        for i, group in enumerate(bins(files, self.threads, lambda x: x[0].stat().st_size)):
            script.append("cat " + " ".join(str(f) for f, _ in group) + f" > /dev/null & p{i}=$!")
        script += [f"wait $p{i}" for i in range(len(script) - 1)]
        (d / "cat.sh").write_text("\n".join(script) + "\n")
        log("limit-cat")
        self.record("limit-cat", measure(["bash", str(d / "cat.sh")], d / "cat.log"),
                    verified=f"{len(files)} files")
        log("limit-parse: parse_limit")
        m = measure([str(self.parse_limit), str(self.dump), str(self.threads)], d / "parse.log")
        verified = ""
        if m["rc"] == 0:
            line = [l for l in Path(m["log"]).read_text().splitlines() if l.startswith("{")][-1]
            rows = json.loads(line)["rows"]
            verified = "rows ok" if rows == self.rows else f"ROW MISMATCH {rows} != {self.rows}"
        self.record("limit-parse", m, verified=verified)
        shutil.rmtree(d, ignore_errors=True)

    # -- all

    def run(self):
        only = self.args.only
        self.runs.mkdir(parents=True, exist_ok=True)
        self.load_start = os.getloadavg()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        if "limits" in only:
            self.run_limits()
        if "local" in only:
            self.run_local("default", "limits" in only)
            self.run_local("tuned", False)
            if self.args.profile:
                self.profile_local()
        elif "limits" in only:
            self.notes.append("limit-ingest needs the local run's store: not measured "
                              "(add `local` to --only)")
        if "tidb" in only:
            self.run_tidb("tidb")
            self.run_tidb("tidb-tuned")
        if "loaddata" in only:
            self.run_loaddata("myloader" in only)
        if "myloader" in only:
            self.run_myloader()
        self.load_end = os.getloadavg()
        self.finished = datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sf", default="1", help="TPC-H scale factor (default 1)")
    add_run_args(p, ALL, writes="bench/RESULTS.md, .csv, .svg")
    p.add_argument("--profile", action="store_true",
                   help="also profile a local-default import with perf (flat profile in the results)")
    p.add_argument("--report-only", action="store_true",
                   help="only regenerate RESULTS.md and throughput.svg from results.csv and results/")
    args = p.parse_args()
    if args.report_only:
        all_rows = read_csv()
        svg_plot(all_rows, BENCH / "throughput.svg")
        write_results(all_rows)
        return
    args.sf = f"{float(args.sf):g}"
    args.only = only_methods(args, ALL)
    tools = ["cargo", "tpchgen-cli"]
    if any(x in args.only for x in ("tidb", "loaddata", "myloader")):
        tools += ["mariadbd", "mariadb", "mariadb-install-db", "mariadb-admin"]
    if "myloader" in args.only:
        tools += ["mydumper", "myloader"]
    if args.profile:
        tools += ["perf"]
    need_tools(tools)

    stop_all_on_exit()

    b = Bench(args)
    b.build()
    b.prepare()
    b.run()
    head, rows = format_table(b)
    print()
    print(f"TPC-H SF{b.sf}, {b.threads} threads, {b.bytes / 1e6:.0f} MB CSV, {b.rows:,} rows")
    print(text_table(head, rows))
    for t, v, m in targets(b):
        print(f"  {t}: {v} {m}")
    if b.profile:
        print("flat profile of a local-default import:\n" + b.profile)
    if args.no_report:
        return
    mach = machine()
    command = "bench/run.sh " + " ".join(sys.argv[1:])
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / f"sf{b.sf}-t{b.threads}.md").write_text(fragment(b, mach, command))
    all_rows = merge_csv(b, mach)
    svg_plot(all_rows, BENCH / "throughput.svg")
    write_results(all_rows)
    log("wrote bench/RESULTS.md, bench/results.csv, bench/throughput.svg")
    if any(r["rc"] != 0 for r in b.results.values()) or \
            any("MISMATCH" in r["verified"] for r in b.results.values()):
        die("a run failed or imported the wrong row counts (see the table)")


if __name__ == "__main__":
    main()
