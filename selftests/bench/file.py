# SPDX-License-Identifier: GPL-2.0
"""
Snapshot files: kmig save/restore against QEMU 10's migration to a file
(`migrate "file:PATH"`, plain, mapped-ram, mapped-ram + multifd), in the
same boot of the test bed (scripts/bench.sh runs it there).

The guest is migrate.py's (the same payload under kmig-vmm and, booted
with -kernel, under QEMU), MEM MiB, every working-set page written and
checked before any clock starts, then idle. Each run fills one source
guest of each VMM and saves it once per row and directory (resumed
between rows, off the clock); every row restores its file into a new
destination, whose memory is then compared with the source's. Rows
alternate kmig and QEMU. How each figure is measured:
Documentation/benchmarks.rst.

Environment: BENCH_RUNS (default 3); BENCH_ROWS, a regular expression:
only the rows whose names match; BENCH_FILE_DIRS, the directories
(default /dev/shm and, when the bed has a disk, ext4 on it).
"""
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate  # noqa: E402
from migrate import (BUILD, MEM, WS_PAGES, BenchError, KmigSide,  # noqa: E402
                     QemuSide, field, hosts, med_of, wait_until)
from qmp import QMPError  # noqa: E402

WORK = f"{os.environ.get('KMIG_OUT', '')}/work/bench-file"
migrate.WORK = WORK         # where migrate's log() puts the VMMs' logs
# Under a loaded host, a 256 MiB fill took over migrate.py's 5 minutes.
migrate.FILL_TIMEOUT = int(os.environ.get("BENCH_FILL_TIMEOUT") or "900")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
ROWS = re.compile(os.environ.get("BENCH_ROWS", ""))
DISK_DIR = "/dev/shm/disk"  # where snap.sh mounts the bed's disk too
GUEST_BYTES = MEM << 20
WS_GPA = 0x100000
FILE_TIMEOUT = 600
DUMP = "/dev/shm/bench-file.mem"   # QEMU's pmemsave, read and removed
GB = 1e9
MIB = 1048576.0


def mount_disk():
    """ext4 on the bed's disk at DISK_DIR (as snap.sh does), or None."""
    if subprocess.run(["mountpoint", "-q", DISK_DIR]).returncode == 0:
        return DISK_DIR
    subprocess.run(["modprobe", "virtio_blk"], capture_output=True)
    for _ in range(10):
        if os.path.exists("/dev/vda"):
            break
        time.sleep(0.2)
    else:
        print("bench: the bed has no disk (/dev/vda): /dev/shm only")
        return None
    subprocess.run(["modprobe", "ext4"], capture_output=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "/dev/vda"], check=True)
    os.makedirs(DISK_DIR, exist_ok=True)
    subprocess.run(["mount", "/dev/vda", DISK_DIR], check=True)
    return DISK_DIR


def directories():
    env = os.environ.get("BENCH_FILE_DIRS")
    if env:
        return env.split()
    try:
        disk = mount_disk()
    except subprocess.CalledProcessError as e:
        print(f"bench: no disk-backed directory: {e}")
        disk = None
    return ["/dev/shm"] + ([disk] if disk else [])


def file_figures(path):
    """Its size, its blocks, and how much of it the page cache holds
    (fincore) after the save: what says if O_DIRECT was in effect."""
    st = os.stat(path)
    out = subprocess.run(["fincore", "-b", "-n", "-o", "RES", path],
                         capture_output=True, text=True)
    cached = int(out.stdout) if out.returncode == 0 and \
        out.stdout.strip().isdigit() else None
    return {"size": st.st_size, "alloc": st.st_blocks * 512,
            "cached": cached}


class Source:
    """One VMM's source guest, filled, its memory's checksum in ref; a
    row saves it (save()) and restores the file into a new destination
    (restore()). @side is migrate.py's side object for that VMM."""

    def __init__(self, side, tag):
        self.side, self.tag = side, tag
        try:
            self.ref = self.fill()
        except BaseException:
            self.side.stop()
            raise

    def stop(self):
        self.side.stop()


