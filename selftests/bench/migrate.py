# SPDX-License-Identifier: GPL-2.0
"""
Precopy live migration over a veth pair: kmig against QEMU 10 and raw TCP,
all in the same boot of the test bed (scripts/bench.sh runs it there).

Both sides run the same guest (user/vmm/guest): kmig-vmm loads it itself,
QEMU boots it with -kernel (multiboot, build/vmm/bench-guest.bin). Both
get MEM MiB, write every working-set page once (checked in guest memory,
not waited for), then either stop writing (idle) or write random pages at
RATE pages/s. How each figure is measured: Documentation/benchmarks.rst.

Environment: BENCH_RUNS (default 3) runs of every row; BENCH_MODES
(default "idle dirty"); BENCH_ROWS, a regular expression: only the rows
whose names match (default all); BENCH_MIG_4K=1 adds rows of kmig-vmm on
4 KiB pages (the kmig rows run --huge, as QEMU's RAM is transparent huge
pages); BENCH_MIG_BASE, a build directory of another tree (make B=DIR
user tools there): rows of its agent too, a before and after in one boot.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP  # noqa: E402

PROJECT = os.environ.get("KMIG_PROJECT", "")
BUILD = f"{PROJECT}/build"
WORK = f"{os.environ.get('KMIG_OUT', '')}/work/bench-migrate"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MODES = os.environ.get("BENCH_MODES", "idle dirty").split()
ROWS = re.compile(os.environ.get("BENCH_ROWS", ""))
SMALL = os.environ.get("BENCH_MIG_4K", "") == "1"
BASE = os.environ.get("BENCH_MIG_BASE", "")  # another build's agent
MEM = 256                                   # MiB
WS_PAGES = ((MEM << 20) - 0x100000) // 4096
RATE = 5000                                 # pages/s of the dirty mode
CHANNELS = (1, 2, 4)
QEMU_CAP = 128 << 20                        # QEMU's default max-bandwidth
UNCAPPED = 1 << 40
A_ADDR, B_ADDR = "198.18.0.1", "198.18.0.2"
QROOT = f"{BUILD}/qemu10/root/usr"
PARAMS = 0xF000                             # guest/abi.h
P_PATTERN, P_WRITES0, P_AFTER_FILL = PARAMS + 0xC, PARAMS + 0x30, PARAMS + 0xF0
FILL_TIMEOUT = 300
MIG_TIMEOUT = 300
MIB = 1048576.0


class BenchError(Exception):
    pass


def on(host, *argv):
    return ["ip", "netns", "exec", "kmig-a" if host == "A" else "kmig-b",
            *argv]


def hosts(action):
    subprocess.run(["sh", "-c", f'. "{PROJECT}/selftests/qemu/hosts.sh"; '
                    f"hosts_down; {action}"], check=True)


def wire_bytes():
    """Bytes host A has sent on its veth (frames, headers included)."""
    out = subprocess.run(on("A", "cat",
                            "/sys/class/net/kmig-a0/statistics/tx_bytes"),
                         check=True, capture_output=True, text=True).stdout
    return int(out)


def log(name):
    return open(f"{WORK}/{name}.log", "w")


class Trace:
    """kvm_entry/kvm_exit of every vCPU thread, CLOCK_MONOTONIC stamps."""
    LINE = re.compile(r"-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[\d+\]\s+\S+\s+"
                      r"(\d+\.\d+): (kvm_entry|kvm_exit):")

    def __init__(self):
        self.dir = "/sys/kernel/tracing"
        if not os.path.exists(f"{self.dir}/trace"):
            subprocess.run(["mount", "-t", "tracefs", "nodev", self.dir],
                           check=False)
        if not os.path.exists(f"{self.dir}/trace"):
            self.dir = "/sys/kernel/debug/tracing"
        self.put("tracing_on", "0")
        self.put("trace_clock", "mono")
        self.put("buffer_size_kb", "8192")
        self.put("events/kvm/kvm_entry/enable", "1")
        self.put("events/kvm/kvm_exit/enable", "1")

    def put(self, f, v):
        with open(f"{self.dir}/{f}", "w") as fh:
            fh.write(v)

    def start(self):
        self.put("trace", "")
        self.put("tracing_on", "1")

    def stop(self, src_pid, dst_pid):
        """(last exit of a source vCPU, first entry of a destination one)"""
        self.put("tracing_on", "0")
        src = set(os.listdir(f"/proc/{src_pid}/task"))
        dst = set(os.listdir(f"/proc/{dst_pid}/task"))
        last_exit = first_entry = None
        with open(f"{self.dir}/trace") as fh:
            for line in fh:
                m = self.LINE.search(line)
                if not m:
                    continue
                tid, ts, ev = m.group(1), float(m.group(2)), m.group(3)
                if ev == "kvm_exit" and tid in src:
                    last_exit = ts if last_exit is None else max(last_exit,
                                                                  ts)
                if ev == "kvm_entry" and tid in dst:
                    first_entry = ts if first_entry is None else min(
                        first_entry, ts)
        if last_exit is None or first_entry is None:
            raise BenchError(
                f"the trace lacks the source's last vCPU exit ({last_exit}) "
                f"or the destination's first entry ({first_entry}); "
                f"{len(src)} and {len(dst)} threads")
        return last_exit, first_entry


def wait_until(what, check, timeout):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.2)


class KmigSide:
    """kmig-vmm on both hosts, the kmig agent between them."""

    def __init__(self, channels, huge=False, build=""):
        """@huge: both kmig-vmm on 2 MiB pages (--huge); @build: the
        agent (kmig) from that build directory, not this tree's."""
        self.channels, self.huge, self.build = channels, huge, build
        self.name = f"kmig {channels} ch"
        self.procs = []

    def agent(self):
        return f"{self.build or BUILD}/kmig"

    def ctl(self, host, *req):
        sock = "/run/bench-a.sock" if host == "A" else "/run/bench-b.sock"
        return subprocess.run(on(host, f"{BUILD}/tools/vmmctl", sock, *req),
                              capture_output=True, text=True,
                              check=True).stdout

    def status(self, host, field):
        m = re.search(rf"\b{field}=(\S+)", self.ctl(host, "status"))
        if not m:
            raise BenchError(f"vmmctl status has no {field}")
        return m.group(1)

    def spawn(self, host, tag, *args):
        """kmig-vmm on @host: a guest writing every page, or @args."""
        sock = f"/run/bench-{host.lower()}.sock"
        if os.path.exists(sock):
            os.unlink(sock)
        args = args or ("--pattern", "seq", "--rate", "0")
        if self.huge:
            args = ("--huge", *args)
        p = subprocess.Popen(
            on(host, f"{BUILD}/vmm/kmig-vmm", "--ctl", sock, "--mem",
               str(MEM), *args), stdout=log(f"{tag}-vmm-{host.lower()}"),
            stderr=subprocess.STDOUT)
        self.procs.append(p)
        wait_until("kmig-vmm's control socket",
                   lambda: os.path.exists(sock), 30)
        return p

    def wait_filled(self, host="A"):
        wait_until("kmig-vmm's guest to write every page",
                   lambda: int(self.status(host, "writes")) >= WS_PAGES,
                   FILL_TIMEOUT)

    def start(self, mode, tag):
        self.src = self.spawn("A", tag)
        self.dst = self.spawn("B", tag, "--incoming")
        self.wait_filled()
        if mode == "dirty":
            self.ctl("A", "rate", str(RATE))
            self.ctl("A", "pattern", "random")
        else:
            self.ctl("A", "pattern", "none")
        self.listen(tag)

    def listen(self, tag):
        """kmig incoming on host B, for kmig-vmm's guest there."""
        self.incoming = subprocess.Popen(
            on("B", self.agent(), "incoming", "--vmm", "/run/bench-b.sock",
               "--listen", f"{B_ADDR}:4500", "--json"),
            stdout=open(f"{WORK}/{tag}-in.json", "w"),
            stderr=log(f"{tag}-in"))
        self.tag = tag

    def writes(self):
        return int(self.status("A", "writes"))

    def run(self, *args, at_end=lambda: None):
        """kmig migrate with @args; @at_end() as soon as it returns.
        Its --json job info and what @at_end returned."""
        out = subprocess.run(
            on("A", self.agent(), "migrate", "--vmm", "/run/bench-a.sock",
               "--to", f"{B_ADDR}:4500", "--channels", str(self.channels),
               "--json", *args), capture_output=True, text=True,
            timeout=MIG_TIMEOUT)
        ended = at_end()
        with open(f"{WORK}/{self.tag}.json", "w") as fh:
            fh.write(out.stdout + out.stderr)
        self.incoming.wait(timeout=60)
        if out.returncode or self.incoming.returncode:
            raise BenchError(f"kmig migrate exit {out.returncode}, "
                             f"incoming exit {self.incoming.returncode}: "
                             f"{out.stderr.strip()}")
        return json.loads(out.stdout), ended

    def migrate(self):
        j, _ = self.run()
        if self.status("B", "state") != "running":
            raise BenchError("the destination guest is not running")
        return {"app_bytes": j["data_processed"],
                "pages": j["memory_normal"], "zero": j["memory_constant"],
                "rounds": j["memory_iteration"],
                "throttle": j.get("auto_converge_throttle", 0),
                "own_downtime": j["downtime"] / 1e3,
                "own_total": j["time_elapsed"] / 1e3}

    def stop(self):
        for host in ("A", "B"):
            subprocess.run(on(host, f"{BUILD}/tools/vmmctl",
                              f"/run/bench-{host.lower()}.sock", "quit"),
                           capture_output=True)
        for p in self.procs + [getattr(self, "incoming", None)]:
            if p and p.poll() is None:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=60)  # unkillable: fail the row


