#!/usr/bin/env python3
"""Load, fault and hostile-client driver for gitgated (stdlib only).

  send     signed generic deliveries over keep-alive connections; one result
           line per attempt: "DELIVERY STATUS TARGET AFTER DEPID LATENCY_US"
  probe    valid deliveries one after another for a while; latency figures
  hostile  trickling connections, oversized heads and bodies, broken chunked
           framing, pipelined garbage, until told to stop
  verify   check a run's results against the store and the deployments log
  sample   VmRSS (KiB) and open fds of a process, one line

Deliveries of run PREFIX number I go to repository acme/appK (K = I mod
TARGETS) with a commit id derived from (PREFIX, I), so that the target tK of
the daemon's config receives them and the verifier can recompute them.
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import random
import socket
import sqlite3
import sys
import time

ZERO = "0" * 40


def commit_of(prefix, i):
    return hashlib.sha1(("%s-%d" % (prefix, i)).encode()).hexdigest()


def delivery_body(prefix, i, targets):
    k = i % targets
    return k, json.dumps({
        "ref": "refs/heads/main", "before": ZERO, "after": commit_of(prefix, i),
        "repository": {"full_name": "acme/app%d" % k, "clone_url": "file:///nonexistent"},
        "pusher": {"name": "load"}, "commits": [],
    }, separators=(",", ":")).encode()


def request_bytes(host, path, secret, delivery, body):
    sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return (("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
             "X-Gitgate-Delivery: %s\r\nX-Gitgate-Signature: sha256=%s\r\n"
             "Content-Length: %d\r\n\r\n") % (path, host, delivery, sig, len(body))).encode() + body


class Conn:
    """One keep-alive HTTP/1.1 connection that reads exactly one answer per request."""

    def __init__(self, host, port, timeout=30.0):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def roundtrip(self, data):
        """(status, body) or raises OSError / ConnectionError."""
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(data)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the answer")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        clen = 0
        close = False
        for ln in lines[1:]:
            name, _, value = ln.partition(b":")
            n = name.strip().lower()
            if n == b"content-length":
                clen = int(value.strip())
            elif n == b"connection" and value.strip().lower() == b"close":
                close = True
        while len(rest) < clen:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside the answer")
            rest += chunk
        body, self.buf = rest[:clen], rest[clen:]
        if close:
            self.close()
        return status, body


def send_worker(args, w, counter, out_path):
    secret = open(args.secret_file, "rb").read().rstrip()
    host, port = args.host, args.port
    c = Conn(host, port)
    rng = random.Random(w)
    with open(out_path, "a", buffering=1) as out:
        for i in range(args.start + w, args.start + args.count, args.conns):
            if args.stop_file and os.path.exists(args.stop_file):
                break
            k, body = delivery_body(args.prefix, i, args.targets)
            delivery = "%s-%d" % (args.prefix, i)
            req = request_bytes(host, args.path, secret, delivery, body)
            attempts = 0
            while True:
                attempts += 1
                t0 = time.perf_counter()
                try:
                    status, resp = c.roundtrip(req)
                except (OSError, ValueError, IndexError) as e:
                    c.close()
                    out.write("%s 0 t%d %s - 0 %s\n" % (delivery, k, commit_of(args.prefix, i),
                                                        e.__class__.__name__))
                    if attempts > args.retries:
                        break
                    time.sleep(0.02 + rng.random() * 0.05)
                    continue
                us = int((time.perf_counter() - t0) * 1e6)
                depid = "-"
                if status == 202:
                    try:
                        d = json.loads(resp)
                        depid = ",".join(str(x["id"]) for x in d["deployments"])
                    except ValueError:
                        depid = "?"
                out.write("%s %d t%d %s %s %d\n" % (delivery, status, k, commit_of(args.prefix, i),
                                                    depid, us))
                # A 503 (store unavailable) is answered and retried like a sender would.
                if status == 503 and attempts <= args.retries:
                    time.sleep(0.02)
                    continue
                break
            with counter.get_lock():
                counter.value += 1


def sample(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                rss = int(ln.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, fds


def wal_kib(path):
    """The WAL's size in KiB; -1 when there is no such file (0 when not asked)."""
    if not path:
        return 0
    try:
        return os.stat(path).st_size // 1024
    except OSError:
        return -1