class KmigFiles(Source):
    """A kmig-vmm source guest; rows are kmig save and kmig restore."""
    ROWS = [(threads, dio) for threads in (1, 4) for dio in (False, True)]

    def __init__(self, tag):
        super().__init__(KmigSide(0), tag)

    def fill(self):
        self.side.spawn("A", self.tag)
        self.side.wait_filled()
        self.side.ctl("A", "pattern", "none")
        return self.checksum("A")

    @staticmethod
    def row_name(cfg):
        threads, dio = cfg
        return f"kmig {threads} thr{', O_DIRECT' if dio else ''}"

    def checksum(self, host):
        out = self.side.ctl(host, "checksum").split()
        if len(out) != 2 or out[0] != "ok":
            raise BenchError(f"kmig-vmm checksum: {' '.join(out)}")
        return out[1]

    def agent(self, what, sock, cfg, path, *extra):
        threads, dio = cfg
        argv = [f"{BUILD}/kmig", what, "--vmm", sock, "--threads",
                str(threads), *(["--direct-io"] if dio else []), *extra,
                path]
        t0 = time.monotonic()
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=FILE_TIMEOUT)
        took = time.monotonic() - t0
        with open(f"{WORK}/{self.tag}.log", "a") as fh:
            fh.write(f"$ {' '.join(argv)}\n{out.stdout}{out.stderr}")
        if out.returncode:
            raise BenchError(f"kmig {what} exit {out.returncode}: "
                             f"{out.stderr.strip()}")
        return took

    def save(self, cfg, path):
        took = self.agent("save", "/run/bench-a.sock", cfg, path)
        self.side.ctl("A", "resume")
        return took

    def restore(self, cfg, path, tag):
        dst = self.side.spawn("B", tag, "--incoming")
        try:
            took = self.agent("restore", "/run/bench-b.sock", cfg, path,
                              "--paused")
            self.restored_state = self.side.status("B", "state")
            self.side.ctl("B", "resume")
            got = self.checksum("B")
            if got != self.ref:
                raise BenchError(f"the restored guest's checksum {got} is "
                                 f"not the source's {self.ref}")
        finally:
            subprocess.run([f"{BUILD}/tools/vmmctl", "/run/bench-b.sock",
                            "quit"], capture_output=True)
            dst.wait(timeout=30)
            self.side.procs.remove(dst)
        return took