class QemuSide:
    """QEMU 10 on both hosts, driven over QMP."""

    def __init__(self, multifd, capped):
        self.multifd, self.capped = multifd, capped
        kind = f"multifd {multifd}" if multifd else "plain"
        self.name = f"QEMU {kind}, {'128 MiB/s cap' if capped else 'no cap'}"
        self.procs = []

    def spawn(self, host, mode, tag, incoming):
        """QEMU on @host, its guest in @mode: idle or dirty after a fill,
        or fresh (postcopy.py): random writes from boot, no fill."""
        pattern = "none" if mode == "idle" else "random"
        rate = 0 if mode == "idle" else RATE
        fill = 0 if mode == "fresh" else 1
        sock = f"/run/bench-q{host.lower()}.qmp"
        if os.path.exists(sock):
            os.unlink(sock)
        argv = [f"{QROOT}/bin/qemu-system-x86_64",
                "-L", f"{QROOT}/share/qemu", "-L", f"{QROOT}/share/seabios",
                "-machine", "pc", "-accel", "kvm", "-cpu", "host",
                "-m", str(MEM), "-smp", "1", "-nodefaults", "-vga", "none",
                "-display", "none", "-no-reboot",
                "-kernel", f"{BUILD}/vmm/bench-guest.bin",
                "-append", f"pattern={pattern} rate={rate} fill={fill} "
                           f"pages={WS_PAGES}",
                "-qmp", f"unix:{sock},server=on,wait=off"]
        if incoming:
            argv += ["-incoming", "defer"]
        p = subprocess.Popen(on(host, *argv), stdout=log(f"{tag}-{host}"),
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p, QMP(sock)

    def filled(self):
        return (self.qa.read_u32(P_AFTER_FILL) == 0 and
                self.qa.read_u64(P_WRITES0) >= WS_PAGES)

    def start(self, mode, tag):
        self.src, self.qa = self.spawn("A", mode, tag, False)
        self.dst, self.qb = self.spawn("B", mode, tag, True)
        try:
            if mode != "fresh":
                wait_until("QEMU's guest to write every page", self.filled,
                           FILL_TIMEOUT)
        except BenchError as e:
            raise BenchError(f"{e}: it wrote {self.writes()} pages, "
                             f"{self.qa.read_u32(PARAMS + 0xF4)} timer "
                             f"ticks, status "
                             f"{self.qa.cmd('query-status')['status']}")
        want = 0 if mode == "idle" else 2
        if self.qa.read_u32(P_PATTERN) != want:
            raise BenchError("QEMU's guest took the wrong pattern")
        for q in (self.qa, self.qb):
            if self.caps():
                q.cmd("migrate-set-capabilities", capabilities=[
                    {"capability": c, "state": True} for c in self.caps()])
            if self.multifd:
                q.cmd("migrate-set-capabilities", capabilities=[
                    {"capability": "multifd", "state": True}])
                q.cmd("migrate-set-parameters",
                      **{"multifd-channels": self.multifd})
            q.cmd("migrate-set-parameters", **{
                "max-bandwidth": QEMU_CAP if self.capped else UNCAPPED})
        self.qb.cmd("migrate-incoming", uri=f"tcp:{B_ADDR}:4600")

    def caps(self):
        """Migration capabilities to set on both QEMUs besides multifd."""
        return []

    def writes(self):
        return self.qa.read_u64(P_WRITES0)

    def migrate(self):
        self.qa.cmd("migrate", uri=f"tcp:{B_ADDR}:4600")
        deadline = time.monotonic() + MIG_TIMEOUT
        while True:
            info = self.qa.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise BenchError("QEMU's migration did not finish")
            time.sleep(0.1)
        if info["status"] != "completed":
            raise BenchError(f"QEMU's migration {info['status']}: "
                             f"{info.get('error-desc', '')}")
        resume = self.qb.wait_event("RESUME", 60)
        stop = self.qa.wait_event("STOP", 10)
        if self.qb.cmd("query-status")["status"] != "running":
            raise BenchError("QEMU's destination guest is not running")
        ram = info["ram"]
        return {"app_bytes": info["ram"]["transferred"],
                "pages": ram["normal"], "zero": ram["duplicate"],
                "rounds": ram["dirty-sync-count"],
                "throttle": info.get("cpu-throttle-percentage", 0),
                "own_downtime": info["downtime"] / 1e3,
                "own_total": info["total-time"] / 1e3,
                "qmp_downtime": resume[1] - stop[1]}

    def stop(self):
        for q in (getattr(self, "qa", None), getattr(self, "qb", None)):
            try:
                q.cmd("quit")
            except Exception:   # already gone: nothing to stop
                pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=60)  # unkillable: fail the row


