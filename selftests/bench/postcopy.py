# SPDX-License-Identifier: GPL-2.0
"""
Postcopy live migration over a veth pair: kmig (1, 2 and 4 page
channels) against QEMU 10's postcopy with and without postcopy-preempt,
the same guest, the same link, in the same boot (scripts/bench.sh runs
it there).

The guest (user/vmm/guest) is migrate.py's: MEM MiB, random writes at
RATE pages/s, on the destination too, after every page was written
(mode "written") or from boot (modes "fresh" and "capped", the latter
with the background push capped on both sides). Both sides switch to
postcopy after the first full precopy pass. Mode "push" is kmig's
only: as "written", but the first pass capped at PUSH_PRE_CAP MiB/s on
every row, so that at any channel count the guest dirties most of its
memory before the switch and the push, not capped, carries it; raw TCP
then moves the same bytes over as many connections. The guest times each of
its page writes with RDTSC into a histogram in its parameter page
(params.wlat, guest/abi.h); the bench
reads it from the source at the pause and from the destination at the
end, the same way for both: the difference holds every write made in
postcopy. Under each table, the runs of a row pooled (one p50 and p99
over all their faults) and, for kmig, where a fault's time goes.
Documentation/benchmarks.rst, "Postcopy", says how each figure is
taken.

Environment: BENCH_RUNS (default 3) runs of every row; BENCH_ROWS, a
regular expression: only the rows whose names match (default all);
BENCH_PC_MODES (default "written fresh capped push"); BENCH_PC_CAP, MiB/s of
the push in capped mode (default 4); BENCH_PC_PREFETCH, kmig's
--postcopy-prefetch window (default: the agent's), named in kmig's rows;
BENCH_PC_BASE, a build directory of another tree (make B=DIR user
tools): its agent and tools in rows of their own ("kmig postcopy N ch
base"), for a before and after in the same boot.
"""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate as mig  # noqa: E402
from migrate import (B_ADDR, BUILD, MIB, MIG_TIMEOUT, PARAMS,  # noqa: E402
                     RATE, BenchError, KmigSide, QemuSide, Trace, begin,
                     field, hosts, on, raw_tcp, stat, wait_until)

WORK = f"{os.environ.get('KMIG_OUT', '')}/work/bench-postcopy"
mig.WORK = WORK                 # where migrate.py's log() puts the logs
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MODES = (os.environ.get("BENCH_PC_MODES") or
         "written fresh capped push").split()
ROWS = re.compile(os.environ.get("BENCH_ROWS", ""))
WLAT_OFF, WLAT_BUCKETS = 0x130, 192         # guest/abi.h
P_TSC_HZ = PARAMS + 0xF8
P_COUNTER0 = PARAMS + 0x28
CONNS = (1, 2, 4)
FRESH_WRITES = mig.WS_PAGES // 2    # writes of a fresh guest before the clock
PC_CAP = int(os.environ.get("BENCH_PC_CAP") or "4")    # MiB/s, capped mode
PUSH_PRE_CAP = 16               # MiB/s of the first pass in push mode
NO_CAP = 1 << 20                # MiB/s: kmig's largest, no cap in effect
PREFETCH = os.environ.get("BENCH_PC_PREFETCH", "")      # pages, "": default
BASE = os.environ.get("BENCH_PC_BASE", "")  # another build's agent, "": none
DOWNTIME_MS = 1                 # neither side completes in precopy


def push_cap(mode):
    """MiB/s the background push is capped at in @mode, 0: none."""
    return PC_CAP if mode == "capped" else 0


def fresh(mode):
    """True if in @mode the guest writes at random from boot, no fill."""
    return mode in ("fresh", "capped")


def bucket_bounds(b):
    """[low, high) TSC cycles of params.wlat bucket @b (guest/abi.h)."""
    if b < 4:
        return b, b + 1
    m, s = b // 4 + 1, b % 4
    return (4 + s) << (m - 2), (5 + s) << (m - 2)


def slowest(hist, n, pct):
    """The @pct percentile of the @n slowest writes in @hist, in cycles
    (the bucket's middle), or None."""
    if n <= 0 or sum(hist) < n:
        return None
    rank = max(1, round(n * (100 - pct) / 100))  # from the slowest, 1-based
    seen = 0
    for b in range(len(hist) - 1, -1, -1):
        seen += hist[b]
        if seen >= rank:
            lo, hi = bucket_bounds(b)
            return (lo + hi) / 2
    return None


