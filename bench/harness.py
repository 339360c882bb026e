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
import atexit
import csv
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
DB = "tpch"
ALL = ["local", "tidb", "loaddata", "myloader", "limits"]
# Approximate CSV MB per table at SF1: a table gets one file per ~128 MB
# (dumpling `-F 128MiB`-like), so large tables load in parallel.
SF1_MB = {"lineitem": 760, "orders": 170, "partsupp": 120, "customer": 24,
          "part": 24, "supplier": 1.4, "nation": 0.01, "region": 0.01}
FILE_MB = 128
# The run order of the methods in the table.
METHODS = [
    ("local-default", "importer local → RocksDB (default)"),
    ("local-tuned", "importer local → RocksDB (tuned)"),
    ("tidb", "importer tidb → MariaDB"),
    ("tidb-tuned", "importer tidb → MariaDB (tuned: add-index-by-sql)"),
    ("myloader", "myloader → MariaDB"),
    ("loaddata", "LOAD DATA LOCAL INFILE → MariaDB"),
    ("limit-cat", "limit: cat source > /dev/null"),
    ("limit-parse", "limit: parse only (our parsers)"),
    ("limit-ingest", "limit: RocksDB ingest of encoded KVs"),
]
LABELS = dict(METHODS)

servers = []  # running MariaDB servers, stopped on exit
children = []  # the measured process group running now, killed on exit


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def die(msg):
    print(f"bench: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def need_tools(names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        die(f"missing tools: {', '.join(missing)} (run scripts/setup.sh bench)")


def run_checked(cmd, **kw):
    """Runs a setup command (untimed); fails the bench with its output."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        die(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


def measure(cmd, log_path, env=None, cwd=None):
    """Runs cmd to completion; returns wall, CPU (whole process tree) and
    peak RSS (largest process of the tree) from wait4."""
    with open(log_path, "wb") as out:
        t0 = time.monotonic()
        # Its own process group, so an interrupted bench can stop the whole
        # tree (bash scripts of parallel clients included).
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                             start_new_session=True)
        children.append(p)
        _, status, ru = os.wait4(p.pid, 0)
        children.remove(p)
        wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
            "rss_kib": ru.ru_maxrss, "log": str(log_path)}


def tail(path, n=15):
    try:
        return "".join(Path(path).read_text(errors="replace").splitlines(True)[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------- MariaDB

class Maria:
    """A throw-away server from scripts/mariadb.sh, in its own directory."""

    def __init__(self, directory):
        self.dir = Path(directory)
        if self.dir.exists():
            shutil.rmtree(self.dir)
        out = run_checked([str(REPO / "scripts/mariadb.sh"), "start", str(self.dir)])
        env = dict(re.findall(r"export (\w+)=(\S+)", out))
        self.port = env["IMPORTER_TEST_MYSQL_PORT"]
        self.socket = env["IMPORTER_TEST_MYSQL_SOCKET"]
        self.pid = int((self.dir / "pid").read_text().strip())
        servers.append(self)

    def cmdline(self):
        return Path(f"/proc/{self.pid}/cmdline").read_bytes().decode().strip("\0").split("\0")

    def cpu(self):
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def hwm_kib(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def client(self, *extra):
        return ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", *extra]

    def sql(self, query, db=None):
        cmd = self.client("-N", "-B", "-e", query)
        if db:
            cmd.append(db)
        return run_checked(cmd)

    def counts(self, tables):
        return {t: int(self.sql(f"SELECT COUNT(*) FROM `{DB}`.`{t}`").strip() or 0) for t in tables}

    def index_count(self):
        return int(self.sql("SELECT COUNT(DISTINCT TABLE_NAME, INDEX_NAME) FROM "
                            f"information_schema.STATISTICS WHERE TABLE_SCHEMA = '{DB}'").strip() or 0)

    def stop(self):
        subprocess.run([str(REPO / "scripts/mariadb.sh"), "stop", str(self.dir)],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in servers:
            servers.remove(self)


def kill_children():
    for p in list(children):
        try:
            os.killpg(p.pid, signal.SIGTERM)
            for _ in range(50):
                if os.waitpid(p.pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.1)
            else:
                os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, ChildProcessError):
            pass
        children.remove(p)


def stop_all():
    kill_children()
    for s in list(servers):
        s.stop()


def on_signal(n, _frame):
    # Children first: the `finally` blocks that run on exit stop servers.
    kill_children()
    sys.exit(128 + n)


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
        target = Path(os.environ.get("CARGO_TARGET_DIR",
                                     Path.home() / ".cache/importer/target"))
        os.environ["CARGO_TARGET_DIR"] = str(target)
        if not self.args.no_build:
            log(f"cargo build --workspace --all-targets (CARGO_TARGET_DIR={target})")
            r = subprocess.run(["cargo", "build", "--workspace", "--all-targets"], cwd=REPO)
            if r.returncode != 0:
                die("cargo build failed")
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
        log(f"source: {self.bytes / 1e6:.1f} MB CSV, {self.rows} rows, "
            f"{len(data_files(self.dump))} files")

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
        d = self.runs / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def verify_counts(self, got):
        bad = [f"{t}: {got.get(t)} != {v['rows']}" for t, v in self.manifest["tables"].items()
               if got.get(t) != v["rows"]]
        return "rows ok" if not bad else "ROW MISMATCH " + "; ".join(bad)

    # -- local backend

    def local_config(self, d, tuned):
        cfg = f"""
[lightning]
region-concurrency = {self.threads}
file = "{d}/importer.log"

[tikv-importer]
backend = "local"
sorted-kv-dir = "{d}/sorted"
"""
        if tuned:
            cfg += "local-writer-mem-cache-size = '512MiB'\n"
        cfg += f"""
[mydumper]
data-source-dir = "{self.dump}"
"""
        if tuned:
            cfg += "strict-format = true\nmax-region-size = '64MiB'\n" \
                   "[mydumper.csv]\nterminator = \"\\n\"\n"
        cfg += f"""
[checkpoint]
dsn = "{d}/checkpoint.json"

[store]
path = "{d}/store"
"""
        (d / "config.toml").write_text(cfg)
        return d / "config.toml"

    def run_local(self, variant, limits):
        d = self.fresh(f"local-{variant}")
        cfg = self.local_config(d, variant == "tuned")
        log(f"local-{variant}: importer --config {cfg}")
        m = measure([str(self.importer), "--config", str(cfg)], d / "stdout.log")
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
        self.record(f"local-{variant}", m, verified=verified)
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
        cpu0 = s.cpu()
        m = measure(cmd, d / "stdout.log", env=env)
        m["cpu"] += s.cpu() - cpu0
        hwm = s.hwm_kib()
        verified = ""
        if m["rc"] == 0:
            # Every method must leave every index of the DDL in place
            # (add-index-by-sql drops some for the load).
            want = len(re.findall(r"^\s*(PRIMARY )?KEY ", (BENCH / "tpch.sql").read_text(), re.M))
            got = s.index_count()
            verified = self.verify_counts(s.counts(self.tables)) + (
                f", {got} indexes" if got == want else f", INDEX MISMATCH {got} != {want}")
        self.record(method, m, server=hwm, verified=verified)

    def run_tidb(self, method):
        """`tidb` at default settings; `tidb-tuned` builds the secondary
        indexes after the rows (`add-index-by-sql`)."""
        d = self.fresh(method)
        s = self.server(method)
        try:
            cfg = d / "config.toml"
            cfg.write_text(f"""
[lightning]
region-concurrency = {self.threads}
file = "{d}/importer.log"

[tikv-importer]
backend = "tidb"
add-index-by-sql = {"true" if method == "tidb-tuned" else "false"}

[tidb]
host = "127.0.0.1"
port = {s.port}
user = "root"

[mydumper]
data-source-dir = "{self.dump}"

[checkpoint]
dsn = "{d}/checkpoint.json"

[post-restore]
checksum = "off"
analyze = "off"
""")
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


# ---------------------------------------------------------------- report

def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))

    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).stdout.strip()
        except OSError:
            return "?"
    df = out(["df", "-hT", "/work" if Path("/work").exists() else "/"]).splitlines()[-1].split()
    rota = out(["lsblk", "-dno", "NAME,ROTA,SIZE"]).replace("\n", "; ")
    commit = out(["git", "rev-parse", "--short=12", "HEAD"])
    if out(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"]):
        commit += " (with uncommitted changes outside bench/)"
    versions = {
        "rustc": out(["rustc", "--version"]),
        "mariadbd": out(["mariadbd", "--version"]),
        "myloader": out(["myloader", "--version"]),
        "tpchgen-cli": out(["tpchgen-cli", "--version"]),
    }
    return {"cpu": cpu, "nproc": os.cpu_count(), "mem_gib": mem_kib / 1048576,
            "kernel": platform.release(),
            "disk": f"{df[0]} {df[1]}, {df[2]} total, {df[4]} free (block devices: {rota})",
            "commit": commit, "versions": versions}


def table_rows(b):
    """[(method, result)] in METHODS order."""
    return [(m, b.results[m]) for m, _ in METHODS if m in b.results]


def mbps(r):
    return r["bytes"] / 1e6 / r["wall"] if r["rc"] == 0 and r["wall"] > 0 else 0.0


def format_table(b):
    cores = os.cpu_count()
    ours = {k: mbps(b.results[k]) for k in ("local-default", "tidb") if k in b.results}
    head = ["method", "wall s", "MB/s", "rows/s", "peak RSS MiB", "server RSS MiB",
            "CPU %", "local ÷ this", "tidb ÷ this", "check"]
    rows = []
    for m, r in table_rows(b):
        ok = r["rc"] == 0
        speed = mbps(r)
        ratio = lambda k: (f"{ours[k] / speed:.{2 if ours[k] >= 0.1 * speed else 3}f}×"
                           if k in ours and speed and ours[k] else "–")
        rows.append([
            LABELS[m], f"{r['wall']:.1f}", f"{speed:.1f}" if ok else "FAILED",
            f"{r['rows'] / r['wall']:,.0f}" if ok else "–",
            f"{r['rss_kib'] / 1024:.0f}",
            f"{r['server_rss_kib'] / 1024:.0f}" if r["server_rss_kib"] else "–",
            f"{100 * r['cpu'] / r['wall'] / cores:.0f}" if r["wall"] else "–",
            ratio("local-default"), ratio("tidb"), r["verified"] or "–"])
    return head, rows


def markdown_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def text_table(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def targets(b):
    """(target, value, met) lines from this run."""
    sp = {m: mbps(r) for m, r in b.results.items()}
    out = []

    def ratio(name, a, c, goal):
        if sp.get(a) and sp.get(c):
            v = sp[a] / sp[c]
            # A third decimal where two would round a miss up to the goal.
            shown = f"{v:.3f}×" if v < goal <= round(v, 2) else f"{v:.2f}×"
            out.append((name, shown, "met" if v >= goal else "not met"))
        else:
            out.append((name, "not measured", "–"))
    for variant in ("local-default", "local-tuned"):
        ratio(f"{variant} ≥ 5× LOAD DATA", variant, "loaddata", 5)
    for variant in ("local-default", "local-tuned"):
        ratio(f"{variant} ≥ 0.5× parse-only limit", variant, "limit-parse", 0.5)
    for variant in ("tidb", "tidb-tuned"):
        ratio(f"{variant} ≥ 1.2× myloader (equal threads)", variant, "myloader", 1.2)
    for variant in ("tidb", "tidb-tuned"):
        ratio(f"{variant} ≥ 0.6× LOAD DATA", variant, "loaddata", 0.6)
    r = b.results.get("local-default")
    if r and r["rc"] == 0:
        gib = r["rss_kib"] / 1048576
        out.append((f"local-default peak RSS ≤ 1.5 GiB (target is for SF10; this is SF{b.sf})",
                    f"{gib:.2f} GiB", "met" if gib <= 1.5 else "not met"))
    return out


def fragment(b, mach, command):
    head, rows = format_table(b)
    per_table = ", ".join(f"{t} {v['rows']:,}" for t, v in b.manifest["tables"].items())
    lines = [
        f"## SF {b.sf}, {b.threads} threads",
        "",
        f"- Date: {b.started:%Y-%m-%d %H:%M} – {b.finished:%H:%M} UTC; commit {mach['commit']}",
        f"- Command: `{command}`",
        f"- Machine: {mach['cpu']}, {mach['nproc']} cores, {mach['mem_gib']:.1f} GiB RAM, "
        f"kernel {mach['kernel']}; disk {mach['disk']}",
        f"- Load average at start / end: {b.load_start[0]:.1f} / {b.load_end[0]:.1f} "
        "(the machine was shared with other agents' builds during the run: "
        "compare ratios within this run, not absolute numbers across runs)",
        f"- Source: {b.bytes / 1e6:.1f} MB of CSV in {len(data_files(b.dump))} files, "
        f"{b.rows:,} rows ({per_table})",
    ]
    if b.server_settings:
        lines.append(f"- MariaDB (every MariaDB run, fresh datadir each): `mariadbd {b.server_settings}`")
    lines.append(f"- Tools: {'; '.join(f'{k}: {v}' for k, v in mach['versions'].items())}")
    lines += ["", markdown_table(head, rows), ""]
    lines += ["Targets, from this run:", "",
              "| target | value | |", "|---|---|---|"]
    lines += [f"| {t} | {v} | {m} |" for t, v, m in targets(b)]
    if b.profile:
        lines += ["", "Flat profile of an extra local-default import (`perf record -F 499 -g`, "
                  "self time, symbols ≥ 1%):", "", "```", b.profile, "```"]
    for n in b.notes:
        lines.append(f"\nNote: {n}")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["date", "commit", "sf", "threads", "method", "wall_s", "source_mb", "mb_s",
              "rows", "rows_s", "cpu_util", "peak_rss_mib", "server_rss_mib", "check"]


def merge_csv(b, mach):
    path = BENCH / "results.csv"
    old = []
    if path.exists():
        with open(path, newline="") as f:
            old = [r for r in csv.DictReader(f)
                   if not (float(r["sf"]) == float(b.sf) and int(r["threads"]) == b.threads
                           and r["method"] in b.results)]
    new = []
    for m, r in table_rows(b):
        if r["rc"] != 0:
            continue
        new.append({"date": b.started.strftime("%Y-%m-%d"), "commit": mach["commit"].split()[0],
                    "sf": b.sf, "threads": b.threads, "method": m,
                    "wall_s": f"{r['wall']:.2f}", "source_mb": f"{r['bytes'] / 1e6:.1f}",
                    "mb_s": f"{mbps(r):.2f}", "rows": r["rows"],
                    "rows_s": f"{r['rows'] / r['wall']:.0f}",
                    "cpu_util": f"{r['cpu'] / r['wall'] / os.cpu_count():.3f}",
                    "peak_rss_mib": f"{r['rss_kib'] / 1024:.0f}",
                    "server_rss_mib": f"{r['server_rss_kib'] / 1024:.0f}", "check": r["verified"]})
    rows = old + new
    rows.sort(key=lambda r: (float(r["sf"]), int(r["threads"]), [m for m, _ in METHODS].index(r["method"])
                             if r["method"] in LABELS else 99))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)
    return rows


COLORS = {"local-default": "#d62728", "local-tuned": "#ff7f0e", "tidb": "#1f77b4",
          "tidb-tuned": "#17becf",
          "myloader": "#2ca02c", "loaddata": "#9467bd", "limit-cat": "#7f7f7f",
          "limit-parse": "#8c564b", "limit-ingest": "#e377c2"}


def svg_plot(rows, path):
    """Throughput (MB/s, log) by scale factor (log) per method, as SVG."""
    series = {}
    for r in rows:
        series.setdefault(r["method"], []).append((float(r["sf"]), float(r["mb_s"])))
    if not series:
        return
    sfs = sorted({x for pts in series.values() for x, _ in pts})
    ys = [y for pts in series.values() for _, y in pts if y > 0]
    W, H, L, R, T, B = 900, 520, 70, 330, 40, 50
    x0, x1 = math.log10(min(sfs)) - 0.3, math.log10(max(sfs)) + 0.3
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    if y1 == y0:
        y1 += 1
    px = lambda x: L + (math.log10(x) - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (math.log10(y) - y0) / (y1 - y0) * (H - T - B)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="22" font-size="15">Import throughput by TPC-H scale factor '
         f'(MB/s of CSV source, log scale; threads: {", ".join(sorted({str(r["threads"]) for r in rows}))})</text>']
    for e in range(y0, y1 + 1):
        for k in (1, 2, 5):
            v = k * 10 ** e
            if v > 10 ** y1:
                break
            y = py(v)
            s.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" '
                     f'stroke="{"#bbb" if k == 1 else "#eee"}"/>')
            s.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    for x in sfs:
        s.append(f'<line x1="{px(x):.1f}" y1="{T}" x2="{px(x):.1f}" y2="{H - B}" stroke="#eee"/>')
        s.append(f'<text x="{px(x):.1f}" y="{H - B + 18}" text-anchor="middle">SF {x:g}</text>')
    s.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#333"/>')
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">scale factor</text>')
    s.append(f'<text transform="translate(16,{(T + H - B) / 2}) rotate(-90)" '
             f'text-anchor="middle">MB/s</text>')
    ly = T + 10
    for m, _ in METHODS:
        pts = sorted(series.get(m, []))
        if not pts:
            continue
        c = COLORS[m]
        dash = ' stroke-dasharray="5,4"' if m.startswith("limit") else ""
        if len(pts) > 1:
            d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts if y > 0)
            s.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        for x, y in pts:
            if y > 0:
                s.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{c}"/>')
        s.append(f'<line x1="{W - R + 15}" y1="{ly}" x2="{W - R + 45}" y2="{ly}" stroke="{c}" '
                 f'stroke-width="2"{dash}/>')
        s.append(f'<circle cx="{W - R + 30}" cy="{ly}" r="4" fill="{c}"/>')
        s.append(f'<text x="{W - R + 52}" y="{ly + 4}">{LABELS[m]}</text>')
        ly += 22
    s.append("</svg>")
    path.write_text("\n".join(s) + "\n")


def scaling(rows):
    """Per-core throughput of each method across scale factors (Markdown)."""
    by = {}
    for r in rows:
        by.setdefault(r["method"], {})[float(r["sf"])] = (float(r["mb_s"]) / int(r["threads"]),
                                                          r["peak_rss_mib"])
    sfs = sorted({float(r["sf"]) for r in rows})
    head = ["method"] + [f"SF {s:g} MB/s/thread (peak RSS MiB)" for s in sfs]
    out = [head]
    for m, _ in METHODS:
        if m in by:
            out.append([LABELS[m]] + [f"{by[m][s][0]:.1f} ({by[m][s][1]})" if s in by[m] else "–"
                                      for s in sfs])
    lines = [markdown_table(out[0], out[1:])]
    loc = by.get("local-default", {})
    if 1.0 in loc and 10.0 in loc:
        d = loc[10.0][0] / loc[1.0][0] - 1
        # Linear scaling fails when SF10 is slower per core; faster is not
        # a scaling failure (on a VM it is usually the machine's drift).
        lines.append(f"\nLocal default, per-thread throughput SF10 vs SF1: {d:+.0%} "
                     f"(target: no more than 10% lower: {'met' if d >= -0.1 else 'not met'}; "
                     "the two come from different invocations, so the machine's drift "
                     "between them is in this number).")
    else:
        lines.append("\nLinear-scaling target (per-core throughput within 10% from SF1 to SF10) "
                     "and the SF10 memory target: not measured yet — no SF10 run on record.")
    return "\n".join(lines)


def gap(rows):
    """How much of the local import's time the limits account for, per SF."""
    by = {}
    for r in rows:
        by.setdefault((r["sf"], r["threads"]), {})[r["method"]] = float(r["wall_s"])
    out = []
    for (sf, threads), w in sorted(by.items(), key=lambda x: (float(x[0][0]), int(x[0][1]))):
        if {"local-default", "limit-parse", "limit-ingest"} <= w.keys():
            limits = w["limit-parse"] + w["limit-ingest"]
            out.append(f"- SF {sf}, {threads} threads: parse-only {w['limit-parse']:.1f} s + "
                       f"RocksDB ingest {w['limit-ingest']:.1f} s = {limits:.1f} s of the local "
                       f"import's {w['local-default']:.1f} s ({limits / w['local-default']:.0%}).")
    if not out:
        return ""
    return "\n".join(["## Where the local backend's time goes", "",
                      "Reading and parsing the source, and RocksDB taking the encoded pairs, are "
                      "the work no import can skip; the rest of the local import's wall time is "
                      "the importer's own (encoding, writing and sorting engines, the import's "
                      "region scan, the checksum). See the flat profile in the section that has "
                      "one (`--profile`), and the Performance section of the top-level "
                      "[README](../README.md#performance) for the profile by pipeline stage and "
                      "why each missed target is missed.", ""] + out) + "\n"


def write_results(rows):
    frags = sorted((BENCH / "results").glob("sf*.md"),
                   key=lambda p: [float(x) for x in re.findall(r"[\d.]+", p.stem.replace("-t", " "))])
    body = [
        "# Benchmark results",
        "",
        "Generated by `bench/run.sh` (see [bench/README.md](README.md) for what each row "
        "measures and how). Each section below is one invocation; all methods in a section ran "
        "in that invocation on the same machine, each into a cold target. MB/s is always of the "
        "same TPC-H CSV source (its size on disk), whatever the method read, so the columns "
        "compare like with like. `local ÷ this` is the local backend's (default settings) "
        "throughput divided by that row's: above 1 we are faster, below 1 the row is faster "
        "(for a limit row: 1 ÷ it is the fraction of the limit we reach).",
        "",
    ]
    for f in frags:
        body.append(f.read_text())
    body += [gap(rows), "## Throughput by scale factor", "",
             "![throughput by scale factor](throughput.svg)", "",
             "All runs on record (`bench/results.csv`). Runs at different scale factors ran at "
             "different times on a shared machine (see each section's load average and CPU %), so "
             "differences across scale factors mix machine load with scaling; ratios within one "
             "section are the reliable comparison.", "", scaling(rows), ""]
    if not any(float(r["sf"]) >= 10 for r in rows):
        body += ["SF10 was not run on this machine: it needs about 40 GB of free disk "
                 "(CSV ≈ 11 GB, the mydumper dump, a MariaDB datadir or a RocksDB store and "
                 "its sorted-KV engines at once) and `/work` had less than 45 GB free. "
                 "Run it with `bench/run.sh --sf 10 --threads 2` on a machine with the space; "
                 "the results merge into this file, the CSV and the plot.", ""]
    (BENCH / "RESULTS.md").write_text("\n".join(body))


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sf", default="1", help="TPC-H scale factor (default 1)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="threads for every method (default: nproc)")
    p.add_argument("--only", default=",".join(ALL),
                   help=f"comma-separated subset of {','.join(ALL)}")
    p.add_argument("--work", default="/work/tmp-bench", help="data and run directory")
    p.add_argument("--no-build", action="store_true", help="use the already built binaries")
    p.add_argument("--keep", action="store_true", help="keep run directories (stores, logs)")
    p.add_argument("--profile", action="store_true",
                   help="also profile a local-default import with perf (flat profile in the results)")
    p.add_argument("--report-only", action="store_true",
                   help="only regenerate RESULTS.md and throughput.svg from results.csv and results/")
    p.add_argument("--no-report", action="store_true",
                   help="print the table only; do not touch bench/RESULTS.md, .csv, .svg")
    args = p.parse_args()
    if args.report_only:
        with open(BENCH / "results.csv", newline="") as f:
            all_rows = list(csv.DictReader(f))
        svg_plot(all_rows, BENCH / "throughput.svg")
        write_results(all_rows)
        return
    args.sf = f"{float(args.sf):g}"
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in args.only if x not in ALL]
    if bad:
        die(f"--only: unknown {bad}; choose from {ALL}")
    tools = ["cargo", "tpchgen-cli"]
    if any(x in args.only for x in ("tidb", "loaddata", "myloader")):
        tools += ["mariadbd", "mariadb", "mariadb-install-db", "mariadb-admin"]
    if "myloader" in args.only:
        tools += ["mydumper", "myloader"]
    if args.profile:
        tools += ["perf"]
    need_tools(tools)

    atexit.register(stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

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