def note(mode, row, r):
    """Every run's figures, one JSON object a line: what --table reads."""
    with open(f"{WORK}/runs.json", "a") as fh:
        fh.write(json.dumps({"mode": mode, "row": row, **r}) + "\n")


def one_migration(side, mode, tag, trace):
    try:
        side.start(mode, tag)
        time.sleep(1)   # the new pattern and rate settle
        w0, b0 = side.writes(), wire_bytes()
        trace.start()
        t0 = time.monotonic()
        r = side.migrate()
        last_exit, first_entry = trace.stop(side.src.pid, side.dst.pid)
        r["wire"] = wire_bytes() - b0
        r["total"] = first_entry - t0
        r["downtime"] = first_entry - last_exit
        r["dirty_rate"] = (side.writes() - w0) / (last_exit - t0)
        r["mibps"] = r["wire"] / MIB / r["total"]
        return r
    finally:
        side.stop()


def raw_tcp(conns, nbytes, tag):
    recv = subprocess.Popen(on("B", f"{BUILD}/tools/tcpraw", "recv", "4501",
                               str(conns)), stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    b0 = wire_bytes()
    subprocess.run(on("A", f"{BUILD}/tools/tcpraw", "send", B_ADDR, "4501",
                      str(conns), str(nbytes)), check=True)
    out, _ = recv.communicate(timeout=MIG_TIMEOUT)
    m = re.search(r"seconds=([0-9.]+)", out)
    if recv.returncode or not m:
        raise BenchError(f"tcpraw recv: {out.strip()}")
    wire = wire_bytes() - b0
    return {"wire": wire, "total": float(m.group(1)),
            "mibps": wire / MIB / float(m.group(1))}


def stat(vals):
    """'median (min-max)' or '-'."""
    if not vals:
        return "-"
    med = statistics.median(vals)
    fmt = "{:.0f}" if med >= 100 else "{:.1f}"
    if len(vals) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(vals))}-" \
           f"{fmt.format(max(vals))})"