def slowest_hist(hist, n):
    """The histogram of the @n slowest writes in @hist (a bucket split
    at the edge keeps what falls in), or None."""
    if n <= 0 or sum(hist) < n:
        return None
    out, left = [0] * len(hist), n
    for b in range(len(hist) - 1, -1, -1):
        out[b] = min(hist[b], left)
        left -= out[b]
        if not left:
            break
    return out


def pooled(runs, pct):
    """The @pct percentile, in us, of every run's N slowest postcopy
    writes together (N its faults): one p99 over hundreds of faults
    where a run's own rests on a few; None if no run has any."""
    tops = [slowest_hist(r["hist"], r["faults"]) for r in runs
            if "hist" in r and r.get("tsc_hz")]
    tops = [t for t in tops if t]
    if not tops:
        return None
    hist = [sum(col) for col in zip(*tops)]
    c = slowest(hist, sum(hist), pct)
    return c / runs[0]["tsc_hz"] * 1e6


def tsc_hz():
    """The bed's TSC rate from its kernel log (the nested guests' TSC
    runs at it: neither VMM scales it)."""
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    for pat in (r"Refined TSC clocksource calibration: ([0-9.]+) MHz",
                r"tsc: Detected ([0-9.]+) MHz"):
        m = re.findall(pat, out)
        if m:
            return float(m[-1]) * 1e6
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1]) * 1e6
    raise BenchError("no TSC rate in the kernel log or /proc/cpuinfo")


class WireSampler:
    """Host A's veth tx_bytes every 20 ms, from /proc/PID/net/dev of a
    process in host A's namespace: (CLOCK_MONOTONIC s, bytes)."""

    def __init__(self, pid):
        self.path, self.samples = f"/proc/{pid}/net/dev", []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def read(self):
        with open(self.path) as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                if name.strip() == "kmig-a0":
                    return int(rest.split()[8])
        raise BenchError("host A has no kmig-a0")

    def run(self):
        while not self.done.is_set():
            try:
                self.samples.append((time.monotonic(), self.read()))
            except (OSError, BenchError):
                return
            time.sleep(0.02)

    def stop(self):
        self.done.set()
        self.thread.join()

    def at(self, t):
        """Bytes sent by @t, interpolated between samples."""
        prev = self.samples[0]
        for cur in self.samples:
            if cur[0] >= t:
                if cur[0] == prev[0]:
                    return cur[1]
                f = (t - prev[0]) / (cur[0] - prev[0])
                return prev[1] + f * (cur[1] - prev[1])
            prev = cur
        return prev[1]


