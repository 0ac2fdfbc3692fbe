# SPDX-License-Identifier: GPL-2.0
"""
Lazy restore against full restore of one snapshot file on tmpfs, in the
same boot of the test bed (scripts/bench.sh runs it there).

A MEM MiB guest writes every page of its memory, is saved with kmig save,
then restored RUNS times each way into a new kmig-vmm --incoming: full
(kmig restore: every page read, then the guest runs) and lazy (kmig
restore --lazy, THREADS fill threads): its pages staged in place (the
agent's default), copied (KMIG_STAGED_INSTALL=0) and, with
BENCH_LAZY_BASE (a build directory of another tree, `make B=DIR user
tools` there), by that build's agent; the runs of each row interleaved
with the others'. Each row gives the time from the start of kmig restore
until the guest ran (full: kmig restore returned; lazy: its own report)
and until its counter advanced TICKS times (polled through the control
socket), and, for lazy, until every page was in: the median and the
range. Not a test: nothing passes or fails on a number.
"""
import os
import re
import statistics
import subprocess
import sys
import time

PROJECT = os.environ.get("KMIG_PROJECT", "")
BUILD = f"{PROJECT}/build"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MEM = 256                                   # MiB
TICKS = 10
THREADS = 2
POLL = float(os.environ.get("BENCH_POLL_MS", "5")) / 1000
FILE = "/dev/shm/bench-lazy.kmig"
BASE = os.environ.get("BENCH_LAZY_BASE", "")  # another build, "": none


class BenchError(Exception):
    pass


def ctl(sock, *req):
    return subprocess.run([f"{BUILD}/tools/vmmctl", sock, *req],
                          capture_output=True, text=True).stdout


def status(sock, field):
    m = re.search(rf"\b{field}=(\S+)", ctl(sock, "status"))
    return m.group(1) if m else None


def wait_until(what, check, timeout=120):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(POLL)


def vmm(sock, *args):
    p = subprocess.Popen([f"{BUILD}/vmm/kmig-vmm", "--ctl", sock, "--mem",
                          str(MEM), *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_until("kmig-vmm's control socket", lambda: status(sock, "state"))
    return p


def save():
    sock = "@bench-lazy-src"
    src = vmm(sock, "--pattern", "seq")
    pages = (MEM << 20) // 4096
    wait_until("the guest to write every page",
               lambda: int(status(sock, "writes") or 0) >= pages, 300)
    if os.path.exists(FILE):
        os.unlink(FILE)
    subprocess.run([f"{BUILD}/kmig", "save", "--vmm", sock, FILE],
                   check=True, stdout=subprocess.DEVNULL)
    src.kill()
    src.wait()


def restore(lazy, n, build=BUILD, env=None):
    sock = f"@bench-lazy-dst-{n}"
    dst = vmm(sock, "--incoming")
    argv = [f"{build}/kmig", "restore", "--vmm", sock, FILE]
    if lazy:
        argv[2:2] = ["--lazy", "--threads", str(THREADS)]
    t0 = time.monotonic()
    agent = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
    if not lazy:
        out = agent.communicate()[0]
        ran = time.monotonic() - t0
    wait_until("the guest to run", lambda: status(sock, "state") == "running")
    c0 = int(status(sock, "counter"))
    wait_until(f"{TICKS} ticks",
               lambda: int(status(sock, "counter")) >= c0 + TICKS)
    ticks = time.monotonic() - t0
    if lazy:
        out = agent.communicate()[0]
        filled = time.monotonic() - t0
        m = re.search(r"ran after (\d+) ms", out)
        ran = int(m.group(1)) / 1000 if m else float("nan")
    else:
        filled = ran
    if agent.returncode:
        raise BenchError(f"kmig restore failed: {out}")
    dst.kill()
    dst.wait()
    m = re.search(r"pages staged (\d+), copied (\d+)", out)
    return ran, ticks, filled, m.group(0) if m else ""


def main():
    save()
    rows = [("full", False, BUILD, None),
            (f"lazy, {THREADS} thr, staged", True, BUILD, None),
            (f"lazy, {THREADS} thr, copied", True, BUILD,
             {"KMIG_STAGED_INSTALL": "0"})]
    if BASE:
        rows.append((f"lazy, {THREADS} thr, base", True, BASE, None))
    runs = {name: [] for name, *_ in rows}
    pages = {}
    for i in range(RUNS):
        for name, lazy, build, env in rows:
            r = restore(lazy, f"{i}-{len(runs[name])}-{name[:4]}", build, env)
            runs[name].append(r[:3])
            pages[name] = r[3]
    print(f"restore of a {MEM} MiB guest from tmpfs, median (range) of "
          f"{RUNS}, runs interleaved (ms from the start of kmig restore)")
    print(f"{'row':<24}{'guest runs':>20}{f'{TICKS} ticks':>20}"
          f"{'all pages in':>20}")
    for name, *_ in rows:
        cols = []
        for k in range(3):
            v = [r[k] * 1000 for r in runs[name]]
            cols.append(f"{statistics.median(v):.0f} "
                        f"({min(v):.0f}-{max(v):.0f})")
        print(f"{name:<24}{cols[0]:>20}{cols[1]:>20}{cols[2]:>20}")
    for name, *_ in rows:
        if pages[name]:
            print(f"  {name}: {pages[name]} (last run)")
    os.unlink(FILE)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"bench: {e}")
        sys.exit(1)