def field(runs, key, scale=1.0):
    return [r[key] * scale for r in runs if key in r]


def table(mode, configs, results, raws):
    what = ("idle: every page written, then none" if mode == "idle" else
            f"random writes at {RATE} pages/s after every page was written")
    print(f"\nPrecopy, {MEM} MiB guest ({WS_PAGES} working-set pages), "
          f"{what}; median (min-max) of "
          f"{max(len(v) for v in list(results.values()) + [[0]])} runs")
    hdr = (f"{'':30} {'MiB/s on wire':>20} {'total s':>16} "
           f"{'downtime ms':>18} {'own dt ms':>14} {'rounds':>7} "
           f"{'wire MiB':>8} {'pages':>7} {'zero':>6} {'dirty/s':>7} "
           f"{'thr%':>4}")
    print(hdr)
    for name in configs:
        runs = results[name]
        if not runs:
            print(f"{name:30} failed")
            continue
        med = lambda k: statistics.median(field(runs, k))  # noqa: E731
        print(f"{name:30} {stat(field(runs, 'mibps')):>20} "
              f"{stat(field(runs, 'total')):>16} "
              f"{stat(field(runs, 'downtime', 1e3)):>18} "
              f"{stat(field(runs, 'own_downtime', 1e3)):>14} "
              f"{med('rounds'):>7.0f} {med('wire') / MIB:>8.1f} "
              f"{med('pages'):>7.0f} {med('zero'):>6.0f} "
              f"{med('dirty_rate'):>7.0f} "
              f"{max(field(runs, 'throttle') or [0]):>4.0f}")
    for conns in CHANNELS:
        runs = raws[conns]
        print(f"{'raw TCP ' + str(conns) + ' conn':30} "
              f"{stat(field(runs, 'mibps')):>20} "
              f"{stat(field(runs, 'total')):>16}")
    print("downtime: last exit of a source vCPU to first entry of a "
          "destination vCPU (KVM's trace); own dt: what kmig or QEMU reports")
    qdt = [x for n in configs if n.startswith("QEMU")
           for x in field(results[n], "qmp_downtime", 1e3)]
    if qdt:
        print(f"QEMU downtime from its STOP and RESUME events: {stat(qdt)} "
              "ms (all QEMU rows)")
    ratios(configs, results, raws)