class QemuFiles(Source):
    """A QEMU 10 source guest; rows are migrate and migrate-incoming of
    file:PATH with the row's capabilities and parameters."""
    KINDS = ("plain", "mapped-ram", "mapped-ram + multifd 4")
    ROWS = [(kind, dio) for kind in KINDS for dio in (False, True)]

    def __init__(self, tag):
        super().__init__(QemuSide(0, False), tag)

    def fill(self):
        self.side.src, self.side.qa = self.side.spawn("A", "idle", self.tag,
                                                      False)
        wait_until("QEMU's guest to write every page", self.side.filled,
                   migrate.FILL_TIMEOUT)
        return self.memory_crc(self.side.qa, DUMP)

    @staticmethod
    def row_name(cfg):
        kind, dio = cfg
        return f"QEMU {kind}{', direct-io' if dio else ''}"

    @staticmethod
    def memory_crc(q, dump):
        """CRC32 of the working set, dumped by QEMU (pmemsave)."""
        q.cmd("pmemsave", val=WS_GPA, size=GUEST_BYTES - WS_GPA,
              filename=dump)
        crc = 0
        with open(dump, "rb") as fh:
            while chunk := fh.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
        os.unlink(dump)
        return crc

    @staticmethod
    def configure(q, cfg):
        """The row's capabilities and parameters: QEMU's refusal raises."""
        kind, dio = cfg
        q.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "events", "state": True},
            {"capability": "mapped-ram", "state": kind != "plain"},
            {"capability": "multifd", "state": "multifd" in kind}])
        params = {"max-bandwidth": migrate.UNCAPPED, "direct-io": dio}
        if "multifd" in kind:
            params["multifd-channels"] = 4
        q.cmd("migrate-set-parameters", **params)

    @staticmethod
    def completed(q, t0):
        """Seconds from @t0 (time.time()) to q's MIGRATION completed."""
        try:
            ev = q.wait_event("MIGRATION", FILE_TIMEOUT, lambda d: d.get(
                "status") in ("completed", "failed", "cancelled"))
        except QMPError as e:
            raise BenchError(f"QEMU's migration: {e}")
        if ev[2]["status"] != "completed":
            info = q.cmd("query-migrate")
            raise BenchError(f"QEMU's migration {ev[2]['status']}: "
                             f"{info.get('error-desc', '')}")
        return ev[1] - t0

    @staticmethod
    def resume(q):
        """cont, once QEMU has finalized the migration: its completed
        event comes first, and a source left paused after a migration
        cannot migrate again."""
        deadline = time.monotonic() + 30
        while True:
            try:
                q.cmd("cont")
                return
            except QMPError as e:
                if "not finalized" not in str(e) or \
                        time.monotonic() > deadline:
                    raise BenchError(f"QEMU's source does not run: {e}")
            time.sleep(0.05)

    def save(self, cfg, path):
        q = self.side.qa
        state = q.cmd("query-status")["status"]
        if state != "running":
            raise BenchError(f"QEMU's source is {state}, not running")
        self.configure(q, cfg)
        q.events.clear()
        t0 = time.time()
        q.cmd("stop")
        try:
            q.cmd("migrate", uri=f"file:{path}")
            return self.completed(q, t0)
        finally:
            self.resume(q)

    def restore(self, cfg, path, tag):
        dst, q = self.side.spawn("B", "idle", tag, True)
        try:
            self.configure(q, cfg)
            t0 = time.time()
            q.cmd("migrate-incoming", uri=f"file:{path}")
            took = self.completed(q, t0)
            self.restored_state = q.cmd("query-status")["status"]
            got = self.memory_crc(q, DUMP)
            if got != self.ref:
                raise BenchError(f"the restored guest's memory (CRC32 "
                                 f"{got:08x}) is not the source's "
                                 f"({self.ref:08x})")
        finally:
            try:
                q.cmd("quit")
            except (QMPError, OSError):
                pass
            q.close()
            dst.wait(timeout=30)
            self.side.procs.remove(dst)
        return took


def drop_cache(path):
    """Written back and out of the page cache: every restore reads the
    disk (on tmpfs the file stays in memory all the same)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def note(r):
    with open(f"{WORK}/runs.json", "a") as fh:
        fh.write(json.dumps(r) + "\n")


def one_row(side, cfg, where, path, tag):
    if os.path.exists(path):
        os.unlink(path)
    try:
        r = {"row": side.row_name(cfg), "dir": where}
        r["save"] = side.save(cfg, path)
        r.update(file_figures(path))
        drop_cache(path)
        r["restore"] = side.restore(cfg, path, tag)
        r["state"] = side.restored_state    # loaded, not started
        return r
    finally:
        if os.path.exists(path):
            os.unlink(path)


def rows():
    """(side class, config) in the order they run: kmig and QEMU by turns."""
    k = [(KmigFiles, c) for c in KmigFiles.ROWS]
    q = [(QemuFiles, c) for c in QemuFiles.ROWS]
    out = []
    for i in range(max(len(k), len(q))):
        out += k[i:i + 1] + q[i:i + 1]
    return [(cls, c) for cls, c in out if ROWS.search(cls.row_name(c))]


def one_run(run, dirs, refused):
    """Every row once into each of @dirs, from one source guest of each
    VMM (filling a guest is the slowest step of all in the bed)."""
    todo = rows()
    sources = {}
    try:
        for cls in dict.fromkeys(cls for cls, _ in todo):
            try:
                sources[cls] = cls(f"{run}-{cls.__name__}")
            except (BenchError, QMPError, subprocess.SubprocessError,
                    OSError) as e:
                print(f"bench: run {run + 1}: no {cls.__name__} source: "
                      f"{e}", flush=True)
        for where, (cls, cfg) in itertools.product(dirs, todo):
            name = cls.row_name(cfg)
            if name in refused or cls not in sources:
                continue
            path = f"{where}/bench-file.snap"
            tag = f"{run}-{os.path.basename(where)}-{name}" \
                .replace(" ", "_").replace(",", "").replace("+", "")
            try:
                r = one_row(sources[cls], cfg, where, path, tag)
                note(r)
                yield r
            except QMPError as e:
                # A configuration QEMU does not take: said once.
                refused[name] = str(e)
                print(f"bench: {name}: QEMU refused: {e}", flush=True)
            except (BenchError, subprocess.SubprocessError, OSError) as e:
                print(f"bench: run {run + 1}, {where}, {name}: {e}",
                      flush=True)
    finally:
        for s in sources.values():
            s.stop()


def gbps(runs, key):
    return [GUEST_BYTES / GB / r[key] for r in runs if r.get(key)]


def cached(runs):
    """The page cache's share of the file after the save, '-' unknown."""
    vals = [min(1.0, r["cached"] / r["size"]) for r in runs
            if r.get("cached") is not None and r.get("size")]
    return f"{statistics.median(vals) * 100:.0f}%" if vals else "-"


