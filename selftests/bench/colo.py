# SPDX-License-Identifier: GPL-2.0
"""
COLO checkpoints between the test bed's two hosts (network namespaces
joined by a veth, selftests/qemu/hosts.sh), in one boot (scripts/bench.sh
runs it there). kmig-vmm on each host, MEM MiB; the primary's agent on
A, the secondary's on B. How each figure is measured:
Documentation/colo.rst, "Benchmark".

1. Pause against dirty pages: the guest writes about D pages per
   period P (the seq pattern at D / P pages/s, for each (D, P) of
   DIRTY; it writes no faster than some ten thousand pages a second
   under TCG, hence the longer periods), CKPTS checkpoints each.
   Every checkpoint after the first gives (pages, pause): the fixed and
   per-page parts are a least-squares line through all of them, the
   per-page part against raw TCP of the same bytes on the same veth.
2. The secondary's flush (the pages into its VM) against threads.
3. The guest's progress (its counter, the hot pattern unpaced) at 10,
   20 and 40 checkpoints a second, against no COLO.
4. Takeover after the primary agent is killed (its connection reset) or
   stopped (found by the heartbeat): detection and switch.
5. Entering COLO: the pause of checkpoint 0 for a guest that wrote all
   its memory and goes on writing, with --live-rounds 0, 1 and 2.

Environment: BENCH_RUNS (default 3) runs of rows 3 and 4.
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from migrate import (B_ADDR, BUILD, BenchError, hosts, on,  # noqa: E402
                     raw_tcp, stat, wait_until)

WORK = f"{os.environ.get('KMIG_OUT', '')}/work/bench-colo"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MEM = 256                                   # MiB
PERIOD = 200                                # ms
CKPTS = 8
DIRTY = ((100, 200), (1000, 200), (10000, 1000), (50000, 5000))
THREADS = (1, 2, 4)
FLUSH_DIRTY = (10000, 1000)
TIMEOUT = "60"                              # s, either agent's --timeout
RATES = (10, 20, 40)                        # checkpoints per second
HOT = 1000
PROGRESS_S = 5
PORT = 4600
HB_MS, HB_TIMEOUT_MS = 50, 500
LIVE_ROUNDS = (0, 1, 2)
WS_PAGES = ((MEM << 20) - 0x100000) // 4096
LIVE_RE = re.compile(r"live round (\d+): (\d+) pages in ([0-9.]+) ms")
SOCK = {"A": "/run/bench-colo-a.sock", "B": "/run/bench-colo-b.sock"}
PAUSE_RE = re.compile(r"checkpoint (\d+): (\d+) pages, paused ([0-9.]+) ms")
FLUSH_RE = re.compile(r"checkpoint (\d+) committed: (\d+) pages written in "
                      r"[0-9.]+ ms \(flush ([0-9.]+) ms")


def ctl(host, *req):
    return subprocess.run(on(host, f"{BUILD}/tools/vmmctl", SOCK[host],
                             *req), capture_output=True, text=True,
                          check=True).stdout


def counter(host):
    m = re.search(r"\bcounter=(\d+)", ctl(host, "status"))
    if not m:
        raise BenchError("vmmctl status has no counter")
    return int(m.group(1))


class Pair:
    """The two VMMs and the agents between them, for one row."""

    def __init__(self, tag, guest):
        self.tag = tag
        self.procs = []
        for host, args in (("A", guest), ("B", ["--incoming"])):
            if os.path.exists(SOCK[host]):
                os.unlink(SOCK[host])
            self.procs.append(subprocess.Popen(
                on(host, f"{BUILD}/vmm/kmig-vmm", "--ctl", SOCK[host],
                   "--mem", str(MEM), *args),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_until("kmig-vmm's control socket",
                       lambda h=host: os.path.exists(SOCK[h]), 30)
        wait_until("the guest to run", lambda: counter("A") > 0, 60)

    def agents(self, sec_args, pri_args):
        self.sec_log = f"{WORK}/{self.tag}-sec.log"
        self.pri_log = f"{WORK}/{self.tag}-pri.log"
        self.sec = subprocess.Popen(
            on("B", f"{BUILD}/kmig", "colo", "secondary", "--vmm", SOCK["B"],
               "--listen", f"{B_ADDR}:{PORT}", *sec_args),
            stdout=subprocess.PIPE, stderr=open(self.sec_log, "w"),
            text=True)
        self.pri = subprocess.Popen(
            on("A", f"{BUILD}/kmig", "colo", "primary", "--vmm", SOCK["A"],
               "--to", f"{B_ADDR}:{PORT}", *pri_args),
            stdout=open(self.pri_log, "w"), stderr=subprocess.STDOUT)
        self.procs += [self.sec, self.pri]

    def finish(self, timeout=300):
        if self.pri.wait(timeout=timeout) or self.sec.wait(timeout=60):
            raise BenchError(f"{self.tag}: primary exit {self.pri.returncode}"
                             f", secondary exit {self.sec.returncode}")

    def committed(self):
        with open(self.pri_log) as f:
            return len(re.findall(r"checkpoint \d+ committed", f.read()))

    def stop(self):
        for host in ("A", "B"):
            subprocess.run(on(host, f"{BUILD}/tools/vmmctl", SOCK[host],
                              "quit"), capture_output=True)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def parse(path, regex):
    with open(path) as f:
        return [m.groups() for m in regex.finditer(f.read())]


def checkpoints(dirty, threads):
    """(pages, pause ms) of checkpoints 1.., and (pages, flush ms), with
    about @dirty = (pages, period ms) dirty per period."""
    pages, period = dirty
    tag = f"dirty-{pages}-t{threads}"
    pair = Pair(tag, ["--pattern", "seq", "--rate",
                      str(pages * 1000 // period)])
    try:
        pair.agents(["--threads", str(threads), "--timeout", TIMEOUT],
                    ["--checkpoint-ms", str(period), "--checkpoints",
                     str(CKPTS), "--timeout", TIMEOUT])
        pair.finish()
        pauses = [(int(p), float(ms)) for n, p, ms in
                  parse(pair.pri_log, PAUSE_RE) if int(n) > 0]
        flushes = [(int(p), float(ms)) for n, p, ms in
                   parse(pair.sec_log, FLUSH_RE) if int(n) > 0]
    finally:
        pair.stop()
    if not pauses or not flushes:
        raise BenchError(f"{tag}: no checkpoint logged")
    return pauses, flushes


def fit(points):
    """Least squares pause = a + b * pages: (a ms, b ms per page)."""
    n = len(points)
    mx = sum(p for p, _ in points) / n
    my = sum(t for _, t in points) / n
    sxx = sum((p - mx) ** 2 for p, _ in points)
    if not sxx:
        return my, 0.0
    b = sum((p - mx) * (t - my) for p, t in points) / sxx
    return my - b * mx, b


def pause_rows():
    print(f"\n1. Checkpoint pause against dirty pages: {MEM} MiB guest, "
          f"checkpoints 1..{CKPTS - 1} of each row, 1 flush thread")
    print(f"{'target/period':>16} {'pages':>16} {'pause ms':>20} "
          f"{'raw TCP ms':>12} {'pause/raw':>10}")
    points = []
    raws = {}
    for dirty in DIRTY:
        row = f"{dirty[0]}/{dirty[1]} ms"
        try:
            pauses, _ = checkpoints(dirty, 1)
        except (BenchError, subprocess.SubprocessError, OSError) as e:
            print(f"{row:>16} failed: {e}")
            continue
        points += pauses
        pages = statistics.median(p for p, _ in pauses)
        raw = raw_tcp(1, int(pages) * 4096, f"raw-colo-{dirty[0]}")
        raw_ms = raw["total"] * 1e3
        raws[pages] = raw_ms
        pause = statistics.median(t for _, t in pauses)
        print(f"{row:>16} {stat([p for p, _ in pauses]):>16} "
              f"{stat([t for _, t in pauses]):>20} "
              f"{raw_ms:>12.1f} {pause / raw_ms:>9.1f}x")
    if len(points) < 2:
        return
    a, b = fit(points)
    print(f"pause = {a:.1f} ms + {b * 1000:.1f} us per page "
          f"(least squares over {len(points)} checkpoints)")
    if raws:
        pages = max(raws)
        raw_us = raws[pages] * 1000 / pages
        print(f"raw TCP, the same bytes on the same veth: {raw_us:.1f} us "
              f"per page ({pages:.0f} pages); per-page part / raw: "
              f"{b * 1000 / raw_us:.1f}x")


def flush_rows():
    print(f"\n2. The secondary's flush against threads: about "
          f"{FLUSH_DIRTY[0]} pages per {FLUSH_DIRTY[1]} ms period")
    print(f"{'threads':>8} {'pages':>16} {'flush ms':>20} {'us/page':>9}")
    for threads in THREADS:
        try:
            _, flushes = checkpoints(FLUSH_DIRTY, threads)
        except (BenchError, subprocess.SubprocessError, OSError) as e:
            print(f"{threads:>8} failed: {e}")
            continue
        per = [ms * 1000 / p for p, ms in flushes if p]
        print(f"{threads:>8} {stat([p for p, _ in flushes]):>16} "
              f"{stat([ms for _, ms in flushes]):>20} {stat(per):>9}")


def progress(rate, run):
    """The guest's counter increments per second, with COLO at @rate
    checkpoints per second (0: none): without, read twice through the
    VMM's control socket; with, the primary agent's own count from
    checkpoint 1 to its stop (it holds that socket meanwhile)."""
    pair = Pair(f"progress-{rate}-{run}",
                ["--pattern", "hot", "--hot-pages", str(HOT), "--rate", "0"])
    try:
        if not rate:
            c0, t0 = counter("A"), time.monotonic()
            time.sleep(PROGRESS_S)
            return (counter("A") - c0) / (time.monotonic() - t0)
        pair.agents(["--timeout", TIMEOUT],
                    ["--checkpoint-ms", str(1000 // rate), "--timeout",
                     TIMEOUT])
        wait_until("checkpoint 1", lambda: pair.committed() >= 2, 120)
        time.sleep(PROGRESS_S)
        pair.pri.send_signal(signal.SIGTERM)
        pair.finish(60)
        with open(pair.pri_log) as f:
            m = re.search(r"guest counter \+\d+ in [0-9.]+ s since "
                          r"checkpoint 1: (\d+) a second", f.read())
        if not m:
            raise BenchError(f"{pair.tag}: the primary logged no progress")
        return float(m.group(1))
    finally:
        pair.stop()


def progress_rows():
    print(f"\n3. Guest progress (counter increments/s, the hot pattern on "
          f"{HOT} pages, unpaced) over {PROGRESS_S} s, median (min-max) "
          f"of {RUNS}")
    base = [progress(0, r) for r in range(RUNS)]
    print(f"{'no COLO':>16} {stat(base):>20}")
    for rate in RATES:
        vals = [progress(rate, r) for r in range(RUNS)]
        print(f"{f'{rate} ckpt/s':>16} {stat(vals):>20} "
              f"{statistics.median(vals) / statistics.median(base):>7.2f}x")


def takeover(how, run):
    """(detection ms, switch ms) after the primary agent is @how."""
    pair = Pair(f"takeover-{how}-{run}",
                ["--pattern", "random", "--rate", "2000"])
    hb = ["--heartbeat", str(HB_MS), "--heartbeat-timeout", str(HB_TIMEOUT_MS)]
    try:
        pair.agents(hb + ["--timeout", TIMEOUT],
                    hb + ["--checkpoint-ms", str(PERIOD), "--timeout",
                          TIMEOUT])
        wait_until("checkpoint 3", lambda: pair.committed() >= 4, 120)
        t0 = time.monotonic()
        pair.pri.send_signal(signal.SIGKILL if how == "killed"
                             else signal.SIGSTOP)
        line = pair.sec.stdout.readline()
        t1 = time.monotonic()
        m = re.search(r"switch ([0-9.]+) ms", line)
        if not m:
            raise BenchError(f"no takeover: {line!r}")
        switch = float(m.group(1))
    finally:
        pair.pri.send_signal(signal.SIGKILL)
        pair.stop()
    return (t1 - t0) * 1e3 - switch, switch


def takeover_rows():
    print(f"\n4. Takeover (ms) after the primary agent is killed or "
          f"stopped; heartbeat {HB_MS} ms, lost after {HB_TIMEOUT_MS} ms; "
          f"median (min-max) of {RUNS}")
    print(f"{'primary agent':>16} {'detection':>20} {'switch':>20}")
    for how in ("killed", "stopped"):
        rows = [takeover(how, r) for r in range(RUNS)]
        print(f"{how:>16} {stat([d for d, _ in rows]):>20} "
              f"{stat([s for _, s in rows]):>20}")


def entering(rounds, run):
    """Checkpoint 0's (pages, pause ms), and the live rounds' pages."""
    pair = Pair(f"enter-{rounds}-{run}", ["--pattern", "seq", "--rate", "0"])
    try:
        wait_until("the guest to write every page",
                   lambda: int(re.search(r"\bwrites=(\d+)",
                                         ctl("A", "status")).group(1))
                   >= WS_PAGES, 300)
        ctl("A", "pattern", "random")
        ctl("A", "rate", "2000")
        pair.agents(["--timeout", TIMEOUT],
                    ["--live-rounds", str(rounds), "--checkpoints", "1",
                     "--timeout", TIMEOUT])
        pair.finish()
        ckpt = [(int(p), float(ms)) for n, p, ms in
                parse(pair.pri_log, PAUSE_RE) if int(n) == 0]
        live = [int(p) for _, p, _ in parse(pair.pri_log, LIVE_RE)]
    finally:
        pair.stop()
    if not ckpt:
        raise BenchError(f"enter-{rounds}: no checkpoint 0")
    return ckpt[0], live


def entering_rows():
    print(f"\n5. Entering COLO: checkpoint 0 of a {MEM} MiB guest that wrote "
          f"every page and writes 2000 random pages/s; median (min-max) "
          f"of {RUNS}")
    print(f"{'live rounds':>12} {'round pages':>22} {'ckpt 0 pages':>18} "
          f"{'ckpt 0 pause ms':>20}")
    for rounds in LIVE_ROUNDS:
        rows = [entering(rounds, r) for r in range(RUNS)]
        live = "/".join(str(p) for p in rows[0][1]) or "-"
        print(f"{rounds:>12} {live:>22} "
              f"{stat([c[0] for c, _ in rows]):>18} "
              f"{stat([c[1] for c, _ in rows]):>20}")


def main():
    os.makedirs(WORK, exist_ok=True)
    hosts("hosts_up")
    try:
        pause_rows()
        flush_rows()
        progress_rows()
        takeover_rows()
        entering_rows()
    finally:
        hosts("true")
    print(f"\n(each row's agent logs: {WORK})")


if __name__ == "__main__":
    try:
        main()
    except (BenchError, subprocess.SubprocessError, OSError) as e:
        print(f"bench: {e}")
        sys.exit(1)