def cmd_send(args):
    counter = mp.Value("l", 0)
    open(args.out, "w").close()
    parts = ["%s.%d" % (args.out, w) for w in range(args.conns)]
    procs = [mp.Process(target=send_worker, args=(args, w, counter, parts[w]))
             for w in range(args.conns)]
    t0 = time.time()
    for p in procs:
        p.start()
    samples = []
    next_mark = args.sample_every
    while any(p.is_alive() for p in procs):
        time.sleep(0.05)
        if args.pid and counter.value >= next_mark:
            try:
                rss, fds = sample(args.pid)
                samples.append((counter.value, rss, fds, wal_kib(args.wal)))
            except OSError:
                pass
            next_mark += args.sample_every
    for p in procs:
        p.join()
    el = time.time() - t0
    with open(args.out, "w") as out:
        for part in parts:
            with open(part) as f:
                out.write(f.read())
            os.unlink(part)
    if args.pid:
        try:
            samples.append((counter.value, *sample(args.pid), wal_kib(args.wal)))
        except OSError:
            pass
    stats = {}
    for ln in open(args.out):
        st = ln.split()[1]
        stats[st] = stats.get(st, 0) + 1
    print("sent %d deliveries in %.1f s: %.0f/s; answers %s" % (
        counter.value, el, counter.value / el if el else 0,
        " ".join("%s=%d" % kv for kv in sorted(stats.items()))))
    for n, rss, fds, wal in samples:
        print("sample after %d: VmRSS %d KiB, fds %d, WAL %d KiB" % (n, rss, fds, wal))
    if args.samples_out:
        with open(args.samples_out, "w") as f:
            for n, rss, fds, wal in samples:
                f.write("%d %d %d %d\n" % (n, rss, fds, wal))
    return 0


def percentile(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100.0))]


def cmd_probe(args):
    secret = open(args.secret_file, "rb").read().rstrip()
    c = Conn(args.host, args.port, timeout=10)
    lat, bad = [], []
    i = 0
    end = time.time() + args.seconds
    while time.time() < end and (args.count == 0 or i < args.count):
        k, body = delivery_body(args.prefix, i, args.targets)
        req = request_bytes(args.host, args.path, secret, "%s-%d" % (args.prefix, i), body)
        t0 = time.perf_counter()
        try:
            status, _ = c.roundtrip(req)
        except (OSError, ValueError, IndexError) as e:
            status = "error:%s" % e.__class__.__name__
            c.close()
        ms = (time.perf_counter() - t0) * 1000
        if status == 202:
            lat.append(ms)
        else:
            bad.append(str(status))
        i += 1
        if args.interval:
            time.sleep(args.interval)
    print("probe: %d valid deliveries, %d answered 202, others: %s" % (
        i, len(lat), ",".join(sorted(set(bad))) or "none"))
    print("probe latency ms: p50 %.2f p99 %.2f max %.2f" % (
        percentile(lat, 50), percentile(lat, 99), max(lat) if lat else 0))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"sent": i, "ok": len(lat), "bad": bad, "p50": percentile(lat, 50),
                       "p99": percentile(lat, 99), "max": max(lat) if lat else 0}, f)
    return 0 if not bad and lat else 1