def med_of(runs, key):
    vals = field(runs, key)
    return statistics.median(vals) if vals else None


def ratio_row(label, a, b):
    if not a or not b:
        return
    out = []
    for key in ("mibps", "downtime", "total"):
        x, y = med_of(a, key), med_of(b, key)
        out.append(f"{x / y:.2f}x" if x and y else "-")
    print(f"  {label:44} {out[0]:>11} {out[1]:>10} {out[2]:>11}")


def ratios(configs, results, raws):
    print(f"  {'ratios of medians':44} {'throughput':>11} {'downtime':>10} "
          f"{'total time':>11}")
    for ch in CHANNELS:
        k = results.get(f"kmig {ch} ch")
        for cap in ("no cap", "128 MiB/s cap"):
            ratio_row(f"kmig {ch} ch / QEMU multifd {ch}, {cap}", k,
                      results.get(f"QEMU multifd {ch}, {cap}"))
        ratio_row(f"kmig {ch} ch / raw TCP {ch} conn", k, raws[ch])
        for other in (f"kmig {ch} ch, 4 KiB", f"kmig {ch} ch base"):
            ratio_row(f"kmig {ch} ch / {other}", k, results.get(other))
        ratio_row(f"kmig {ch} ch, 4 KiB / kmig {ch} ch, 4 KiB base",
                  results.get(f"kmig {ch} ch, 4 KiB"),
                  results.get(f"kmig {ch} ch, 4 KiB base"))
    for cap in ("no cap", "128 MiB/s cap"):
        ratio_row(f"kmig 1 ch / QEMU plain, {cap}", results.get("kmig 1 ch"),
                  results.get(f"QEMU plain, {cap}"))
    best = lambda names: max(  # noqa: E731
        (n for n in names if results[n]),
        key=lambda n: med_of(results[n], "mibps"), default=None)
    kb = best([n for n in configs if re.fullmatch(r"kmig \d ch", n)])
    qb = best([n for n in configs if n.startswith("QEMU")])
    if kb and qb:
        ratio_row(f"best: {kb} / {qb}", results[kb], results[qb])