class KmigPostcopy(KmigSide):
    """kmig migrate --postcopy: the switch after the first full pass."""

    def __init__(self, channels, build=""):
        super().__init__(channels)
        self.name = f"kmig postcopy {channels} ch"
        if PREFETCH:
            self.name += f" prefetch {PREFETCH}"
        self.build = build
        if build:
            self.name += " base"

    def from_build(self, call):
        """@call() with migrate.py's commands from self.build (if set):
        the agents (incoming, migrate) and the vmmctl of their at_end."""
        if not self.build:
            return call()
        own, mig.BUILD = mig.BUILD, self.build
        try:
            return call()
        finally:
            mig.BUILD = own

    def listen(self, tag):
        self.from_build(lambda: super(KmigPostcopy, self).listen(tag))

    def run(self, *args, at_end=lambda: None):
        return self.from_build(lambda: super(KmigPostcopy, self).run(
            *args, at_end=at_end))

    def start(self, mode, tag):
        self.pre_cap = PUSH_PRE_CAP if mode == "push" else 0
        if fresh(mode):
            self.src = self.spawn("A", tag, "--pattern", "random", "--rate",
                                  str(RATE))
        else:
            self.src = self.spawn("A", tag)
        self.dst = self.spawn("B", tag, "--incoming", "--rate", str(RATE))
        if not fresh(mode):
            self.wait_filled()
            self.ctl("A", "rate", str(RATE))
            self.ctl("A", "pattern", "random")
        self.listen(tag)
        self.cap = push_cap(mode)

    def params(self, host):
        """The parameter page, through the VMM's kmig context."""
        path = "/run/bench-a.sock" if host == "A" else "/run/bench-b.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            s.sendall(b"ctx\n")
            msg, fds, _, _ = socket.recv_fds(s, 1024, 1)
        if not fds:
            raise BenchError(f"kmig-vmm on {host}: ctx: {msg.decode()}")
        try:
            for slot in msg.decode().split()[2:]:
                sid, gpa, size = (int(x, 0) for x in slot.split(":"))
                if gpa <= PARAMS < gpa + size:
                    return os.pread(fds[0], 4096, (sid << 40) + PARAMS - gpa)
        finally:
            os.close(fds[0])
        raise BenchError(f"kmig-vmm on {host}: no slot holds the params")

    def hist(self, host):
        page = self.params(host)
        return [int.from_bytes(page[WLAT_OFF + 4 * i:WLAT_OFF + 4 * i + 4],
                               "little") for i in range(WLAT_BUCKETS)]

    def dst_progress(self):
        return (int(self.status("B", "writes")),
                int(self.status("B", "counter")))

    def migrate(self):
        t0 = time.monotonic()
        cap = ("--postcopy-bandwidth", str(self.cap)) if self.cap else ()
        if self.pre_cap:    # the first pass only: the push goes free
            cap = ("--bandwidth", str(self.pre_cap),
                   "--postcopy-bandwidth", str(NO_CAP))
        if PREFETCH:
            cap += ("--postcopy-prefetch", PREFETCH)
        j, (t_done, progress, hist_b) = self.run(
            "--postcopy", "--max-downtime", str(DOWNTIME_MS), *cap,
            at_end=lambda: (time.monotonic(), self.dst_progress(),
                            self.hist("B")))
        with open(f"{WORK}/{self.tag}-in.json") as fh:
            ji = json.load(fh)
        if "postcopy_requests" not in j:
            raise BenchError("kmig completed without postcopy")
        return {"t0": t0, "t_done": t_done, "progress": progress,
                "hist_b": hist_b, "faults": ji["postcopy_faults"],
                "requests": ji["postcopy_requests"],
                "prefetched": j.get("postcopy_prefetched", 0),
                "vcpu_blocktime_ms": ji.get("postcopy_vcpu_blocktime_total_us",
                                            0) / 1e3,
                "own_p50_us": ji["postcopy_fault_latency_p50_us"],
                "own_p99_us": ji["postcopy_fault_latency_p99_us"],
                "stale": ji["postcopy_stale"],
                **{f"{key}_{pct}": src.get(f"postcopy_{key}_{pct}_us")
                   for src, key in ((ji, "request_rtt"), (j, "answer"),
                                    (j, "request_wait"))
                   for pct in ("p50", "p99")
                   if f"postcopy_{key}_{pct}_us" in src},
                "discarded": j["postcopy_discarded"],
                "app_bytes": j["data_processed"],
                "own_downtime": j["downtime"] / 1e3,
                "own_total": j["time_elapsed"] / 1e3}


