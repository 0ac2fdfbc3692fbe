# SPDX-License-Identifier: GPL-2.0
"""A small QMP client: commands in order, events kept with their time."""
import json
import socket
import time


class QMPError(Exception):
    pass


class QMP:
    """One QMP connection on a unix socket, capabilities negotiated."""

    def __init__(self, path, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise QMPError(f"no QMP socket at {path}")
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events = []    # (event name, QEMU's timestamp in s, dict)
        self._read()        # the greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise QMPError("QEMU closed its QMP socket")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        msg = json.loads(line)
        if "event" in msg:
            ts = msg["timestamp"]
            self.events.append((msg["event"],
                                ts["seconds"] + ts["microseconds"] / 1e6,
                                msg.get("data", {})))
        return msg

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._read()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise QMPError(f"{name}: {msg['error'].get('desc')}")

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})

    def read_u64(self, gpa):
        """A 64-bit word of guest physical memory."""
        out = self.hmp(f"xp /1gx {gpa:#x}")
        return int(out.split(":")[1].split()[0], 16)

    def read_u32(self, gpa):
        out = self.hmp(f"xp /1wx {gpa:#x}")
        return int(out.split(":")[1].split()[0], 16)

    def read_u32s(self, gpa, count):
        """@count 32-bit words of guest physical memory from @gpa."""
        words = []
        for line in self.hmp(f"xp /{count}wx {gpa:#x}").splitlines():
            if ":" in line:
                words += [int(w, 16) for w in line.split(":")[1].split()]
        if len(words) != count:
            raise QMPError(f"xp gave {len(words)} words, not {count}")
        return words

    def wait_event(self, name, timeout, match=None):
        """The first event @name (kept or still to come) whose data
        @match (a function of it) takes."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev[0] == name and (not match or match(ev[2])):
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise QMPError(f"no {name} event in {timeout} s")
            self.sock.settimeout(left)
            try:
                self._read()
            except socket.timeout:
                pass

    def close(self):
        self.sock.close()