async def hostile_main(args):
    stop_at = time.time() + args.seconds
    counts = {"trickle": 0, "oversized_head": 0, "oversized_body": 0, "bad_chunked": 0,
              "pipelined_garbage": 0, "random": 0}
    answered = {}

    async def open_conn():
        return await asyncio.open_connection(args.host, args.port)

    async def trickler(n):
        """A connection sending a request one byte at a time, forever slow."""
        req = (b"POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 4000 + b"\r\n\r\n")
        while time.time() < stop_at:
            try:
                r, w = await open_conn()
            except OSError:
                await asyncio.sleep(0.1)
                continue
            counts["trickle"] += 1
            try:
                for b in req:
                    if time.time() >= stop_at:
                        break
                    w.write(bytes([b]))
                    await w.drain()
                    await asyncio.sleep(args.trickle_delay)
            except (OSError, ConnectionError):
                pass
            w.close()

    def note(kind, data):
        st = data.split(b"\r\n", 1)[0][:12].decode("latin-1") if data else "closed"
        key = "%s %s" % (kind, st)
        answered[key] = answered.get(key, 0) + 1

    async def one_shot(kind, payload):
        try:
            r, w = await open_conn()
        except OSError:
            return
        counts[kind] += 1
        data = b""
        try:
            w.write(payload)
            await w.drain()
            if w.can_write_eof():
                w.write_eof()
            data = await asyncio.wait_for(r.read(4096), 10)
        except (OSError, ConnectionError, asyncio.TimeoutError):
            pass
        note(kind, data)
        w.close()

    rng = random.Random(42)

    async def abuser():
        shapes = [
            ("oversized_head", lambda: b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"),
            ("oversized_body", lambda: b"POST /hooks/git HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n" + b"x" * 1000),
            ("oversized_body", lambda: b"POST /hooks/git HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n" + b"x" * 1000),
            ("bad_chunked", lambda: b"POST /hooks/git HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
            ("bad_chunked", lambda: b"POST /hooks/git HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcde\r\n0\r\n\r\n"),
            ("bad_chunked", lambda: b"POST /hooks/git HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
            ("pipelined_garbage", lambda: b"GET /healthz HTTP/1.1\r\n\r\n" * 5 + os.urandom(300) + b"\r\n\r\n"),
            ("pipelined_garbage", lambda: (b"POST /hooks/git HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}") * 20 + b"GARBAGE\r\n\r\n"),
            ("random", lambda: os.urandom(rng.randint(1, 2000))),
        ]
        while time.time() < stop_at:
            kind, f = rng.choice(shapes)
            await one_shot(kind, f())
            await asyncio.sleep(args.abuse_delay)

    tasks = [asyncio.create_task(trickler(n)) for n in range(args.tricklers)]
    tasks += [asyncio.create_task(abuser()) for _ in range(args.abusers)]
    await asyncio.gather(*tasks)
    print("hostile: " + " ".join("%s=%d" % kv for kv in sorted(counts.items())))
    for k, v in sorted(answered.items()):
        print("hostile answer: %s x%d" % (k, v))
    return 0


def cmd_hostile(args):
    return asyncio.run(hostile_main(args))


def cmd_verify(args):
    """Exit 1 with one line per broken promise."""
    problems = []
    accepted = {}  # delivery -> (target, after, depids)
    answered_other = {}
    for path in args.results:
        for ln in open(path):
            f = ln.split()
            if len(f) < 5:
                continue
            d, st, tgt, after, dep = f[:5]
            if st == "202":
                accepted[d] = (tgt, after, [int(x) for x in dep.split(",") if x.isdigit()])
            else:
                answered_other.setdefault(d, set()).add(st)
    db = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True)
    ic = db.execute("PRAGMA integrity_check").fetchall()
    if ic != [("ok",)]:
        problems.append("integrity_check: %r" % ic[:5])
    stored = set(r[0] for r in db.execute("SELECT id FROM deliveries WHERE source=?", (args.source,)))
    deps = {}
    for row in db.execute("SELECT id, target, after, state, delivery FROM deployments"):
        deps[row[0]] = row[1:]
    lost = [d for d in accepted if d not in stored]
    if lost:
        problems.append("%d accepted deliveries not stored, e.g. %s" % (len(lost), lost[:3]))
    bad_dep = 0
    for d, (tgt, after, ids) in accepted.items():
        if not ids:
            bad_dep += 1
        for i in ids:
            row = deps.get(i)
            if row is None or row[0] != tgt or row[1] != after or row[3] != d:
                bad_dep += 1
    if bad_dep:
        problems.append("%d accepted deliveries whose deployments are missing or wrong" % bad_dep)
    # A stored delivery with a matching target always has its deployment (nothing half-written).
    by_delivery = {}
    for i, (tgt, after, state, d) in deps.items():
        by_delivery.setdefault(d, []).append(i)
    half = [d for d in stored if d not in by_delivery]
    if half:
        problems.append("%d stored deliveries without a deployment, e.g. %s" % (len(half), half[:3]))
    unfinished = [(i, r[2]) for i, r in deps.items() if r[2] in ("running",)
                  or (args.settled and r[2] == "queued")]
    if unfinished:
        problems.append("%d deployments left unfinished: %s" % (len(unfinished), unfinished[:5]))
    # Per target: the newest accepted (highest id) is what was deployed last.
    newest = {}
    for i, (tgt, after, state, d) in deps.items():
        if tgt not in newest or i > newest[tgt][0]:
            newest[tgt] = (i, after, state)
    last = {}
    if args.record:
        for ln in open(args.record):
            f = ln.split()
            if len(f) >= 2:
                last[f[0]] = f[1]
    for tgt, (i, after, state) in sorted(newest.items()):
        if args.settled and state != "succeeded":
            problems.append("%s: newest deployment %d is %s, not succeeded" % (tgt, i, state))
        if args.record and last.get(tgt) != after:
            problems.append("%s: last deployed %s, newest accepted %s (deployment %d)" % (
                tgt, last.get(tgt), after, i))
    states = {}
    for r in deps.values():
        states[r[2]] = states.get(r[2], 0) + 1
    lost_after_answer = [d for d in answered_other if "202" not in answered_other[d]
                         and d not in accepted and d in stored]
    print("verify: %d accepted (202), %d stored deliveries, %d deployments %s, %d targets; "
          "stored although the answer was lost or not 202: %d" % (
              len(accepted), len(stored), len(deps),
              " ".join("%s=%d" % kv for kv in sorted(states.items())), len(newest),
              len(lost_after_answer)))
    print("verify: accepted deliveries lost: %d" % len(lost))
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


def cmd_sample(args):
    rss, fds = sample(args.pid)
    print("%d %d" % (rss, fds))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--path", default="/hooks/git")
        p.add_argument("--secret-file", required=True)
        p.add_argument("--prefix", default="d")
        p.add_argument("--targets", type=int, default=4)

    p = sub.add_parser("send")
    common(p)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--retries", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--sample-every", type=int, default=10000)
    p.add_argument("--samples-out")
    p.add_argument("--wal", default="", help="the store's WAL file, sampled with the process")
    p.add_argument("--stop-file", help="stop sending once this file exists")
    p.set_defaults(fn=cmd_send)

    p = sub.add_parser("probe")
    common(p)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--interval", type=float, default=0.0)
    p.add_argument("--json-out")
    p.set_defaults(fn=cmd_probe)

    p = sub.add_parser("hostile")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--tricklers", type=int, default=500)
    p.add_argument("--trickle-delay", type=float, default=0.2)
    p.add_argument("--abusers", type=int, default=4)
    p.add_argument("--abuse-delay", type=float, default=0.01)
    p.set_defaults(fn=cmd_hostile)

    p = sub.add_parser("verify")
    p.add_argument("--db", required=True)
    p.add_argument("--source", default="git")
    p.add_argument("--record")
    p.add_argument("--settled", action="store_true")
    p.add_argument("results", nargs="+")
    p.set_defaults(fn=cmd_verify)

    p = sub.add_parser("sample")
    p.add_argument("--pid", type=int, required=True)
    p.set_defaults(fn=cmd_sample)

    args = ap.parse_args()
    sys.exit(args.fn(args))


if __name__ == "__main__":
    main()
