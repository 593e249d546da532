#!/usr/bin/env python3
"""Loaders and probes for the memory benchmarks (benches/memory.sh, benches/hitrate.sh,
benches/expiry.sh). Speaks RESP over TCP to any Redis-compatible server on 127.0.0.1; no
dependencies beyond Python 3.

  resp.py load PORT N [TTL_MS]      SET key:NNNNNNNNNNNN xxx [PX TTL_MS] for N keys, pipelined
  resp.py info PORT FIELD           one INFO field
  resp.py expiry PORT RATE TTL_MS SECONDS
                                    SET keys with a TTL at RATE keys/s for SECONDS, sampling
                                    DBSIZE every 100 ms: prints the fraction of keys still in
                                    memory whose TTL had passed
"""
import socket
import sys
import time


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        line = self.f.readline()
        t = line[:1]
        if t in b"+-:":
            if t == b"-":
                raise RuntimeError(line.decode().strip())
            return line[1:-2]
        if t == b"$":
            n = int(line[1:-2])
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            return [self.reply() for _ in range(int(line[1:-2]))]
        if t == b"=":  # RESP3 verbatim, not used here
            n = int(line[1:-2])
            return self.f.read(n + 2)[4:-2]
        raise RuntimeError(f"unexpected reply {line!r}")

    def oks(self, n):
        """Reads `n` +OK replies (pipelined SETs) in one go."""
        data = self.f.read(5 * n)
        if data != b"+OK\r\n" * n:
            raise RuntimeError(f"unexpected replies {data[:100]!r}")

    def call(self, *args):
        self.send(cmd(*args))
        return self.reply()


def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def set_cmd(i, ttl_ms):
    """SET key:NNNNNNNNNNNN xxx [PX ttl_ms] in RESP."""
    if ttl_ms:
        t = str(ttl_ms).encode()
        return b"*5\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n$2\r\nPX\r\n$%d\r\n%s\r\n" % (
            i, len(t), t)
    return b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n" % i


def load(port, n, ttl_ms=0, start=0, batch=10_000):
    c = Conn(port)
    i = start
    while i < start + n:
        k = min(batch, start + n - i)
        c.send(b"".join(set_cmd(j, ttl_ms) for j in range(i, i + k)))
        c.oks(k)
        i += k


def info(port, field):
    text = Conn(port).call("INFO", "everything").decode()
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


def expiry(port, rate, ttl_ms, seconds):
    c = Conn(port)
    probe = Conn(port)
    batch = max(1, rate // 100)  # one batch every 10 ms
    # Every command is the same length (12-digit keys): build them all before the clock runs.
    total = int(rate * seconds) + batch
    size = len(set_cmd(0, ttl_ms))
    data = b"".join(set_cmd(j, ttl_ms) for j in range(total))
    sent = []  # (time, count) of each batch
    i = 0
    start = time.monotonic()
    next_batch = start
    next_probe = start + ttl_ms / 1000 + 0.5  # after the first keys expired
    samples = []
    while time.monotonic() - start < seconds and i + batch <= total:
        now = time.monotonic()
        if now >= next_batch:
            c.send(data[i * size:(i + batch) * size])
            c.oks(batch)
            sent.append((now, batch))
            i += batch
            next_batch += 0.01
        if now >= next_probe:
            t = time.monotonic()
            dbsize = int(probe.call("DBSIZE"))
            live = sum(n for (ts, n) in sent if ts > t - ttl_ms / 1000)
            samples.append((dbsize - live, live))
            next_probe += 0.1
            sent = [(ts, n) for (ts, n) in sent if ts > t - 2 * ttl_ms / 1000]
        time.sleep(max(0.0, min(next_batch, next_probe) - time.monotonic()))
    elapsed = time.monotonic() - start
    linger = [max(0, e) for e, _ in samples]
    lives = [l for _, l in samples]
    avg_linger = sum(linger) / len(linger)
    avg_live = sum(lives) / len(lives)
    print(f"keys/s sent: {i / elapsed:.0f}")
    print(f"samples: {len(samples)}")
    print(f"avg live keys: {avg_live:.0f}")
    print(f"avg expired keys still in memory: {avg_linger:.0f} "
          f"({100 * avg_linger / avg_live:.2f}% of live)")
    print(f"max expired keys still in memory: {max(linger)} "
          f"({100 * max(linger) / avg_live:.2f}% of live)")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "load":
        load(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif what == "info":
        print(info(int(sys.argv[2]), sys.argv[3]))
    elif what == "expiry":
        expiry(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)