def spread(vals, digits):
    """'median (min-max)' with @digits decimals, or '-'."""
    if not vals:
        return "-"
    f = f"{{:.{digits}f}}".format
    med = f(statistics.median(vals))
    return med if len(vals) == 1 else \
        f"{med} ({f(min(vals))}-{f(max(vals))})"


def table(where, names, results, refused):
    n = max([len(v) for v in results.values()] + [0])
    print(f"\nSnapshot file in {where}, {MEM} MiB guest ({WS_PAGES} pages "
          f"written, then idle); median (min-max) of {n} runs")
    print(f"{'':40} {'save s':>17} {'restore s':>17} {'save GB/s':>21} "
          f"{'restore GB/s':>21} {'file MiB':>9} {'alloc MiB':>9} "
          f"{'cached':>7}")
    for name in names:
        runs = results[name]
        if name in refused and not runs:
            print(f"{name:40} refused: {refused[name]}")
            continue
        if not runs:
            print(f"{name:40} failed")
            continue
        print(f"{name:40} {spread(field(runs, 'save'), 2):>17} "
              f"{spread(field(runs, 'restore'), 2):>17} "
              f"{spread(gbps(runs, 'save'), 3):>21} "
              f"{spread(gbps(runs, 'restore'), 3):>21} "
              f"{med_of(runs, 'size') / MIB:>9.1f} "
              f"{med_of(runs, 'alloc') / MIB:>9.1f} "
              f"{cached(runs):>7}")
    pairs = [("kmig 1 thr", "QEMU plain"),
             ("kmig 1 thr", "QEMU mapped-ram"),
             ("kmig 4 thr", "QEMU mapped-ram + multifd 4"),
             ("kmig 1 thr, O_DIRECT", "QEMU mapped-ram, direct-io"),
             ("kmig 4 thr, O_DIRECT",
              "QEMU mapped-ram + multifd 4, direct-io")]
    pairs = [(k, q) for k, q in pairs if results.get(k) and results.get(q)]
    if pairs:
        print(f"  {'speed ratios of medians, kmig / QEMU':64} {'save':>6} "
              f"{'restore':>8}")
    for k, q in pairs:
        a, b = results[k], results[q]
        out = [f"{med_of(b, key) / med_of(a, key):.2f}x"
               for key in ("save", "restore")]
        print(f"  {k + ' / ' + q:64} {out[0]:>6} {out[1]:>8}")


def tables(results_by_dir, refused):
    names = [cls.row_name(c) for cls, c in rows()]
    for where, results in results_by_dir.items():
        table(where, names, results, refused)


def retable(path):
    """The tables again, from a runs.json of an earlier run."""
    got = [json.loads(line) for line in open(path)]
    by_dir = {}
    for r in got:
        by_dir.setdefault(r["dir"], {}).setdefault(r["row"], []).append(r)
    names = list(dict.fromkeys(r["row"] for r in got))
    for where, results in by_dir.items():
        table(where, names, results, {})


def main():
    if not migrate.begin(WORK, retable):
        return
    dirs = directories()
    hosts("hosts_up")
    refused = {}
    by_dir = {d: {cls.row_name(c): [] for cls, c in rows()} for d in dirs}
    try:
        for run in range(RUNS):
            for r in one_run(run, dirs, refused):
                by_dir[r["dir"]][r["row"]].append(r)
        tables(by_dir, refused)
    finally:
        hosts("true")


if __name__ == "__main__":
    main()
