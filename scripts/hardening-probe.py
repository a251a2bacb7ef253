#!/usr/bin/env python3
"""Hardening probe: runs a fixed set of attacks against one telemetryhub binary and prints one line per probe.

The same script gives a "before" figure (an old binary) and an "after" figure (a new one):

    scripts/hardening-probe.py --bin /tmp/old/telemetryhub --json before.json
    scripts/hardening-probe.py --bin .build/debug/telemetryhub --json after.json
    scripts/hardening-probe.py --compare before.json after.json      # the before/after table

    --only overflow,rooms      run only these probes (names below)
    --keep                     keep the temporary data directories (printed on stderr)

Probes: overflow fragments rooms halfopen subscribe quota mqtt diskfull small wal.

Every probe starts its own hub (`serve --host 127.0.0.1 --port P --data-dir D`, auth on with TELEMETRYHUB_SECRET set
to a 64-character secret unless the probe says otherwise) on a free port and a fresh temporary data directory, waits
for /healthz, runs, and stops the hub (SIGTERM, SIGKILL after 15 s). Hub RSS comes from /proc/PID/status (VmRSS),
hub CPU seconds from /proc/PID/stat (utime + stime). Every socket has a timeout and every probe a deadline, after
which its hubs are killed (which unblocks whatever waits on them) and the probe reports what it had.

Python 3 standard library only; everything on 127.0.0.1. `diskfull` needs root (it mounts a 4 MiB tmpfs) and
`mqtt` needs `mosquitto` on PATH; each is skipped, saying why, otherwise.
"""

import argparse
import base64
import collections
import http.client
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import hmac
import hashlib

SECRET = "5f1c0ad4b2e3977a6c0d9e8f1b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"  # 64 characters
assert len(SECRET) == 64
CLK_TCK = os.sysconf("SC_CLK_TCK")
FLUSH20 = {"storage": {"flush_interval_ms": 20}}


def now_ms():
    return int(time.time() * 1000)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trunc(text, n=160):
    text = text if isinstance(text, str) else repr(text)
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 3] + "..."


class ProbeAbort(Exception):
    pass


# ----------------------------------------------------------------------------------------------------------- hub


class Hub:
    """One hub process on a free port and a data directory."""

    def __init__(self, ctx, name, config=None, auth=True, env_secret=SECRET, extra_args=(), data_dir=None):
        self.ctx = ctx
        self.bin = ctx.bin
        self.name = name
        self.work = ctx.mkdtemp(name)
        self.data_dir = data_dir or os.path.join(self.work, "data")
        self.config = config
        self.auth = auth
        self.env_secret = env_secret
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.proc = None
        self.logf = None
        self.starts = 0
        self.last_stop = None

    # environment for serve and token create
    def env(self):
        env = dict(os.environ)
        env.pop("TELEMETRYHUB_SECRET", None)
        env.pop("TELEMETRYHUB_TOKEN", None)
        if self.env_secret is not None:
            env["TELEMETRYHUB_SECRET"] = self.env_secret
        return env

    def set_config(self, config):
        self.config = config

    def _config_args(self):
        if self.config is None:
            return []
        path = os.path.join(self.work, f"config-{self.starts}.json")
        with open(path, "w") as f:
            json.dump(self.config, f)
        return ["--config", path]

    def launch(self):
        """Starts the process without waiting for it to listen."""
        args = [self.bin, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", self.data_dir,
                "--log-level", "warning"]
        args += self._config_args()
        if not self.auth:
            args.append("--no-auth")
        args += self.extra_args
        self.logf = open(os.path.join(self.work, f"hub-{self.starts}.log"), "wb")
        self.starts += 1
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.env(), preexec_fn=lambda: os.umask(0o022))
        self.ctx.hubs.append(self)
        return self.proc

    def start(self, timeout=90):
        self.launch()
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise ProbeAbort(f"hub exited with {self.proc.returncode} at start: {self.log_tail()}")
            st, _ = http_req(self.port, "GET", "/healthz", timeout=2)
            if st == 200:
                return time.time() - t0
            time.sleep(0.1)
        raise ProbeAbort(f"hub not healthy after {timeout}s: {self.log_tail()}")

    def restart(self, config=None, timeout=90):
        if config is not None:
            self.config = config
        if self.alive():
            self.stop()
        return self.start(timeout)

    def log_tail(self, n=400):
        try:
            with open(self.logf.name, "rb") as f:
                data = f.read()
            return trunc(data[-n:].decode("utf-8", "replace"), n)
        except Exception:
            return "?"

    def log_reason(self):
        """The line of the log that says why the hub stopped (a Swift fatal error, an `Error:`), else its tail."""
        try:
            with open(self.logf.name, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except Exception:
            return "?"
        markers = ("Swift runtime failure", "Fatal error", "Assertion failed", "Precondition failed", "Program crashed",
                   "Error:")
        for marker in markers:
            for line in lines:
                if marker in line:
                    return trunc(line.strip(), 200)
        return self.log_tail(160)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def rss_mb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return round(int(line.split()[1]) / 1024, 1)
        except Exception:
            pass
        return None

    def cpu_s(self):
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                data = f.read()
            fields = data[data.rindex(")") + 2:].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        except Exception:
            return None

    def stop(self, grace=15):
        """SIGTERM, SIGKILL after `grace` s. Returns a short description."""
        if self.proc is None:
            return "not started"
        if self.proc.poll() is not None:
            self.last_stop = f"already exited ({self.proc.returncode})"
            return self.last_stop
        t0 = time.time()
        try:
            self.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = self.proc.wait(timeout=grace)
            self.last_stop = f"exit {rc} {time.time() - t0:.1f}s after SIGTERM"
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.last_stop = f"SIGKILL (no exit {grace}s after SIGTERM)"
        if self.logf:
            self.logf.close()
        return self.last_stop

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def token(self, role, device=None, subject=None, ttl=None, check=True):
        args = [self.bin, "token", "create", "--role", role, "--data-dir", self.data_dir]
        if device:
            args += ["--device", device]
        if subject:
            args += ["--subject", subject]
        if ttl:
            args += ["--ttl", ttl]
        r = subprocess.run(args, env=self.env(), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            if check:
                raise ProbeAbort(f"token create failed: {r.stderr.decode(errors='replace')[:300]}")
            return None, r.returncode, r.stderr.decode(errors="replace").strip().splitlines()[:1]
        tok = r.stdout.decode().strip()
        return tok if check else (tok, 0, None)


def sign_jwt(claims, secret=SECRET):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


# ---------------------------------------------------------------------------------------------------------- HTTP


def http_req(port, method, path, body=None, headers=None, token=None, timeout=10, conn=None, source=None):
    """Returns (status, body bytes); status is an int, or a string such as 'timeout' / 'connection failed'."""
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body, separators=(",", ":"))
        hdrs.setdefault("Content-Type", "application/json")
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                           source_address=(source, 0) if source else None)
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        return r.status, data
    except socket.timeout:
        return "timeout", None
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        return f"connection failed ({type(e).__name__})", None
    finally:
        if own:
            c.close()


