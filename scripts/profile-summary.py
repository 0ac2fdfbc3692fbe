#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Summary of scripts/profile-migrate.sh's output directory: each process's
share of the perf samples, its costs grouped by symbol, its system calls
and the bytes they moved, and the CPU lines of /proc/stat.

usage: profile-summary.py DIR
"""
import collections
import os
import re
import sys

ROLES = {"agent_a": "source agent", "agent_b": "destination agent",
         "vmm_a": "source VMM", "vmm_b": "destination VMM"}
# Self-time symbols by what they do; the first pattern that matches.
GROUPS = [
    ("copies", r"^(rep_movs_alternative|_copy_to_iter|_copy_from_iter|"
               r"copy_page_to_iter|__skb_datagram_iter|memcpy\w*)$"),
    ("crc32c", r"crc32c"),
    ("page clearing", r"^(clear_page\w*|memset\w*)$"),
    ("faults, mm", r"fault|handle_mm|mkwrite|find_vma|filemap_get_entry|"
                   r"xas_load|xa_load|folio_get|mt_find|lruvec|memcg|"
                   r"inode_to_bdi|irqentry_exit|__check_object_size|"
                   r"__virt_addr_valid|__rcu_read"),
    ("TCP/IP, veth", r"tcp|^ip_|^__ip|veth|dev_|net_|skb|^sk_|sock|inet|"
                     r"netif|napi|gro|softirq|^nf_|eth_|neigh|dst_|qdisc|"
                     r"csum"),
    ("scheduler, locks", r"schedule|finish_task_switch|futex|wake|sched_|"
                         r"enqueue|dequeue|pick_next|update_curr|ttwu|"
                         r"_raw_spin"),
    ("allocation", r"alloc|free_unref|rmqueue|page_frag|kmem_cache"),
]
SYSCALLS = {0: "read", 1: "write", 7: "poll", 16: "ioctl", 19: "readv",
            20: "writev", 44: "sendto", 45: "recvfrom", 46: "sendmsg",
            47: "recvmsg", 202: "futex", 228: "clock_gettime",
            275: "splice", 278: "vmsplice"}
MOVERS = {0, 1, 19, 20, 44, 45, 46, 47, 275, 278}


def threads(path):
    """tid -> role, from a *-threads.txt."""
    roles = {}
    for line in open(path):
        w = line.split()
        for tid in w[1:]:
            roles[tid] = ROLES.get(w[0], w[0])
    return roles


def group(sym):
    for name, pat in GROUPS:
        if re.search(pat, sym):
            return name
    return "other"


def shares(d):
    roles = threads(f"{d}/perf-threads.txt")
    total, kern = collections.Counter(), collections.Counter()
    line_re = re.compile(r"\s*([\d.]+)%\s+(\d+):(\S+)\s+(.*\S)")
    for line in open(f"{d}/perf-tid-dso.txt"):
        m = line_re.match(line)
        if not m:
            continue
        pct, tid, comm = float(m.group(1)), m.group(2), m.group(3)
        role = roles.get(tid) or ("idle" if tid == "0" else "other")
        if role in ROLES.values():
            role = f"{role} {tid}"
        total[role] += pct
        if "kernel" in m.group(4):
            kern[role] += pct
    print("Share of all samples (thread, of it kernel):")
    for role, pct in total.most_common():
        if pct >= 0.1:
            print(f"  {role:28} {pct:5.1f}%  {kern[role]:5.1f}%")


def symbols(d):
    roles = threads(f"{d}/perf-threads.txt")
    by = collections.defaultdict(collections.Counter)
    syms = collections.defaultdict(collections.Counter)
    line_re = re.compile(r"\s*([\d.]+)%\s+(\d+):\S+\s+\S+\s+\[(.)\]\s+(\S+)")
    for line in open(f"{d}/perf-tid-sym.txt"):
        m = line_re.match(line)
        if not m or m.group(2) not in roles:
            continue
        role, pct, sym = roles[m.group(2)], float(m.group(1)), m.group(4)
        by[role][group(sym)] += pct
        syms[role][f"{sym} [{m.group(3)}]"] += pct
    print("Self time by kind, % of all samples (symbols of 0.05% and more):")
    for role in by:
        print(f"  {role}: " + ", ".join(f"{k} {v:.1f}"
                                       for k, v in by[role].most_common()))
        print("    top: " + ", ".join(f"{k} {v:.1f}"
                                      for k, v in syms[role].most_common(10)))


def syscalls(d):
    roles = threads(f"{d}/sys-threads.txt")
    calls, moved = collections.Counter(), collections.Counter()
    per = collections.Counter()
    line_re = re.compile(r"\s*\S+\s+(\d+)\s+raw_syscalls:sys_exit:\s+"
                         r"NR (\d+) = (-?\d+)")
    for line in open(f"{d}/sys.txt"):
        m = line_re.match(line)
        if not m or m.group(1) not in roles:
            continue
        role, nr, ret = roles[m.group(1)], int(m.group(2)), int(m.group(3))
        key = (role, SYSCALLS.get(nr, f"nr {nr}"))
        calls[key] += 1
        per[role] += 1
        if nr in MOVERS and ret > 0:
            moved[key] += ret
    print("System calls during the migration:")
    for role, n in per.most_common():
        print(f"  {role}: {n}")
        for (r, name), k in calls.most_common():
            if r == role and k >= 0.02 * n:
                avg = f", {moved[(r, name)] // k} bytes each" \
                    if moved[(r, name)] else ""
                print(f"    {name} {k}{avg}")


def cpu(d):
    times = {}
    names = sorted(int(p[4:-4]) for p in os.listdir(d)
                   if re.match(r"cpu-\d+\.cpu$", p))
    if len(names) < 2:
        return
    for i in (names[0], names[-1]):
        for line in open(f"{d}/cpu-{i}.cpu"):
            w = line.split()
            if w[0] == "cpu":
                times[i] = list(map(int, w[1:9]))
    delta = [b - a for a, b in zip(times[names[0]], times[names[-1]])]
    tot = sum(delta) or 1
    print("/proc/stat over the first migration: " + ", ".join(
        f"{n} {100 * v / tot:.0f}%" for n, v in zip(
            ("user", "nice", "system", "idle", "iowait", "irq", "softirq",
             "steal"), delta) if v))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    d = sys.argv[1]
    for part in (shares, symbols, syscalls, cpu):
        try:
            part(d)
        except OSError as e:
            print(f"{part.__name__}: {e}")


if __name__ == "__main__":
    main()
