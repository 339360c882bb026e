"""What the bench scripts share: paths, logging, timed runs (wall, CPU and
peak RSS from wait4) and throw-away MariaDB servers, stopped on exit.
Only the standard library is used."""

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

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


def add_run_args(p, methods, writes="bench/RESULTS.md"):
    """The options every bench script takes: threads, `--only` (a subset of
    `methods`), work directory, `--no-build`, `--keep`, `--no-report` (which
    leaves `writes` alone)."""
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="threads for every method (default: nproc)")
    p.add_argument("--only", default=",".join(methods),
                   help=f"comma-separated subset of {','.join(methods)}")
    p.add_argument("--work", default="/work/tmp-bench", help="data and run directory")
    p.add_argument("--no-build", action="store_true", help="use the already built binaries")
    p.add_argument("--keep", action="store_true", help="keep run directories (stores, logs)")
    p.add_argument("--no-report", action="store_true",
                   help=f"print the table only; do not touch {writes}")


def only_methods(args, methods):
    """`--only` as a list; an unknown method stops the bench."""
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in only if x not in methods]
    if bad:
        die(f"--only: unknown {bad}; choose from {methods}")
    return only


def importer_config(d, threads, dump, backend, server=None, importer="", mydumper="", more=""):
    """Writes `d/config.toml` for an import of `dump` with `backend` (log,
    checkpoint and, for the local backend, the store under
    `d`; `server`: the MariaDB of a tidb run) and returns its path.
    `importer` and `mydumper` are extra lines of those sections, `more`
    extra sections."""
    cfg = f"""
[lightning]
region-concurrency = {threads}
file = "{d}/importer.log"

[tikv-importer]
backend = "{backend}"
{importer}
[mydumper]
data-source-dir = "{dump}"
{mydumper}
[checkpoint]
dsn = "{d}/checkpoint.json"
"""
    if backend == "local":
        cfg += f'\n[store]\npath = "{d}/store"\n'
    if server is not None:
        cfg += f'\n[tidb]\nhost = "127.0.0.1"\nport = {server.port}\nuser = "root"\n'
    path = Path(d) / "config.toml"
    path.write_text(cfg + ("\n" + more if more else ""))
    return path


def fresh(d):
    """`d` as a new empty directory (a previous one removed)."""
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def build(no_build, cargo_args):
    """`$CARGO_TARGET_DIR` (default ~/.cache/importer/target, exported for
    the children) after `cargo build cargo_args` unless `no_build`."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/importer/target"))
    os.environ["CARGO_TARGET_DIR"] = str(target)
    if not no_build:
        log(f"cargo build {' '.join(cargo_args)} (CARGO_TARGET_DIR={target})")
        if subprocess.run(["cargo", "build", *cargo_args], cwd=REPO).returncode != 0:
            die("cargo build failed")
    return target


def store_counts(importer, store, db):
    """{table: rows} of `db` in a local-backend store, from `importer store
    tables`."""
    out = run_checked([str(importer), "store", "tables", "--store", str(store)])
    counts = {}
    for line in out.splitlines():
        found = re.match(rf"\s*`?{db}`?\.`?(\w+)`?\s+([\d,]+)", line)
        if found:
            counts[found.group(1)] = int(found.group(2).replace(",", ""))
    return counts


def run_importer(importer, name, cfg, server=None):
    """`measure` of `importer --config cfg` (output in stdout.log next to
    cfg); with `server`, the MariaDB it loads, whose CPU is added."""
    log(f"{name}: importer --config {cfg}")
    cmd, out = [str(importer), "--config", str(cfg)], Path(cfg).parent / "stdout.log"
    return server.measure(cmd, out) if server else measure(cmd, out)


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

    def measure(self, cmd, log_path, env=None):
        """`measure` of a client of this server, the server's CPU during
        the run added to the client's."""
        cpu0 = self.cpu()
        m = measure(cmd, log_path, env=env)
        m["cpu"] += self.cpu() - cpu0
        return m

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

    def counts(self, db, tables):
        return {t: int(self.sql(f"SELECT COUNT(*) FROM `{db}`.`{t}`").strip() or 0) for t in tables}

    def index_count(self, db):
        return int(self.sql("SELECT COUNT(DISTINCT TABLE_NAME, INDEX_NAME) FROM "
                            f"information_schema.STATISTICS WHERE TABLE_SCHEMA = '{db}'").strip() or 0)

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


def stop_all_on_exit():
    """Stops the measured process and the servers on exit and on SIGINT,
    SIGTERM, SIGHUP."""
    atexit.register(stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