def kmig_side(channels, huge=True, build=""):
    """A kmig row: on 2 MiB pages unless @huge is False (", 4 KiB"), with
    this tree's agent unless @build (" base")."""
    side = KmigSide(channels, huge, build)
    side.name += ("" if huge else ", 4 KiB") + (" base" if build else "")
    return side


def sides():
    out = [kmig_side(ch) for ch in CHANNELS]
    out += [kmig_side(ch, False) for ch in CHANNELS if SMALL]
    out += [kmig_side(ch, True, BASE) for ch in CHANNELS if BASE]
    out += [kmig_side(ch, False, BASE) for ch in CHANNELS if BASE and SMALL]
    out += [QemuSide(0, cap) for cap in (False, True)]
    out += [QemuSide(ch, cap) for ch in CHANNELS for cap in (False, True)]
    return [s for s in out if ROWS.search(s.name)]


def runs_by_mode(path, names, conns):
    """The runs of a runs.json, mode by mode: (mode, the rows of @names
    it has, {row: runs}, {connections: raw TCP runs}, all its runs)."""
    rows = [json.loads(line) for line in open(path)]
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        configs = [n for n in names if any(r["row"] == n for r in mine)]
        results = {n: [r for r in mine if r["row"] == n] for n in configs}
        raws = {c: [r for r in mine if r["row"] == f"raw TCP {c} conn"]
                for c in conns}
        yield mode, configs, results, raws, mine


def retable(path):
    """The tables again, from a runs.json of an earlier run."""
    for mode, configs, results, raws, _ in runs_by_mode(
            path, [s.name for s in sides()], CHANNELS):
        table(mode, configs, results, raws)


def begin(work, retable):
    """True for a run, into an empty @work/runs.json; with --table FILE,
    @retable prints the tables of an earlier run instead: False."""
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        retable(sys.argv[2])
        return False
    os.makedirs(work, exist_ok=True)
    if os.path.exists(f"{work}/runs.json"):
        os.unlink(f"{work}/runs.json")
    return True


def main():
    if not begin(WORK, retable):
        return
    hosts("hosts_up")
    trace = Trace()
    try:
        for mode in MODES:
            configs = [s.name for s in sides()]
            results = {n: [] for n in configs}
            raws = {c: [] for c in CHANNELS}
            for run in range(RUNS):
                for side in sides():
                    tag = f"{mode}-{run}-{side.name}".replace(" ", "_") \
                        .replace(",", "").replace("/", "")
                    try:
                        r = one_migration(side, mode, tag, trace)
                        results[side.name].append(r)
                        note(mode, side.name, r)
                    except (BenchError, subprocess.SubprocessError,
                            OSError, KeyError, ValueError) as e:
                        print(f"bench: {mode} run {run + 1}, {side.name}: "
                              f"{e}", flush=True)
                for ch in CHANNELS:
                    k = results.get(f"kmig {ch} ch", [])
                    nbytes = med_of(k, "app_bytes") or (MEM << 20)
                    raws[ch].append(raw_tcp(ch, int(nbytes), f"raw-{ch}"))
                    note(mode, f"raw TCP {ch} conn", raws[ch][-1])
            table(mode, configs, results, raws)
            sys.stdout.flush()
    finally:
        trace.put("tracing_on", "0")
        hosts("true")


if __name__ == "__main__":
    main()