def err_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except Exception:
        return None


def status_label(st, body):
    if isinstance(st, int) and st >= 300:
        code = err_code(body)
        return f"{st} {code}" if code else str(st)
    return str(st)


class Poster:
    """A keep-alive HTTP connection for many requests, reconnecting after failures."""

    def __init__(self, port, timeout=30):
        self.port, self.timeout, self.conn = port, timeout, None

    def post(self, path, body, token):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        st, data = http_req(self.port, "POST", path, body=body, token=token, conn=self.conn)
        if not isinstance(st, int):
            self.close()
        return st, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ----------------------------------------------------------------------------------------------------- WebSocket


def mask_bytes(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def ws_frame(opcode, payload, fin=True, mask=True, key=None):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key or os.urandom(4)
    return head + key + mask_bytes(payload, key)


class WSClosed(Exception):
    pass


class WS:
    """A minimal RFC 6455 client on a raw socket: masked frames out, unmasked frames in."""

    def __init__(self, port, path, token=None, timeout=10, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.send_lock = threading.Lock()
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        deadline = time.time() + timeout
        while b"\r\n\r\n" not in buf:
            if time.time() > deadline:
                raise OSError("no upgrade answer")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError(f"closed during upgrade: {buf[:100]!r}")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            self.sock.close()
            raise OSError(f"upgrade refused: {status.decode(errors='replace')}")
        self.buf = bytearray(rest)
        self.frag = None
        self.close_code = None
        self.auto_pong = True

    def send(self, data, opcode=1):
        frame = ws_frame(opcode, data)
        with self.send_lock:
            self.sock.sendall(frame)

    def send_json(self, obj):
        self.send(json.dumps(obj, separators=(",", ":")))

    def send_raw(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def _fill(self, need, deadline):
        while len(self.buf) < need:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(min(left, 5))
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                raise WSClosed("eof")
            self.buf += chunk

    def recv_frame(self, timeout=10):
        """Returns (opcode, payload) of a complete message; pings are answered; raises WSClosed on close/EOF."""
        deadline = time.time() + timeout
        while True:
            self._fill(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            n = b1 & 0x7F
            off = 2
            if n == 126:
                self._fill(4, deadline)
                n = struct.unpack("!H", self.buf[2:4])[0]
                off = 4
            elif n == 127:
                self._fill(10, deadline)
                n = struct.unpack("!Q", self.buf[2:10])[0]
                off = 10
            if b1 & 0x80:
                off += 4  # a masked server frame (not expected); payload read unmasked anyway
            self._fill(off + n, deadline)
            payload = bytes(self.buf[off:off + n])
            del self.buf[:off + n]
            fin, op = b0 & 0x80, b0 & 0x0F
            if op == 8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise WSClosed(f"close {self.close_code}")
            if op == 9:
                if not self.auto_pong:
                    continue
                try:
                    self.send(payload, opcode=10)
                except OSError:
                    pass
                continue
            if op == 10:
                continue
            if op == 0:
                if self.frag is None:
                    continue
                self.frag[1].extend(payload)
                if fin:
                    op, data = self.frag[0], bytes(self.frag[1])
                    self.frag = None
                    return op, data
                continue
            if not fin:
                self.frag = (op, bytearray(payload))
                continue
            return op, payload

    def recv_json(self, timeout=10):
        while True:
            op, data = self.recv_frame(timeout)
            if op == 1:
                try:
                    return json.loads(data)
                except ValueError:
                    return {"type": "?unparsable", "raw": data[:200].decode(errors="replace")}

    def wait_id(self, mid, timeout=10):
        deadline = time.time() + timeout
        while True:
            msg = self.recv_json(max(0.05, deadline - time.time()))
            if isinstance(msg, dict) and msg.get("id") == mid and msg.get("type") in ("ack", "error"):
                return msg

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def describe_ws_end(exc, ws=None):
    if isinstance(exc, WSClosed):
        return str(exc)
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------------- framework


class Ctx:
    def __init__(self, binary, keep):
        self.bin = os.path.abspath(binary)
        self.keep = keep
        self.root = tempfile.mkdtemp(prefix="hprobe-")
        self.hubs = []
        self.cleanups = []

    def mkdtemp(self, name):
        return tempfile.mkdtemp(prefix=f"{name}-", dir=self.root)

    def hub(self, name, **kw):
        return Hub(self, name, **kw)

    def kill_all(self):
        for h in self.hubs:
            h.kill()


class Watchdog:
    """Kills the probe's hubs (and runs its extra kills) at the deadline, so nothing waits forever."""

    def __init__(self, ctx, seconds):
        self.ctx, self.seconds, self.fired = ctx, seconds, False
        self.extra = []
        self.timer = threading.Timer(seconds, self.fire)
        self.timer.daemon = True
        self.deadline = time.time() + seconds

    def fire(self):
        self.fired = True
        log(f"deadline of {self.seconds}s reached: killing the probe's processes")
        self.ctx.kill_all()
        for f in self.extra:
            try:
                f()
            except Exception:
                pass

    def left(self):
        return self.deadline - time.time()


def fmt(v):
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def settle(hub, st, wait=20):
    """After a request that got no answer, give a crashing hub time to finish (a debug build's backtrace takes
    seconds) before calling it alive. Returns 'alive', or 'DEAD (rc, reason)'."""
    if not isinstance(st, int):
        end = time.time() + wait
        while time.time() < end and hub.alive():
            h, _ = http_req(hub.port, "GET", "/healthz", timeout=2)
            if h == 200:
                break
            time.sleep(0.5)
    else:
        time.sleep(0.3)
    if hub.alive():
        return "alive"
    return f"DEAD (rc {hub.proc.returncode}: {trunc(hub.log_reason(), 110)})"


def hub_figures(hub):
    return {"hub_rss_mb": hub.rss_mb(), "hub_cpu_s": round(hub.cpu_s() or 0, 2)} if hub.alive() else {}


# ------------------------------------------------------------------------------------------------ 1. overflow


def probe_overflow(ctx, wd):
    f = collections.OrderedDict()
    hub = ctx.hub("overflow", config=FLUSH20)
    hub.start()
    dev = hub.token("device", device="p-*", subject="p")
    viewer = hub.token("viewer", subject="v")
    ts = now_ms()
    st, body = http_req(hub.port, "POST", "/api/telemetry", body={"device": "p-1", "ts": ts, "metrics": {"temp": 21.5}},
                        token=dev)
    f["post_p1"] = status_label(st, body)

    def sample_present():
        st, body = http_req(hub.port, "GET", "/api/series/p-1/temp", token=viewer, timeout=15)
        if st != 200:
            return f"GET {status_label(st, body)}"
        try:
            pts = json.loads(body)["points"]
            return "present" if any(p[0] == ts for p in pts) else f"missing ({len(pts)} points)"
        except Exception:
            return "unreadable"

    queries = [("xy_from_min_step3", "/api/series/x/y?from=-9223372036854775807&step=3"),
               ("xy_9e18_step1000", "/api/series/x/y?from=-9e18&to=9e18&step=1000"),
               ("p1_from_min_step3", "/api/series/p-1/temp?from=-9223372036854775807&step=3"),
               ("p1_9e18_step1000", "/api/series/p-1/temp?from=-9e18&to=9e18&step=1000")]
    restarts = 0
    for key, path in queries:
        if not hub.alive():
            restarts += 1
            hub.restart()
            f[f"restart{restarts}_p1_sample"] = sample_present()
        cpu0 = hub.cpu_s()
        t0 = time.time()
        st, body = http_req(hub.port, "GET", path, token=viewer, timeout=15)
        dt = time.time() - t0
        state = settle(hub, st)
        cpu = (hub.cpu_s() - cpu0) if hub.alive() else None
        label = status_label(st, body) if isinstance(st, int) else st
        f[key] = f"{label} in {dt:.1f}s, hub {state}" + (f", cpu {cpu:.1f}s" if cpu is not None and cpu > 1 else "")
    if not hub.alive():
        restarts += 1
        hub.restart()
        f[f"restart{restarts}_p1_sample"] = sample_present()
    else:
        f["p1_sample"] = sample_present()
    f["restarts"] = restarts

    # A huge expiry: through `token create --ttl`, else with tokens signed here with the same secret.
    tok, rc, err = hub.token("viewer", ttl="1000000000000000s", check=False)
    if tok is None:
        f["token_create_ttl_1e15s"] = f"refused (rc {rc}: {trunc(' '.join(err or []), 80)}); skipped"
        huge = []
    else:
        f["token_create_ttl_1e15s"] = "issued"
        huge = [("ttl_1e15s_token", tok)]
    now_s = int(time.time())
    huge += [("selfsigned_exp_1e15s", sign_jwt({"sub": "huge", "role": "viewer", "iat": now_s, "exp": now_s + 10**15})),
             ("selfsigned_exp_1e17s", sign_jwt({"sub": "huge", "role": "viewer", "iat": now_s, "exp": 10**17}))]
    for key, tok in huge:
        if not hub.alive():
            hub.restart()
        st, body = http_req(hub.port, "GET", "/api/devices", token=tok, timeout=10)
        res = f"GET /api/devices {status_label(st, body)}"
        if hub.alive() and st == 200:
            try:
                ws = WS(hub.port, "/ws/dashboard", token=tok, timeout=10)
                ws.send_json({"type": "ping", "id": 1})
                try:
                    msg = ws.recv_json(5)
                    res += f"; dashboard ping -> {msg.get('type')}"
                    end = time.time() + 2.5
                    while time.time() < end:
                        ws.recv_json(max(0.05, end - time.time()))
                except socket.timeout:
                    res += "; dashboard open 2.5s"
                except (WSClosed, OSError) as e:
                    res += f"; dashboard {describe_ws_end(e)}"
                ws.close()
            except OSError as e:
                res += f"; dashboard: {e}"
        res += f"; hub {settle(hub, st)}"
        f[key] = res
    f.update(hub_figures(hub))
    f["stop"] = hub.stop()
    return f


# ----------------------------------------------------------------------------------------------- 2. fragments


def probe_fragments(ctx, wd):
    f = collections.OrderedDict()
    hub = ctx.hub("fragments")
    hub.start()
    dev = hub.token("device", device="frag-*", subject="frag")
    key = os.urandom(4)
    first = bytes([0x01, 0x81]) + key + bytes([ord("{") ^ key[0]])
    mid = bytes([0x00, 0x81]) + key + bytes([ord(" ") ^ key[0]])
    last = bytes([0x80, 0x81]) + key + bytes([ord("}") ^ key[0]])
    blob = first + mid * 999_998 + last  # 1,000,000 frames, a 1,000,000-byte message
    time.sleep(1)
    rss_before = hub.rss_mb()
    cpu_before = hub.cpu_s()
    peak = [rss_before or 0]
    stop_sampling = threading.Event()

    def sampler():
        while not stop_sampling.is_set():
            r = hub.rss_mb()
            if r:
                peak[0] = max(peak[0], r)
            stop_sampling.wait(0.2)

    results = [None] * 4

    def conn(i):
        r = {"sent_frames": 0}
        try:
            ws = WS(hub.port, "/ws/device", token=dev, timeout=10)
        except OSError as e:
            r["end"] = f"connect failed: {e}"
            results[i] = r
            return
        ws.auto_pong = False  # the sender writes raw bytes; a pong must not land inside a frame
        ended = threading.Event()
        reader_state = {"end": None, "replies": []}

        def reader():
            try:
                while not ended.is_set():
                    try:
                        msg = ws.recv_json(1)
                        reader_state["replies"].append(msg.get("code") or msg.get("type"))
                    except socket.timeout:
                        continue
            except Exception as e:  # close frame, EOF, reset
                reader_state["end"] = describe_ws_end(e)

        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        mv = memoryview(blob)
        off = 0
        t0 = time.time()
        send_end = None
        sock = ws.sock
        while off < len(blob):
            if time.time() - t0 > 60:
                send_end = "stalled (60s)"
                break
            if reader_state["end"]:
                send_end = "hub ended it"
                break
            try:
                sock.settimeout(1)
                n = sock.send(mv[off:off + 65536])
                off += n
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError) as e:
                send_end = type(e).__name__
                break
            except OSError as e:
                send_end = f"{type(e).__name__}"
                break
        r["send_s"] = round(time.time() - t0, 1)
        r["sent_frames"] = off // 7
        if send_end is None:
            send_end = "all sent"
        end_wait = time.time() + 5  # a close frame or the reset may still be on its way to the reader
        while time.time() < end_wait and not reader_state["end"]:
            time.sleep(0.1)
        if reader_state["end"]:
            rt.join(timeout=3)
        end = reader_state["end"]
        if end is None:
            end = "still open" if send_end in ("all sent", "stalled (60s)") else f"send failed: {send_end}"
        r["end"] = end
        r["send"] = send_end
        r["replies"] = reader_state["replies"][:3]
        ended.set()
        results[i] = (r, ws)

    sth = threading.Thread(target=sampler, daemon=True)
    sth.start()
    threads = [threading.Thread(target=conn, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1, min(90, wd.left() - 30)))
    stop_sampling.set()
    wss = []
    outs = []
    for i, res in enumerate(results):
        if res is None:
            outs.append("no result (thread hung)")
            continue
        if isinstance(res, tuple):
            r, ws = res
            wss.append(ws)
        else:
            r = res
        outs.append(f"{r['end']} (send: {r.get('send')}) after {r['sent_frames']} frames/{r.get('send_s', '?')}s"
                    + (f" replies {r['replies']}" if r.get("replies") else ""))
    for ws in wss:
        ws.close()
    f["rss_before_mb"] = rss_before
    f["rss_peak_mb"] = peak[0]
    time.sleep(5)
    f["rss_5s_after_mb"] = hub.rss_mb() if hub.alive() else "hub dead"
    f["cpu_s_during"] = round(hub.cpu_s() - cpu_before, 1) if hub.alive() else None
    for i, o in enumerate(outs):
        f[f"conn{i}"] = o
    f["hub_alive"] = hub.alive()
    f.update(hub_figures(hub))
    f["stop"] = hub.stop()
    return f


# -------------------------------------------------------------------------------------------------- 3. rooms


def probe_rooms(ctx, wd):
    f = collections.OrderedDict()
    hub = ctx.hub("rooms")
    hub.start()
    dev = hub.token("device", device="room-*", subject="rooms")
    msg = json.dumps({"type": "register", "id": 1, "device": "room-1", "kind": "probe",
                      "rooms": [f"r{i}" for i in range(100_000)]}, separators=(",", ":"))
    f["frame_bytes"] = len(msg)
    ws = WS(hub.port, "/ws/device", token=dev, timeout=10)
    cpu0 = hub.cpu_s()
    t0 = time.time()
    ws.send(msg)
    try:
        reply = ws.wait_id(1, timeout=120)
        dt = time.time() - t0
        f["reply"] = trunc(f"{reply.get('type')} {reply.get('code') or ''} {reply.get('message') or ''}".strip(), 120)
        f["reply_s"] = round(dt, 2)
    except socket.timeout:
        f["reply"] = "no reply within 120s"
    except (WSClosed, OSError) as e:
        f["reply"] = f"connection ended: {describe_ws_end(e)}"
        f["reply_s"] = round(time.time() - t0, 2)
    f["cpu_s"] = round(hub.cpu_s() - cpu0, 2) if hub.alive() else "hub dead"
    ws.close()
    if hub.alive():
        t1 = time.time()
        st, _ = http_req(hub.port, "GET", "/healthz", timeout=10)
        f["healthz_after"] = f"{st} in {(time.time() - t1) * 1000:.0f}ms"
    f["hub_alive"] = hub.alive()
    f.update(hub_figures(hub))
    f["stop"] = hub.stop()
    return f


# ----------------------------------------------------------------------------------------------- 4. halfopen


def classify(sock):
    sock.setblocking(False)  # with a timeout set, Python would poll for it despite MSG_DONTWAIT
    try:
        data = sock.recv(4096, socket.MSG_DONTWAIT)
        if data == b"":
            return "closed"
        while True:  # the hub answered something; is it still open after that?
            try:
                more = sock.recv(4096, socket.MSG_DONTWAIT)
                if more == b"":
                    return "closed"
            except BlockingIOError:
                return "open(answered)"
    except BlockingIOError:
        return "open"
    except ConnectionResetError:
        return "reset"
    except OSError:
        return "error"


def timed_healthz(port, timeout=10, source=None):
    t0 = time.time()
    st, _ = http_req(port, "GET", "/healthz", timeout=timeout, source=source)
    return f"{st} in {(time.time() - t0) * 1000:.0f}ms"


def probe_halfopen(ctx, wd):
    f = collections.OrderedDict()
    hub = ctx.hub("halfopen")
    hub.start()
    socks = []
    connect_fail = collections.Counter()
    t0 = time.time()
    for i in range(300):
        try:
            s = socket.create_connection(("127.0.0.1", hub.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError as e:
            connect_fail[type(e).__name__] += 1
    f["connected"] = len(socks)
    if connect_fail:
        f["connect_failed"] = dict(connect_fail)
    time.sleep(1)
    f["at_1s"] = dict(collections.Counter(classify(s) for s in socks))
    f["healthz_at_1s"] = timed_healthz(hub.port)
    f["healthz_at_1s_from_127.0.0.2"] = timed_healthz(hub.port, source="127.0.0.2")
    time.sleep(max(0, 15 - (time.time() - t0)))
    states = collections.Counter(classify(s) for s in socks)
    f["at_15s"] = dict(states)
    f["open_at_15s"] = states.get("open", 0) + states.get("open(answered)", 0)
    f["healthz_at_15s"] = timed_healthz(hub.port)
    for s in socks:
        s.close()
    f.update(hub_figures(hub))
    f["stop"] = hub.stop()
    return f


# ---------------------------------------------------------------------------------------------- 5. subscribe


def make_selectors():
    sel = [f"dev-{d}*/m*" for d in range(10)] + [f"dev-*{d}/m*" for d in range(10)]
    sel += [f"*/m{d}" for d in range(10)] + [f"*-{d}*/m*" for d in range(10)]
    sel += [f"dev-{a}{b}*/m*" for a in range(9) for b in range(10)][:24]
    assert len(set(sel)) == 64
    return sel


def create_series(hub, token, ndev=900, nmetric=10, workers=20, budget=90):
    bodies = [{"device": f"dev-{d:03d}", "metrics": {f"m{m}": round(20 + m + d / 100, 2) for m in range(nmetric)}}
              for d in range(ndev)]
    statuses = collections.Counter()
    lock = threading.Lock()
    idx = [0]
    deadline = time.time() + budget

    def worker():
        p = Poster(hub.port, timeout=30)
        while time.time() < deadline:
            with lock:
                if idx[0] >= len(bodies):
                    break
                b = bodies[idx[0]]
                idx[0] += 1
            st, data = p.post("/api/telemetry", b, token)
            with lock:
                statuses[status_label(st, data)] += 1
        p.close()

    t0 = time.time()
    ts = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=budget + 40)
    return dict(statuses), round(time.time() - t0, 1)


def healthz_field(hub, token, field):
    st, body = http_req(hub.port, "GET", "/healthz", token=token, timeout=10)
    try:
        return json.loads(body).get(field)
    except Exception:
        return None


def subscribe_burst(hub, viewer, dev, wd, nconn=60):
    f = collections.OrderedDict()
    selectors = make_selectors()
    conns = []
    fails = collections.Counter()
    for i in range(nconn):
        try:
            conns.append(WS(hub.port, "/ws/dashboard", token=viewer, timeout=15))
        except OSError as e:
            fails[trunc(str(e), 60)] += 1
    f["dashboards"] = len(conns)
    if fails:
        f["dashboard_connect_failed"] = dict(fails)
    answers = [None] * len(conns)
    stop = threading.Event()
    start = threading.Event()
    lat = []
    post_status = collections.Counter()

    def poster():
        p = Poster(hub.port, timeout=60)
        nxt = time.time()
        k = 0
        while not stop.is_set() and k < 4000:
            k += 1
            t0 = time.time()
            st, data = p.post("/api/telemetry", {"device": "lat-1", "metrics": {"x": k}}, dev)
            dt = time.time() - t0
            post_status[status_label(st, data)] += 1
            lat.append(dt * 1000)
            nxt += 0.05
            time.sleep(max(0, nxt - time.time()))
        p.close()

    def dash(i, ws):
        start.wait(30)
        try:
            ws.send_json({"type": "subscribe", "id": 7, "sub": "s", "series": selectors, "rate_ms": 1000})
            msg = ws.wait_id(7, timeout=max(1, min(120, wd.left() - 20)))
            answers[i] = (msg.get("type"), msg.get("code") if msg.get("type") == "error" else msg.get("series"),
                          time.time())
        except Exception as e:
            answers[i] = ("none", describe_ws_end(e), time.time())
            return
        while not stop.is_set():  # drain the snapshot and batches
            try:
                ws.recv_frame(1)
            except socket.timeout:
                continue
            except Exception:
                break

    hz = []

    def healthz_poller():  # a request that touches no ingest path: does the whole hub stall, or only telemetry?
        k = 0
        while not stop.is_set() and k < 4000:
            k += 1
            t0 = time.time()
            http_req(hub.port, "GET", "/healthz", timeout=60)
            hz.append(((time.time() - t0) * 1000, t0))
            time.sleep(0.1)

    threads = [threading.Thread(target=dash, args=(i, ws), daemon=True) for i, ws in enumerate(conns)]
    for t in threads:
        t.start()
    pt = threading.Thread(target=poster, daemon=True)
    pt.start()
    ht = threading.Thread(target=healthz_poller, daemon=True)
    ht.start()
    time.sleep(1)  # a second of quiet POST latency first
    lat_quiet = list(lat)
    cpu0 = hub.cpu_s()
    t0 = time.time()
    n_before = len(lat)
    start.set()
    limit = t0 + max(5, min(120, wd.left() - 15))
    while time.time() < limit and any(a is None for a in answers):
        time.sleep(0.05)
    t1 = time.time()
    cpu1 = hub.cpu_s() if hub.alive() else None
    burst_lat = lat[n_before:]
    stop.set()
    pt.join(timeout=65)
    ht.join(timeout=65)
    for t in threads:
        t.join(timeout=5)
    for ws in conns:
        ws.close()
    kinds = collections.Counter()
    for a in answers:
        if a is None:
            kinds["no answer"] += 1
        elif a[0] == "ack":
            kinds[f"ack(series={a[1]})"] += 1
        else:
            kinds[f"{a[0]} {a[1]}"] += 1
    f["answers"] = dict(kinds)
    f["burst_s"] = round(t1 - t0, 2)
    f["cpu_s"] = round(cpu1 - cpu0, 2) if cpu1 is not None and cpu0 is not None else "hub dead"
    if lat_quiet:
        f["post_ms_quiet_median"] = round(statistics.median(lat_quiet), 1)
    if burst_lat:
        f["post_ms_median"] = round(statistics.median(burst_lat), 1)
        f["post_ms_max"] = round(max(burst_lat), 1)
        f["posts"] = len(burst_lat)
    else:
        f["posts"] = 0
    hz_burst = [ms for ms, started in hz if started >= t0]
    if hz_burst:
        f["healthz_ms_median"] = round(statistics.median(hz_burst), 1)
        f["healthz_ms_max"] = round(max(hz_burst), 1)
    bad = {k: v for k, v in post_status.items() if not k.startswith("2")}
    if bad:
        f["post_failures"] = bad
    return f


def probe_subscribe(ctx, wd):
    f = collections.OrderedDict()
    hub = ctx.hub("subscribe", config=FLUSH20)
    hub.start()
    dev = hub.token("device", subject="subdev")
    viewer = hub.token("viewer", subject="subview")
    statuses, secs = create_series(hub, dev)
    f["create_posts"] = statuses
    f["create_s"] = secs
    f["series"] = healthz_field(hub, viewer, "series")
    for k, v in subscribe_burst(hub, viewer, dev, wd).items():
        f[f"A_{k}"] = v
    # B: every subscribe refused
    hub.restart(config={"dashboards": {"max_series_per_subscription": 100}, "storage": {"flush_interval_ms": 20}})
    n = healthz_field(hub, viewer, "series")
    f["B_series_after_restart"] = n
    if not isinstance(n, int) or n < 9000:
        statuses, secs = create_series(hub, dev)
        f["B_create_posts"] = statuses
    for k, v in subscribe_burst(hub, viewer, dev, wd).items():
        f[f"B_{k}"] = v
    f.update(hub_figures(hub))
    f["stop"] = hub.stop()
    return f


# -------------------------------------------------------------------------------------------------- 6. quota


def probe_quota(ctx, wd):
    f = collections.OrderedDict()
    hub = ctx.hub("quota", config=FLUSH20)
    hub.start()
    junk = hub.token("device", device="junk-*", subject="junk")
    good = hub.token("device", device="good-*", subject="good")
    viewer = hub.token("viewer", subject="qv")
    statuses = collections.Counter()
    lock = threading.Lock()
    idx = [0]
    deadline = time.time() + min(240, wd.left() - 30)

    def worker():
        p = Poster(hub.port, timeout=30)
        while time.time() < deadline:
            with lock:
                if idx[0] >= 12000:
                    break
                i = idx[0]
                idx[0] += 1
            st, data = p.post("/api/telemetry", {"device": f"junk-{i}", "metrics": {"v": 1.5}}, junk)
            with lock:
                statuses[status_label(st, data)] += 1
        p.close()

    t0 = time.time()
    ts = [threading.Thread(target=worker, daemon=True) for _ in range(50)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=max(1, deadline - time.time() + 35))
    f["junk_posts_s"] = round(time.time() - t0, 1)
    f["junk_sent"] = sum(statuses.values())
    f["junk_2xx"] = sum(v for k, v in statuses.items() if k.startswith("2"))
    f["junk_refused"] = {k: v for k, v in statuses.items() if not k.startswith("2")}
    st, body = http_req(hub.port, "POST", "/api/telemetry", body={"device": "good-1", "metrics": {"v": 2.5}}, token=good,
                        timeout=30)
    f["good_post"] = status_label(st, body) + (f" {trunc(body.decode(errors='replace'), 100)}"
                                               if isinstance(st, int) and st >= 300 else "")
    f["devices"] = healthz_field(hub, viewer, "devices")
    f.update(hub_figures(hub))
    f["stop"] = hub.stop()
    return f


# --------------------------------------------------------------------------------------------------- 7. mqtt


def probe_mqtt(ctx, wd):
    f = collections.OrderedDict()
    mosq = shutil.which("mosquitto")
    if not mosq:
        f["skipped"] = "mosquitto not on PATH"
        return f
    work = ctx.mkdtemp("mosquitto")
    mport = free_port()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mosquitto", "test-plain.conf")
    if os.path.exists(src):
        conf = open(src).read().replace("{{PORT}}", str(mport)).replace("{{DATA}}", work)
    else:
        conf = (f"listener {mport} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {work}/\n"
                "log_dest stderr\nuser root\n")
    cpath = os.path.join(work, "mosquitto.conf")
    with open(cpath, "w") as fh:
        fh.write(conf)
    mlog = open(os.path.join(work, "mosquitto.log"), "wb")
    mp = subprocess.Popen([mosq, "-c", cpath], stdout=mlog, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    wd.extra.append(mp.kill)
    try:
        t0 = time.time()
        while time.time() - t0 < 15:
            try:
                socket.create_connection(("127.0.0.1", mport), timeout=1).close()
                break
            except OSError:
                if mp.poll() is not None:
                    raise ProbeAbort(f"mosquitto exited {mp.returncode}")
                time.sleep(0.1)
        hub = ctx.hub("mqtt", extra_args=["--mqtt", f"mqtt://127.0.0.1:{mport}"])
        hub.start()
        viewer = hub.token("viewer", subject="mv")
        state, client_id = None, None
        t0 = time.time()
        while time.time() - t0 < 30:
            st, body = http_req(hub.port, "GET", "/healthz", token=viewer, timeout=5)
            try:
                m = json.loads(body).get("mqtt") or {}
                state, client_id = m.get("state"), m.get("client_id")
            except Exception:
                pass
            if state == "connected":
                break
            time.sleep(0.25)
        f["mqtt_state"] = state
        f["client_id"] = client_id
        st, body = http_req(hub.port, "GET", "/healthz", timeout=5)
        text = body.decode(errors="replace") if body else ""
        f["anon_healthz_status"] = st
        f["anon_healthz_has_client_id"] = bool(client_id) and client_id in text
        f["anon_healthz_has_broker"] = f"127.0.0.1:{mport}" in text
        f["anon_healthz"] = trunc(text, 200)
        f.update(hub_figures(hub))
        f["stop"] = hub.stop()
    finally:
        if mp.poll() is None:
            mp.terminate()
            try:
                mp.wait(timeout=10)
            except subprocess.TimeoutExpired:
                mp.kill()
        mlog.close()
    return f


# ----------------------------------------------------------------------------------------------- 8. diskfull


def probe_diskfull(ctx, wd):
    f = collections.OrderedDict()
    if os.geteuid() != 0:
        f["skipped"] = "needs root (mount -t tmpfs)"
        return f
    mnt = ctx.mkdtemp("diskfull-mnt")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], capture_output=True, timeout=30)
    if r.returncode != 0:
        f["skipped"] = f"mount failed: {r.stderr.decode(errors='replace').strip()[:120]}"
        return f
    hub = None
    try:
        hub = ctx.hub("diskfull", data_dir=os.path.join(mnt, "data"))
        hub.start()
        dev = hub.token("device", device="df-*", subject="df")
        viewer = hub.token("viewer", subject="dfv")
        stop = threading.Event()
        sent = [0] * 10
        ws_errors = collections.Counter()
        ws_ends = {}
        lock = threading.Lock()
        base_ts = now_ms() - 86_400_000

        def device(i):
            try:
                ws = WS(hub.port, "/ws/device", token=dev, timeout=10)
                ws.send_json({"type": "register", "id": "r", "device": f"df-{i}", "kind": "probe"})
                ack = ws.wait_id("r", 10)
                if ack.get("type") != "ack":
                    ws_ends[i] = f"register {ack.get('code')}"
                    return
            except Exception as e:
                ws_ends[i] = f"connect/register: {describe_ws_end(e)}"
                return
            ended = threading.Event()

            def reader():
                try:
                    while not ended.is_set():
                        try:
                            msg = ws.recv_json(1)
                            with lock:
                                ws_errors[msg.get("code") or msg.get("type")] += 1
                        except socket.timeout:
                            continue
                except Exception as e:
                    ws_ends[i] = describe_ws_end(e)
                    ended.set()

            rt = threading.Thread(target=reader, daemon=True)
            rt.start()
            t = base_ts
            k = 0
            try:
                while not stop.is_set() and not ended.is_set():
                    parts = []
                    for j in range(100):
                        parts.append('{"metric":"v","ts":%d,"value":%.2f}' % (t, ((k * 7919) % 10007) / 10.0))
                        t += 10
                        k += 1
                    ws.send('{"type":"telemetry","samples":[' + ",".join(parts) + "]}")
                    sent[i] += 1
            except Exception as e:
                ws_ends.setdefault(i, f"send: {describe_ws_end(e)}")
            ended.set()
            rt.join(timeout=3)
            ws.close()

        post_status = collections.Counter()
        post_threads = []

        def post_once(n):  # one POST a second, each on its own connection and thread, 10 s timeout
            t1 = time.time()
            st, body = http_req(hub.port, "POST", "/api/telemetry",
                                body={"device": "df-http", "metrics": {"h": n}}, token=dev, timeout=10)
            with lock:
                post_status[status_label(st, body)] += 1
                post_ms.append((time.time() - t1) * 1000)

        post_ms = []

        rss_start = hub.rss_mb()
        threads = [threading.Thread(target=device, args=(i,), daemon=True) for i in range(10)]
        for t in threads:
            t.start()
        health = collections.Counter()
        rss_series = []
        t0 = time.time()
        for sec in range(40):
            pth = threading.Thread(target=post_once, args=(sec,), daemon=True)
            pth.start()
            post_threads.append(pth)
            st, body = http_req(hub.port, "GET", "/healthz", token=viewer, timeout=2)
            label = str(st)
            if st == 200:
                try:
                    label = f"200 {json.loads(body).get('status')}"
                except Exception:
                    pass
            health[label] += 1
            rss_series.append(hub.rss_mb())
            time.sleep(max(0, t0 + sec + 1 - time.time()))
        stop.set()
        rss_40 = hub.rss_mb()
        st, body = http_req(hub.port, "GET", "/metrics", token=viewer, timeout=5)
        metrics = {}
        if st == 200:
            for line in body.decode(errors="replace").splitlines():
                for name in ("telemetryhub_samples_ingested_total", "telemetryhub_samples_persisted_total",
                             "telemetryhub_storage_pending_samples", "telemetryhub_storage_errors_total"):
                    if line.startswith(name + " ") or line.startswith(name + "{"):
                        metrics[name.replace("telemetryhub_", "")] = line.split()[-1]
        st2, body2 = http_req(hub.port, "GET", "/healthz", timeout=3)
        for t in threads:
            t.join(timeout=10)
        for pth in post_threads:
            pth.join(timeout=max(0.1, t0 + 52 - time.time()))
        f["rss_start_mb"] = rss_start
        f["rss_40s_mb"] = rss_40
        f["rss_max_mb"] = max([r for r in rss_series if r] or [0])
        f["healthz"] = dict(health)
        f["post"] = dict(post_status)
        if post_ms:
            f["post_ms_median"] = round(statistics.median(post_ms))
        f["ws_messages_sent"] = sum(sent)
        f["ws_replies"] = dict(ws_errors)
        if ws_ends:
            f["ws_ends"] = dict(collections.Counter(ws_ends.values()))
        f["metrics"] = metrics or f"/metrics {st}"
        f["anon_healthz"] = trunc(body2.decode(errors="replace") if body2 else str(st2), 160)
        f["disk_used_kb"] = shutil.disk_usage(mnt).used // 1024
        f.update(hub_figures(hub))
        f["stop"] = hub.stop()
    finally:
        if hub is not None:
            hub.kill()
        r = subprocess.run(["umount", mnt], capture_output=True, timeout=30)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
    return f


# -------------------------------------------------------------------------------------------------- 9. small


def probe_small(ctx, wd):
    f = collections.OrderedDict()
    rule = '{"id":"x","match":"*/t","when":{"op":">","value":1}}'
    # (a) --no-auth: a text/plain body and a foreign Origin
    hub = ctx.hub("small-a", auth=False)
    hub.start()
    st, b = http_req(hub.port, "POST", "/api/rules", body=rule, headers={"Content-Type": "text/plain"})
    f["a_rules_text_plain"] = status_label(st, b)
    st, b = http_req(hub.port, "POST", "/api/rules", body=rule.replace('"x"', '"y"'),
                     headers={"Content-Type": "application/json", "Origin": "http://evil.example"})
    f["a_rules_evil_origin"] = status_label(st, b)
    st, b = http_req(hub.port, "POST", "/api/rules", body=rule.replace('"x"', '"z"'),
                     headers={"Content-Type": "application/json"})
    f["a_rules_control_json"] = status_label(st, b)
    f["a_stop"] = hub.stop()

    # (b) the modes of what a start without TELEMETRYHUB_SECRET writes
    hub = ctx.hub("small-b", env_secret=None)
    hub.start()

    def mode(p):
        try:
            return oct(os.stat(p).st_mode & 0o777)
        except OSError:
            return "missing"

    d = hub.data_dir
    f["b_modes"] = (f"dir {mode(d)} secret {mode(os.path.join(d, 'secret'))} "
                    f"telemetry.db {mode(os.path.join(d, 'telemetry.db'))} "
                    f"-wal {mode(os.path.join(d, 'telemetry.db-wal'))}")
    f["b_stop"] = hub.stop()

    # (c) a one-character secret
    hub = ctx.hub("small-c", env_secret="a")
    p = hub.launch()
    t0 = time.time()
    res = None
    while time.time() - t0 < 5:
        if p.poll() is not None:
            res = f"exited rc {p.returncode} in {time.time() - t0:.1f}s: {hub.log_reason()}"
            break
        st, _ = http_req(hub.port, "GET", "/healthz", timeout=1)
        if st == 200:
            res = "started and listening"
            break
        time.sleep(0.1)
    f["c_secret_a"] = res or "still running after 5s, not listening"
    f["c_stop"] = hub.stop()

    # (d) an unmasked frame, (e) huge values
    hub = ctx.hub("small-de", config=FLUSH20)
    hub.start()
    dev = hub.token("device", subject="small")
    viewer = hub.token("viewer", subject="smallv")
    try:
        ws = WS(hub.port, "/ws/device", token=dev, timeout=10)
        ws.send_raw(ws_frame(1, '{"type":"ping","id":1}', mask=False))
        try:
            msg = ws.recv_json(5)
            f["d_unmasked_ping"] = f"{msg.get('type')} {msg.get('code') or ''}".strip()
        except Exception as e:
            f["d_unmasked_ping"] = describe_ws_end(e)
        ws.close()
    except OSError as e:
        f["d_unmasked_ping"] = f"connect: {e}"
    ts0 = (now_ms() // 60000) * 60000 - 60000 + 1000
    body = ('{"device":"e-1","samples":[{"metric":"big","ts":%d,"value":1e308},'
            '{"metric":"big","ts":%d,"value":1.5e308}]}' % (ts0, ts0 + 1000))
    st, b = http_req(hub.port, "POST", "/api/telemetry", body=body, headers={"Content-Type": "application/json"},
                     token=dev, timeout=15)
    f["e_post"] = status_label(st, b) + (f" {trunc(b.decode(errors='replace'), 100)}" if b and st != 202 else "")
    minute = ts0 - 1000
    for key, frm in (("e_avg_from0", 0), ("e_avg_from_minute", minute)):
        # from=0 as asked; the new hub refuses it (29 million 1-minute buckets > 10 million), so also from the minute
        st, b = http_req(hub.port, "GET", f"/api/series/e-1/big?from={frm}&to={ts0 + 60000}&step=60000",
                         token=viewer, timeout=15)
        if st == 200:
            try:
                pts = json.loads(b)["points"]
                f[key] = [p[3] for p in pts] if pts else "no points"
            except ValueError:
                f[key] = f"unparsable JSON: {trunc(b.decode(errors='replace'), 120)}"
        else:
            f[key] = f"GET {status_label(st, b)}"
    f["e_hub_alive"] = hub.alive()
    f.update(hub_figures(hub))
    f["stop"] = hub.stop()
    return f


# ---------------------------------------------------------------------------------------------------- 10. wal


def probe_wal(ctx, wd):
    f = collections.OrderedDict()
    hub = ctx.hub("wal")
    hub.start()
    dev = hub.token("device", device="w-*", subject="wal")
    start_ts = (now_ms() // 1000) * 1000 - 1_100_000
    results = collections.Counter()
    accepted = [0]
    lock = threading.Lock()
    idx = [0]
    deadline = time.time() + min(120, wd.left() - 60)

    def message(d):
        samples = []
        for m in range(10):
            for i in range(1000):
                samples.append('{"metric":"m%d","ts":%d,"value":%s}' % (
                    m, start_ts + i * 1000, repr(round(20 + m + math.sin((i + d * 7) / 50) * 3, 2))))
        return '{"type":"telemetry","id":"t","samples":[' + ",".join(samples) + "]}"

    def worker():
        while time.time() < deadline:
            with lock:
                if idx[0] >= 100:
                    return
                d = idx[0]
                idx[0] += 1
            try:
                ws = WS(hub.port, "/ws/device", token=dev, timeout=15)
                ws.send_json({"type": "register", "id": "r", "device": f"w-{d:03d}", "kind": "probe"})
                ack = ws.wait_id("r", 15)
                if ack.get("type") != "ack":
                    with lock:
                        results[f"register {ack.get('code')}"] += 1
                    ws.close()
                    continue
                ws.send(message(d))
                ack = ws.wait_id("t", max(1, deadline - time.time()))
                with lock:
                    if ack.get("type") == "ack":
                        results["ack"] += 1
                        accepted[0] += ack.get("accepted", 0)
                    else:
                        results[f"error {ack.get('code')}"] += 1
                ws.close()
            except Exception as e:
                with lock:
                    results[f"failed: {describe_ws_end(e)}"] += 1

    t0 = time.time()
    ts = [threading.Thread(target=worker, daemon=True) for _ in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=max(1, deadline - time.time() + 20))
    f["ingest_s"] = round(time.time() - t0, 1)
    f["messages"] = dict(results)
    f["samples_acked"] = accepted[0]
    f.update(hub_figures(hub))
    t1 = time.time()
    f["stop"] = hub.stop(grace=60)
    files = {}
    for root, dirs, names in os.walk(hub.data_dir):
        for n in sorted(names):
            p = os.path.join(root, n)
            files[os.path.relpath(p, hub.data_dir)] = os.path.getsize(p)
    f["files"] = files
    db = sum(files.get(n, 0) for n in ("telemetry.db", "telemetry.db-wal", "telemetry.db-shm"))
    f["telemetry_db_total_bytes"] = db
    f["bytes_per_sample"] = round(db / 1_000_000, 3)
    return f


# ----------------------------------------------------------------------------------------------------- driver

PROBES = [("overflow", probe_overflow, 180), ("fragments", probe_fragments, 300), ("rooms", probe_rooms, 200),
          ("halfopen", probe_halfopen, 120), ("subscribe", probe_subscribe, 600), ("quota", probe_quota, 360),
          ("mqtt", probe_mqtt, 120), ("diskfull", probe_diskfull, 180), ("small", probe_small, 200),
          ("wal", probe_wal, 360)]


def line_of(name, figures):
    return f"probe {name}: " + "  ".join(f"{k}={fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v)}"
                                          for k, v in figures.items())


def run(args):
    ctx = Ctx(args.bin, args.keep)
    if not os.access(ctx.bin, os.X_OK):
        sys.exit(f"not executable: {ctx.bin}")
    wanted = set(args.only.split(",")) if args.only else None
    unknown = (wanted or set()) - {p[0] for p in PROBES}
    if unknown:
        sys.exit(f"unknown probe(s): {', '.join(sorted(unknown))}")
    try:
        os.nice(5)
    except OSError:
        pass
    out = {"bin": ctx.bin, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "probes": collections.OrderedDict()}
    print(f"hardening probe of {ctx.bin} (temp {ctx.root})", flush=True)
    try:
        for name, fn, seconds in PROBES:
            if wanted and name not in wanted:
                continue
            log(f"probe {name} (deadline {seconds}s)")
            wd = Watchdog(ctx, seconds)
            wd.timer.start()
            t0 = time.time()
            try:
                figures = fn(ctx, wd)
            except Exception as e:
                figures = collections.OrderedDict(error=f"{type(e).__name__}: {trunc(str(e), 300)}")
                traceback.print_exc(file=sys.stderr)
            finally:
                wd.timer.cancel()
                for h in ctx.hubs:
                    if h.alive():
                        h.stop()
                ctx.hubs.clear()
            if wd.fired:
                figures["deadline"] = f"hit ({seconds}s): hubs killed"
            figures["probe_s"] = round(time.time() - t0, 1)
            out["probes"][name] = figures
            print(line_of(name, figures), flush=True)
    finally:
        ctx.kill_all()
        if not args.keep:
            shutil.rmtree(ctx.root, ignore_errors=True)
        else:
            log(f"kept {ctx.root}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


# The figures of each probe that say whether the attack worked; `--compare` shows these first.
HEADLINES = {
    "overflow": ["hub_deaths", "xy_from_min_step3", "p1_from_min_step3", "restart1_p1_sample",
                 "selfsigned_exp_1e17s", "token_create_ttl_1e15s"],
    "fragments": ["rss_before_mb", "rss_peak_mb", "rss_5s_after_mb", "cpu_s_during", "conn0"],
    "rooms": ["reply", "reply_s", "cpu_s", "stop"],
    "halfopen": ["open_at_15s", "healthz_at_1s", "healthz_at_1s_from_127.0.0.2"],
    "subscribe": ["A_answers", "A_burst_s", "A_cpu_s", "A_post_ms_quiet_median", "A_post_ms_max", "A_healthz_ms_max",
                  "B_answers", "B_burst_s", "B_cpu_s", "B_post_ms_max", "B_healthz_ms_max"],
    "quota": ["junk_2xx", "junk_refused", "good_post"],
    "mqtt": ["anon_healthz_has_client_id", "anon_healthz_has_broker"],
    "diskfull": ["rss_start_mb", "rss_40s_mb", "healthz", "post", "ws_ends", "stop"],
    "small": ["a_rules_text_plain", "a_rules_evil_origin", "b_modes", "c_secret_a", "d_unmasked_ping", "e_post",
              "e_avg_from_minute"],
    "wal": ["samples_acked", "bytes_per_sample", "telemetry_db_total_bytes", "stop"],
}


def compare(before_path, after_path):
    before = json.load(open(before_path))
    after = json.load(open(after_path))
    print(f"before: {before['bin']}  ({before.get('started')})")
    print(f"after:  {after['bin']}  ({after.get('started')})")
    for run in (before, after):  # times a probe's hub died (its figures say DEAD)
        for figures in run["probes"].values():
            figures["hub_deaths"] = sum(1 for v in figures.values() if isinstance(v, str) and "hub DEAD" in v)

    def show(d, k, width=None):
        if k not in d:
            return "-"
        v = d[k]
        text = json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else fmt(v)
        return trunc(text, width) if width else text

    names = list(before["probes"]) + [n for n in after["probes"] if n not in before["probes"]]
    head = [(f"{n}.{k}", show(before["probes"].get(n, {}), k, 64), show(after["probes"].get(n, {}), k, 64))
            for n in names for k in HEADLINES.get(n, [])]
    if head:
        print("\nheadline figures")
        w0 = max(len(r[0]) for r in head)
        w1 = max(len(r[1]) for r in head)
        print(f"{'probe.figure':<{w0}} | {'before':<{w1}} | after")
        print(f"{'-' * w0}-+-{'-' * w1}-+-{'-' * 40}")
        for r in head:
            print(f"{r[0]:<{w0}} | {r[1]:<{w1}} | {r[2]}")
        print("\nall figures")
    rows = []
    names = list(before["probes"]) + [n for n in after["probes"] if n not in before["probes"]]
    for name in names:
        b = before["probes"].get(name, {})
        a = after["probes"].get(name, {})
        keys = list(b) + [k for k in a if k not in b]
        for k in keys:
            rows.append((f"{name}.{k}", show(b, k), show(a, k)))
    w0 = max(len(r[0]) for r in rows)
    w1 = min(60, max(len(r[1]) for r in rows))
    print(f"{'probe.figure':<{w0}} | {'before':<{w1}} | after")
    print(f"{'-' * w0}-+-{'-' * w1}-+-{'-' * 40}")
    for r in rows:
        print(f"{r[0]:<{w0}} | {r[1]:<{w1}} | {r[2]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="the telemetryhub binary to probe")
    ap.add_argument("--only", help="comma-separated probe names")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep temporary data directories")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE.json", "AFTER.json"),
                    help="print the before/after table of two --json outputs and exit")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    if not args.bin:
        ap.error("--bin is required (or --compare)")

    def on_term(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    run(args)


if __name__ == "__main__":
    main()