class QemuPostcopy(QemuSide):
    """QEMU's postcopy-ram: migrate-start-postcopy once the first pass
    is done (the first dirty sync after it)."""

    def __init__(self, preempt):
        super().__init__(0, False)
        self.preempt = preempt
        self.name = f"QEMU postcopy{', preempt' if preempt else ''}"

    def caps(self):
        return ["postcopy-ram"] + (["postcopy-preempt"] if self.preempt
                                   else [])

    def start(self, mode, tag):
        super().start("fresh" if fresh(mode) else "dirty", tag)
        self.qa.cmd("migrate-set-parameters", **{
            "downtime-limit": DOWNTIME_MS,
            "max-postcopy-bandwidth": push_cap(mode) << 20})

    def hist(self, host):
        q = self.qa if host == "A" else self.qb
        return q.read_u32s(PARAMS + WLAT_OFF, WLAT_BUCKETS)

    def dst_progress(self):
        return (self.qb.read_u64(mig.P_WRITES0),
                self.qb.read_u64(P_COUNTER0))

    def poll(self, until, what):
        deadline = time.monotonic() + MIG_TIMEOUT
        while True:
            info = self.qa.cmd("query-migrate")
            if info.get("status") == "postcopy-active":
                self.in_postcopy = True
            if until(info) or info.get("status") in ("failed", "cancelled"):
                return info
            if time.monotonic() > deadline:
                raise BenchError(f"QEMU's migration: no {what}")
            time.sleep(0.02)

    def migrate(self):
        self.in_postcopy = False
        t0 = time.monotonic()
        self.qa.cmd("migrate", uri=f"tcp:{B_ADDR}:4600")
        info = self.poll(lambda i: i.get("status") == "completed" or
                         i.get("ram", {}).get("dirty-sync-count", 0) >= 2,
                         "end of the first pass")
        if info.get("status") == "active":
            self.qa.cmd("migrate-start-postcopy")
        info = self.poll(lambda i: i.get("status") == "completed",
                         "completion")
        t_done = time.monotonic()
        progress, hist_b = self.dst_progress(), self.hist("B")
        if info["status"] != "completed":
            raise BenchError(f"QEMU's migration {info['status']}: "
                             f"{info.get('error-desc', '')}")
        resume = self.qb.wait_event("RESUME", 60)
        stop = self.qa.wait_event("STOP", 10)
        ram = info["ram"]
        # A short postcopy may fall between two polls: it sent bytes.
        if not self.in_postcopy and not ram.get("postcopy-bytes"):
            raise BenchError("QEMU completed without postcopy")
        return {"t0": t0, "t_done": t_done, "progress": progress,
                "hist_b": hist_b, "faults": ram["postcopy-requests"],
                "requests": ram["postcopy-requests"],
                "app_bytes": ram["transferred"],
                "pc_bytes": ram.get("postcopy-bytes", 0),
                "guest_tsc_hz": self.qa.read_u64(P_TSC_HZ),
                "own_downtime": info["downtime"] / 1e3,
                "own_total": info["total-time"] / 1e3,
                "qmp_downtime": resume[1] - stop[1]}


def one_postcopy(side, mode, tag, trace, hz):
    try:
        side.start(mode, tag)
        if fresh(mode):
            wait_until("the guest's first writes",
                       lambda: side.writes() >= FRESH_WRITES, mig.FILL_TIMEOUT)
        else:
            time.sleep(1)   # the new pattern and rate settle
        sampler = WireSampler(side.src.pid)
        trace.start()
        r = side.migrate()
        last_exit, first_entry = trace.stop(side.src.pid, side.dst.pid)
        sampler.stop()
        before, after = side.hist("A"), r.pop("hist_b")
        w_pause = sum(before)
        hist = [b - a for a, b in zip(before, after)]
        if min(hist) < 0:
            raise BenchError("the destination's write histogram lost counts")
        t_pc = r["t_done"] - first_entry
        r["downtime"] = first_entry - last_exit
        r["total"] = r["t_done"] - r["t0"]
        r["postcopy"] = t_pc
        r["pc_wire"] = sampler.at(r["t_done"]) - sampler.at(first_entry)
        r["push_mibps"] = r["pc_wire"] / MIB / t_pc
        r["writes_per_s"] = (r["progress"][0] - w_pause) / t_pc
        r["pc_writes"] = sum(hist)
        for pct in (50, 99):
            c = slowest(hist, r["faults"], pct)
            if c is not None:
                r[f"p{pct}_us"] = c / hz * 1e6
        c = slowest(hist, sum(hist), 50)
        if c is not None:
            r["write_p50_us"] = c / hz * 1e6
        r["hist"] = hist
        del r["progress"]
        return r
    finally:
        side.stop()


def note(mode, row, r):
    with open(f"{WORK}/runs.json", "a") as fh:
        fh.write(json.dumps({"mode": mode, "row": row, **r}) + "\n")


def sides(mode=""):
    """The rows of @mode (push: kmig's only)."""
    out = [KmigPostcopy(ch) for ch in CONNS]
    out += [KmigPostcopy(ch, BASE) for ch in CONNS if BASE]
    if mode != "push":
        out += [QemuPostcopy(p) for p in (False, True)]
    return [s for s in out if ROWS.search(s.name)]


WHAT = {"written": "every page written, then",
        "fresh": f"no fill: from boot until {FRESH_WRITES} writes, then",
        "capped": f"no fill: from boot until {FRESH_WRITES} writes, then",
        "push": "every page written, then"}
PUSH = {"written": "push not capped", "fresh": "push not capped",
        "capped": f"push capped at {PC_CAP} MiB/s on both",
        "push": f"first pass capped at {PUSH_PRE_CAP} MiB/s, push not "
                "capped, kmig only"}


def table(mode, configs, results, raws, hz):
    n = max([len(v) for v in results.values()] + [0])
    print(f"\nPostcopy ({mode}), {mig.MEM} MiB guest, {WHAT[mode]} random "
          f"writes at {RATE} pages/s, on after the switch (after the first "
          f"full pass), {PUSH[mode]}, downtime target {DOWNTIME_MS} ms; "
          f"median (min-max) of {n} runs; TSC {hz / 1e6:.0f} MHz")
    print(f"{'':24} {'fault p50 us':>18} {'fault p99 us':>20} "
          f"{'faults':>6} {'downtime ms':>18} {'postcopy s':>14} "
          f"{'total s':>14} {'writes/s':>16} {'push MiB/s':>16} "
          f"{'own p50/p99':>11} {'pc MiB':>6} {'stale':>6}")
    for name in configs:
        runs = results[name]
        if not runs:
            print(f"{name:24} failed")
            continue
        own = "-"
        if field(runs, "own_p50_us"):
            own = (f"{statistics.median(field(runs, 'own_p50_us')):.0f}/"
                   f"{statistics.median(field(runs, 'own_p99_us')):.0f}")
        print(f"{name:24} {stat(field(runs, 'p50_us')):>18} "
              f"{stat(field(runs, 'p99_us')):>20} "
              f"{statistics.median(field(runs, 'faults')):>6.0f} "
              f"{stat(field(runs, 'downtime', 1e3)):>18} "
              f"{stat(field(runs, 'postcopy')):>14} "
              f"{stat(field(runs, 'total')):>14} "
              f"{stat(field(runs, 'writes_per_s')):>16} "
              f"{stat(field(runs, 'push_mibps')):>16} {own:>11} "
              f"{statistics.median(field(runs, 'pc_wire')) / MIB:>6.1f} "
              f"{statistics.median(field(runs, 'stale') or [0]):>6.0f}")
    for conns in CONNS:
        print(f"{'raw TCP ' + str(conns) + ' conn':24} "
              f"{'':>113}{stat(field(raws[conns], 'mibps')):>16}")
    print("fault p50/p99: of the N slowest guest writes in postcopy, N the "
          "faults the destination counted (kmig: postcopy_faults; QEMU: "
          "postcopy-requests); own: kmig's fault-to-install histogram")
    ratios(results, raws)
    pooled_table(configs, results)
    breakdown(configs, results)


def breakdown(configs, results):
    """Where a kmig fault's time goes, medians of the runs' p50/p99 (us):
    the guest's write, the module's fault to install, the destination's
    read of the fault to its install, the source's read of the request
    to its answer sent, and to an answering thread taking it."""
    keys = (("guest", "p50_us", "p99_us"), ("module", "own_p50_us",
                                            "own_p99_us"))
    keys += tuple((name, f"{k}_p50", f"{k}_p99") for name, k in (
        ("dst read-install", "request_rtt"), ("src answer", "answer"),
        ("src wait", "request_wait")))
    print(f"  {'kmig fault, p50/p99 us':36} " +
          " ".join(f"{k[0]:>17}" for k in keys))
    for name in configs:
        runs = results[name]
        if not name.startswith("kmig") or not runs:
            continue
        cols = []
        for _, k50, k99 in keys:
            a, b = field(runs, k50), field(runs, k99)
            cols.append(f"{statistics.median(a):.0f}/"
                        f"{statistics.median(b):.0f}" if a and b else "-")
        print(f"  {name:36} " + " ".join(f"{c:>17}" for c in cols))
    print("  (module, dst, src: upper ends of power-of-two buckets; guest:"
          " the N slowest writes, as above)")


def pooled_table(configs, results):
    """Every run's N slowest writes of a row together: p50 and p99 over
    the faults of all its runs, and their ratio to QEMU-preempt's."""
    base = "QEMU postcopy, preempt"
    print(f"  {'pooled over the runs, us':36} {'p50':>8} {'p99':>8} "
          f"{'faults':>7} {'a run':>14} {'p50 x':>6} {'p99 x':>6}")
    ref = [pooled(results.get(base, []), pct) for pct in (50, 99)]
    for name in configs:
        runs = results[name]
        got = [pooled(runs, pct) for pct in (50, 99)]
        if not runs or got[0] is None:
            continue
        faults = field(runs, "faults")
        out = [f"{g / r:.2f}x" if r else "-" for g, r in zip(got, ref)]
        print(f"  {name:36} {got[0]:>8.0f} {got[1]:>8.0f} "
              f"{sum(faults):>7.0f} {min(faults):>6.0f}-{max(faults):<7.0f} "
              f"{out[0]:>6} {out[1]:>6}")


def ratios(results, raws):
    def med(name, key):
        vals = field(results.get(name, []), key)
        return statistics.median(vals) if vals else None
    base = "QEMU postcopy, preempt"
    print(f"  {'ratios of medians':36} {'p50':>6} {'p99':>6} {'downtime':>9} "
          f"{'postcopy':>9} {'push':>6}")
    for ch in CONNS:
        name = f"kmig postcopy {ch} ch"
        for other in ((base, "QEMU postcopy", f"{name} base") if BASE
                      else (base, "QEMU postcopy")):
            if not results.get(other):
                continue    # a row not run in this mode
            out = []
            for key in ("p50_us", "p99_us", "downtime", "postcopy",
                        "push_mibps"):
                x, y = med(name, key), med(other, key)
                out.append(f"{x / y:.2f}x" if x and y else "-")
            print(f"  {name + ' / ' + other:36} {out[0]:>6} {out[1]:>6} "
                  f"{out[2]:>9} {out[3]:>9} {out[4]:>6}")
        if BASE:
            out = []
            for key in ("p50_us", "p99_us"):
                x, y = med(f"{name} base", key), med(base, key)
                out.append(f"{x / y:.2f}x" if x and y else "-")
            print(f"  {name + ' base / ' + base:36} {out[0]:>6} "
                  f"{out[1]:>6}")
        raw = field(raws[ch], "mibps")
        push = med(name, "push_mibps")
        if raw and push:
            print(f"  {name + ' push / raw TCP ' + str(ch) + ' conn':36} "
                  f"{'':>34}{push / statistics.median(raw):>5.2f}x")


def retable(path):
    """The tables again, from a runs.json of an earlier run."""
    for mode, configs, results, raws, mine in mig.runs_by_mode(
            path, [s.name for s in sides()], CONNS):
        hz = next((r["tsc_hz"] for r in mine if "tsc_hz" in r), 0)
        table(mode, configs, results, raws, hz)


def run_mode(mode, trace, hz):
    configs = [s.name for s in sides(mode)]
    results = {n: [] for n in configs}
    raws = {c: [] for c in CONNS}
    for run in range(RUNS):
        for side in sides(mode):
            tag = f"{mode}-{run}-{side.name}".replace(" ", "_") \
                .replace(",", "")
            try:
                r = one_postcopy(side, mode, tag, trace, hz)
                r["tsc_hz"] = hz
                results[side.name].append(r)
                note(mode, side.name, r)
            except (BenchError, subprocess.SubprocessError, OSError,
                    KeyError, ValueError) as e:
                print(f"bench: postcopy {mode} run {run + 1}, {side.name}: "
                      f"{e}", flush=True)
        for ch in CONNS:
            k = field(results.get(f"kmig postcopy {ch} ch", []), "pc_wire")
            if push_cap(mode) or not k or statistics.median(k) < MIB:
                continue    # capped, or too short a transfer to time
            raws[ch].append(raw_tcp(ch, int(statistics.median(k)),
                                    f"raw-{ch}"))
            note(mode, f"raw TCP {ch} conn", raws[ch][-1])
    table(mode, configs, results, raws, hz)
    sys.stdout.flush()


def main():
    if not begin(WORK, retable):
        return
    hosts("hosts_up")
    trace = Trace()
    hz = tsc_hz()
    try:
        for mode in MODES:
            if mode not in WHAT:
                raise BenchError(f"BENCH_PC_MODES: no mode {mode!r}: "
                                 "written, fresh, capped or push")
            run_mode(mode, trace, hz)
    finally:
        trace.put("tracing_on", "0")
        hosts("true")


if __name__ == "__main__":
    main()
