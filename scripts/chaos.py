#!/usr/bin/env python3
"""Chaos test: no acknowledged sample is ever lost.

WebSocket mode (--mode ws): starts `telemetryhub serve --no-auth` (SQLite storage) on 127.0.0.1 and a free port,
and D asyncio WebSocket devices that register and send `telemetry` messages with an `id`, an explicit `ts` (unique
and increasing per device) and deterministic values, at R messages/s each. A sample goes into the ledger when the
`ack` of its message arrives (the hub acks only once the samples are committed to SQLite). On connection loss a
device reconnects with back-off and sends again every message not yet acked, with the same `ts` and values.
Meanwhile the hub is killed with SIGKILL at random moments (0.5-3 s of uptime after it answers /healthz) and
started again on the same data directory and port, C times. Then the devices stop (after the acks still due have
come in), the hub is stopped with SIGTERM, started once more, and every series is read back with
`GET /api/series/{device}/{metric}?from=0&limit=...`: every acked sample must be there with its value.

MQTT mode (--mode mqtt): starts mosquitto (persistence on, in the scratch directory) on a free port and the hub
with `--mqtt mqtt://127.0.0.1:PORT`; D paho-mqtt devices (persistent sessions, last will, retained `online`)
publish QoS 1 telemetry with explicit `ts` to `telemetryhub/devices/{id}/telemetry`. A sample goes into the
ledger when the broker's PUBACK for its message arrives. The broker is restarted C times at random moments
(0.5-3 s after the hub's bridge is connected again) with SIGTERM, not SIGKILL: mosquitto writes its persistence
file only on its autosave interval and on exit, so a SIGKILLed broker loses the queues it acknowledged, which is
the broker's documented behaviour and not the hub's to guarantee. The hub keeps running. At the end the script
waits until the hub has caught up and checks every acked sample through the API; then,
with --mqtt-restart-check, stops the hub with SIGTERM, starts it again and checks once more (what the hub had
must have been committed by its graceful stop).

Prints one line per mode:
  chaos ws: <cycles> cycles, <acked> samples acknowledged, <lost> lost, <extra> unacknowledged also stored
and exits 1 when any acknowledged sample is lost (or stored with another value, or a sample never sent is
stored), 2 when the harness itself could
not run (the hub did not start, a timeout).

Usage: scripts/chaos.sh [--mode ws|mqtt|both] [--cycles 20] [--devices 8] [--rate 50] [--seed N] [--bin PATH]
                        [--keep] [--timeout 300] [--mqtt-restart-check] [--verbose]
Only 127.0.0.1 is used. Every process started here is killed at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("a", "b")
HOST = "127.0.0.1"

# --------------------------------------------------------------------------------------------------------------
# Processes: every child is registered here and killed (its whole process group) at exit, whatever happens.

_CHILDREN: set[subprocess.Popen] = set()


def _kill_children() -> None:
    for proc in list(_CHILDREN):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        _CHILDREN.discard(proc)


atexit.register(_kill_children)


def _on_signal(signum, _frame):
    _kill_children()
    raise SystemExit(128 + signum)


class HarnessError(Exception):
    """The harness could not do its job (not a finding about the hub)."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"  (cannot read {path}: {e})"
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return "\n".join("  | " + line for line in text)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read()
            return resp.status, json.loads(body) if body else None
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body.decode("utf-8", "replace")


async def aget(url: str, timeout: float = 5.0) -> tuple[int, object]:
    return await asyncio.to_thread(http_get, url, timeout)


# --------------------------------------------------------------------------------------------------------------
# The hub and the broker.


class Hub:
    def __init__(self, binary: Path, port: int, data_dir: Path, log_dir: Path, name: str, extra: list[str]):
        self.binary = binary
        self.port = port
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.name = name
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.incarnation = 0
        self.logs: list[Path] = []
        self.started_at = 0.0
        self.healthy_at = 0.0

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.incarnation += 1
        path = self.log_dir / f"{self.name}-{self.incarnation:02d}.log"
        self.logs.append(path)
        cmd = [str(self.binary), "serve", "--no-auth", "--host", HOST, "--port", str(self.port),
               "--data-dir", str(self.data_dir), "--storage", "sqlite", *self.extra]
        with open(path, "wb") as out:
            out.write((" ".join(cmd) + "\n").encode())
            out.flush()
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, cwd=str(self.log_dir))
        _CHILDREN.add(self.proc)
        self.started_at = time.monotonic()

    async def wait_healthy(self, timeout: float = 60.0, mqtt_connects_above: int | None = None) -> dict:
        """Waits for /healthz to answer (and, with mqtt_connects_above, for the bridge to have connected more
        often than that and be connected now)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise HarnessError(f"{self.name} #{self.incarnation} exited with {self.proc.returncode if self.proc else '?'}"
                                   f" before it was healthy; log {self.logs[-1]}:\n{tail(self.logs[-1])}")
            try:
                status, body = await aget(self.base + "/healthz", timeout=2.0)
                last = body
                if status in (200, 503) and isinstance(body, dict):
                    if mqtt_connects_above is None:
                        self.healthy_at = time.monotonic()
                        return body
                    m = body.get("mqtt") or {}
                    if m.get("state") == "connected" and int(m.get("connects", 0)) > mqtt_connects_above:
                        self.healthy_at = time.monotonic()
                        return body
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.05)
        raise HarnessError(f"{self.name} #{self.incarnation} not healthy after {timeout:.0f} s (last /healthz: {last})")

    async def healthz(self) -> dict:
        status, body = await aget(self.base + "/healthz", timeout=5.0)
        return body if isinstance(body, dict) else {}

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc:
            _CHILDREN.discard(self.proc)

    async def terminate(self, timeout: float = 90.0) -> tuple[int, float]:
        """SIGTERM and wait for the exit: (exit status, seconds it took). After `timeout` the hub is SIGKILLed and
        that is a harness error (the graceful stop it needs never happened)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else 0), 0.0
        t = time.monotonic()
        os.kill(self.proc.pid, signal.SIGTERM)
        deadline = t + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.kill()
            raise HarnessError(f"{self.name} #{self.incarnation} did not stop within {timeout:.0f} s of SIGTERM; "
                               f"log {self.logs[-1]}:\n{tail(self.logs[-1])}")
        _CHILDREN.discard(self.proc)
        took = time.monotonic() - t
        if took > 5:
            log(f"note: {self.name} #{self.incarnation} took {took:.1f} s to exit after SIGTERM (exit "
                f"{self.proc.returncode})")
        return self.proc.returncode, took


class Broker:
    def __init__(self, port: int, scratch: Path):
        self.port = port
        self.data = scratch / "broker-data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.conf = scratch / "mosquitto.conf"
        self.log_path = scratch / "broker.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise HarnessError("mosquitto is not installed (scripts/chaos.sh installs it)")
        self.binary = binary
        template = (ROOT / "scripts/mosquitto/test-plain.conf").read_text()
        text = (template.replace("{{PORT}}", str(port)).replace("{{DATA}}", str(self.data))
                .replace("{{DIR}}", str(ROOT / "scripts/mosquitto")))
        if os.geteuid() != 0:
            text = "\n".join(line for line in text.splitlines() if not line.startswith("user "))
        self.conf.write_text(text + "\n")

    def start(self) -> None:
        self.starts += 1
        out = open(self.log_path, "ab")
        out.write(f"--- start {self.starts} ---\n".encode())
        out.flush()
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        _CHILDREN.add(self.proc)

    async def wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise HarnessError(f"mosquitto exited with {self.proc.returncode if self.proc else '?'}:\n"
                                   f"{tail(self.log_path)}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                await asyncio.sleep(0.05)
        raise HarnessError(f"mosquitto not listening on {self.port} after {timeout:.0f} s")

    async def terminate(self, timeout: float = 20.0) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise HarnessError(f"mosquitto did not stop within {timeout:.0f} s of SIGTERM")
        _CHILDREN.discard(self.proc)


# --------------------------------------------------------------------------------------------------------------
# Samples and the ledger.


def ts_step(rate: float) -> int:
    """ms between the timestamps of a device's messages: about real time, and never the same twice."""
    return max(1, int(1000 / rate))


def sample_values(index: int, seq: int) -> dict[str, float]:
    """Deterministic, exactly representable values, different per device and message."""
    return {"a": index * 1_000_000 + seq + 0.5, "b": ((seq * 7919 + index * 104729) % 100_003) / 4.0}


@dataclass
class AckInfo:
    value: float
    seq: int
    incarnation: int      # WebSocket: the hub process that acked it; MQTT: the broker start that acked it
    at: float             # time.monotonic() of the ack


@dataclass
class Ledger:
    acked: dict[tuple[str, str, int], AckInfo] = field(default_factory=dict)
    sent: dict[tuple[str, str, int], float] = field(default_factory=dict)  # every sample ever sent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record_sent(self, device: str, ts: int, values: dict[str, float]) -> None:
        with self.lock:
            for metric, value in values.items():
                self.sent[(device, metric, ts)] = value

    def record_ack(self, device: str, ts: int, values: dict[str, float], seq: int, incarnation: int) -> None:
        now = time.monotonic()
        with self.lock:
            for metric, value in values.items():
                self.acked.setdefault((device, metric, ts), AckInfo(value, seq, incarnation, now))


# --------------------------------------------------------------------------------------------------------------
# WebSocket devices.


@dataclass
class Pending:
    seq: int
    ts: int
    values: dict[str, float]
    frame: str


class WSDevice:
    def __init__(self, name: str, index: int, rate: float, t0: int, ledger: Ledger, hub: Hub, rng: random.Random,
                 verbose: bool):
        self.name = name
        self.index = index
        self.rate = rate
        self.t0 = t0
        self.step = ts_step(rate)
        self.ledger = ledger
        self.hub = hub
        self.rng = rng
        self.verbose = verbose
        self.pending: dict[int, Pending] = {}
        self.outbox: list[int] = []
        self.wake = asyncio.Event()
        self.next_seq = 0
        self.generating = True
        self.stopping = False
        self.connects = 0
        self.conn_failures = 0
        self.resent = 0
        self.short_acks: list[tuple[int, int, int]] = []  # (seq, accepted, samples)
        self.errors: list[dict] = []
        self.ws = None

    def generate_one(self) -> None:
        seq = self.next_seq
        self.next_seq += 1
        ts = self.t0 + seq * self.step
        values = sample_values(self.index, seq)
        frame = json.dumps({"type": "telemetry", "id": seq, "ts": ts, "metrics": values})
        self.pending[seq] = Pending(seq, ts, values, frame)
        self.ledger.record_sent(self.name, ts, values)
        self.outbox.append(seq)
        self.wake.set()

    async def generate(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        next_t = loop.time() + self.rng.random() * interval
        while self.generating:
            await asyncio.sleep(max(0.0, next_t - loop.time()))
            if not self.generating:
                break
            self.generate_one()
            next_t += interval
            if next_t < loop.time() - 1.0:   # far behind (a stall): do not burst
                next_t = loop.time()

    async def run(self, url: str) -> None:
        import websockets  # noqa: PLC0415
        attempt = 0
        while not self.stopping:
            try:
                async with websockets.connect(url, open_timeout=3, close_timeout=1, ping_interval=None,
                                              max_size=None, compression=None) as ws:
                    incarnation = self.hub.incarnation
                    await ws.send(json.dumps({"type": "register", "id": "reg", "device": self.name,
                                              "kind": "chaos"}))
                    while True:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if msg.get("id") == "reg":
                            if msg.get("type") != "ack":
                                raise HarnessError(f"{self.name}: register refused: {msg}")
                            break
                    self.connects += 1
                    attempt = 0
                    self.ws = ws
                    # Everything not acked yet, in order, then whatever comes next.
                    resend = sorted(self.pending)
                    if self.connects > 1:
                        self.resent += len(resend)
                    self.outbox = resend
                    reader = asyncio.create_task(self._read(ws, incarnation))
                    try:
                        while not self.stopping:
                            while self.outbox:
                                batch, self.outbox = self.outbox, []
                                for seq in batch:
                                    p = self.pending.get(seq)
                                    if p is not None:
                                        await ws.send(p.frame)
                            self.wake.clear()
                            waiter = asyncio.create_task(self.wake.wait())
                            done, _ = await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
                            if reader in done:
                                waiter.cancel()
                                reader.result()   # raises the connection error
                                break
                            waiter.cancel()
                    finally:
                        self.ws = None
                        if not reader.done():
                            reader.cancel()
                            try:
                                await reader
                            except (asyncio.CancelledError, Exception):
                                pass
            except HarnessError:
                raise
            except (OSError, asyncio.TimeoutError, ValueError, Exception) as e:  # connection lost / refused
                if self.verbose:
                    log(f"{self.name}: {type(e).__name__}: {e}")
                self.conn_failures += 1
            if self.stopping:
                break
            delay = min(1.0, 0.05 * (2 ** attempt)) * (0.5 + self.rng.random())
            attempt = min(attempt + 1, 10)
            await asyncio.sleep(delay)

    async def _read(self, ws, incarnation: int) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg.get("type")
            mid = msg.get("id")
            if kind == "ack" and isinstance(mid, int):
                p = self.pending.pop(mid, None)
                if p is None:
                    continue  # an ack for a message acked before (sent twice)
                n = len(p.values)
                if msg.get("accepted") != n:
                    self.short_acks.append((p.seq, msg.get("accepted"), n))
                self.ledger.record_ack(self.name, p.ts, p.values, p.seq, incarnation)
            elif kind == "error":
                if len(self.errors) < 20:
                    self.errors.append(msg)

    async def stop(self, drain_timeout: float) -> None:
        """Stops making messages, waits (bounded) for the acks still due, then closes."""
        self.generating = False
        deadline = time.monotonic() + drain_timeout
        while self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.stopping = True
        self.wake.set()
        ws = self.ws
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 2)
            except Exception:
                pass


# --------------------------------------------------------------------------------------------------------------
# Verification through the API.


@dataclass
class Verdict:
    acked: int = 0
    lost: list[tuple[tuple[str, str, int], AckInfo, object]] = field(default_factory=list)  # (key, info, stored)
    extra: int = 0        # stored, sent, never acked
    phantom: list[tuple[tuple[str, str, int], float]] = field(default_factory=list)  # stored, never sent
    stored: int = 0
    http_errors: list[str] = field(default_factory=list)


async def verify(base: str, ledger: Ledger, devices: list[str]) -> Verdict:
    with ledger.lock:
        acked = dict(ledger.acked)
        sent = dict(ledger.sent)
    verdict = Verdict(acked=len(acked))
    stored: dict[tuple[str, str, int], float] = {}
    for device in devices:
        for metric in METRICS:
            status, body = await aget(f"{base}/api/series/{device}/{metric}?from=0&limit=10000000", timeout=30)
            if status == 404:
                continue
            if status != 200 or not isinstance(body, dict):
                verdict.http_errors.append(f"{device}/{metric}: HTTP {status} {str(body)[:200]}")
                continue
            for ts, value in body.get("points", []):
                stored[(device, metric, int(ts))] = value
    verdict.stored = len(stored)
    for key, info in sorted(acked.items()):
        value = stored.get(key)
        if value is None or value != info.value:
            verdict.lost.append((key, info, value))
    for key, value in stored.items():
        if key in acked:
            continue
        if key in sent:
            verdict.extra += 1
        else:
            verdict.phantom.append((key, value))
    return verdict


def describe_loss(verdict: Verdict, events: list[tuple[int, float, str]], label: str) -> None:
    """Prints the lost samples, grouped in runs per device, with where they fall against the chaos events.
    events: (incarnation, monotonic time of the event that ended it, description)."""
    end_of = {inc: (t, what) for inc, t, what in events}
    by_device: dict[tuple[str, str], list] = {}
    for key, info, value in verdict.lost:
        by_device.setdefault((key[0], key[1]), []).append((key[2], info, value))
    print(f"  {label}: {len(verdict.lost)} acknowledged samples lost or changed:")
    shown = 0
    for (device, metric), rows in sorted(by_device.items()):
        rows.sort(key=lambda r: r[0])
        runs: list[list] = []
        for row in rows:
            if runs and row[1].seq == runs[-1][-1][1].seq + 1 and row[1].incarnation == runs[-1][-1][1].incarnation:
                runs[-1].append(row)
            else:
                runs.append([row])
        for run in runs:
            first, last = run[0], run[-1]
            inc = first[1].incarnation
            rel = ""
            if inc in end_of:
                t, what = end_of[inc]
                rel = (f"; acked {(t - last[1].at) * 1000:.0f}-{(t - first[1].at) * 1000:.0f} ms before {what}")
            changed = [r for r in run if r[2] is not None]
            note = f", {len(changed)} stored with another value (e.g. {changed[0][2]} for {changed[0][1].value})" \
                if changed else ""
            print(f"    {device}/{metric} ts {first[0]}..{last[0]} (seq {first[1].seq}..{last[1].seq}, "
                  f"{len(run)} samples) acked by #{inc}{rel}{note}")
            shown += 1
            if shown >= 40:
                print("    ...")
                return


# --------------------------------------------------------------------------------------------------------------
# WebSocket mode.


async def run_ws(args, binary: Path, scratch: Path, rng: random.Random) -> int:
    port = free_port()
    data_dir = scratch / "ws-hub"
    hub = Hub(binary, port, data_dir, scratch, "ws-hub", list(args.hub_arg))
    ledger = Ledger()
    names = [f"chaos-ws-{i}" for i in range(1, args.devices + 1)]
    t0 = int(time.time() * 1000) - 10_000
    devices = [WSDevice(n, i, args.rate, t0, ledger, hub, random.Random(rng.random()), args.verbose)
               for i, n in enumerate(names, 1)]
    tasks: list[asyncio.Task] = []
    events: list[tuple[int, float, str]] = []   # (incarnation, time of its end, what)
    started = time.monotonic()
    log(f"ws: hub {binary} on {HOST}:{port}, data {data_dir}, {args.devices} devices x {args.rate:g} msg/s "
        f"x {len(METRICS)} metrics, {args.cycles} SIGKILL cycles")
    exit_code = 0
    try:
        hub.start()
        await hub.wait_healthy()
        url = f"ws://{HOST}:{port}/ws/device"
        for d in devices:
            tasks.append(asyncio.create_task(d.run(url)))
            tasks.append(asyncio.create_task(d.generate()))
        for cycle in range(1, args.cycles + 1):
            uptime = rng.uniform(0.5, 3.0)
            await asyncio.sleep(uptime)
            for t in tasks:
                if t.done() and t.exception():
                    raise t.exception()
            inc = hub.incarnation
            hub.kill()
            killed_at = time.monotonic()
            events.append((inc, killed_at, f"SIGKILL of #{inc} (cycle {cycle})"))
            acked = len(ledger.acked)
            hub.start()
            await hub.wait_healthy()
            log(f"ws cycle {cycle}/{args.cycles}: hub #{inc} killed after {uptime:.2f} s of uptime; "
                f"{acked} samples acked so far; #{hub.incarnation} healthy "
                f"{(hub.healthy_at - killed_at) * 1000:.0f} ms later")
        await asyncio.sleep(2.0)
        await asyncio.gather(*(d.stop(drain_timeout=5.0) for d in devices))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks = []
        inc = hub.incarnation
        t_term = time.monotonic()
        rc, took = await hub.terminate()
        events.append((inc, t_term, f"SIGTERM of #{inc} (end)"))
        log(f"ws: devices stopped; hub #{inc} stopped with SIGTERM (exit {rc}, {took:.1f} s); starting it once more "
            f"to read back")
        hub.start()
        await hub.wait_healthy()
        verdict = await verify(hub.base, ledger, names)
        unacked = sum(len(d.pending) for d in devices)
        print(f"chaos ws: {args.cycles} cycles, {verdict.acked} samples acknowledged, {len(verdict.lost)} lost, "
              f"{verdict.extra} unacknowledged also stored", flush=True)
        resent = sum(d.resent for d in devices)
        short = [(d.name, s) for d in devices for s in d.short_acks]
        errors = [(d.name, e) for d in devices for e in d.errors]
        print(f"  sent {len(ledger.sent)} samples in {sum(d.next_seq for d in devices)} messages, {verdict.stored} "
              f"stored, {unacked} messages never acked, {resent} messages sent again after reconnects, "
              f"{sum(d.connects for d in devices)} device sessions, {len(short)} acks with accepted < samples, "
              f"{len(errors)} error answers; {time.monotonic() - started:.1f} s", flush=True)
        for name, (seq, accepted, n) in short[:10]:
            print(f"    short ack: {name} seq {seq}: accepted {accepted} of {n}")
        for name, e in errors[:10]:
            print(f"    error answer to {name}: {json.dumps(e)}")
        if verdict.phantom:
            print(f"  {len(verdict.phantom)} stored samples were never sent, e.g. {verdict.phantom[:5]}")
        for e in verdict.http_errors:
            print(f"  read-back error: {e}")
        if verdict.phantom:
            exit_code = 1
        if verdict.lost or verdict.http_errors:
            exit_code = 1
            describe_loss(verdict, events, "ws")
            incs = sorted({info.incarnation for _, info, _ in verdict.lost})[:3]
            for inc in incs + [hub.incarnation]:
                path = hub.logs[inc - 1]
                print(f"  last 40 lines of {path}:\n{tail(path)}")
    finally:
        for d in devices:
            d.generating = False
            d.stopping = True
            d.wake.set()
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        hub.kill()
    return exit_code


# --------------------------------------------------------------------------------------------------------------
# MQTT mode.


class MQTTDevice:
    def __init__(self, name: str, index: int, rate: float, t0: int, ledger: Ledger, port: int, prefix: str,
                 broker: Broker, rng: random.Random):
        import paho.mqtt.client as mqtt  # noqa: PLC0415
        self.mqtt = mqtt
        self.name = name
        self.index = index
        self.rate = rate
        self.t0 = t0
        self.step = ts_step(rate)
        self.ledger = ledger
        self.port = port
        self.broker = broker
        self.rng = rng
        self.topic = f"{prefix}devices/{name}/telemetry"
        self.status_topic = f"{prefix}devices/{name}/status"
        self.meta_topic = f"{prefix}devices/{name}/meta"
        self.lock = threading.Lock()
        self.by_mid: dict[int, tuple[int, int, dict[str, float]]] = {}   # mid -> (seq, ts, values)
        self.early_acks: set[int] = set()
        self.next_seq = 0
        self.generating = True
        self.connects = 0
        self.disconnects = 0
        self.publish_errors: list[str] = []
        self.connected = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"chaos-{name}", clean_session=False,
                        protocol=mqtt.MQTTv311)
        c.will_set(self.status_topic, "offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=0.2, max_delay=2)
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self.client = c

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            return
        self.connects += 1
        client.publish(self.meta_topic, json.dumps({"kind": "chaos"}), qos=1, retain=True)
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnects += 1
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self.lock:
            entry = self.by_mid.pop(mid, None)
            if entry is None:
                self.early_acks.add(mid)
                return
        self._acked(entry)

    def _acked(self, entry) -> None:
        seq, ts, values = entry
        self.ledger.record_ack(self.name, ts, values, seq, self.broker.starts)

    def start(self) -> None:
        self.client.connect_async(HOST, self.port, keepalive=10)
        self.client.loop_start()

    def publish_one(self) -> None:
        seq = self.next_seq
        self.next_seq += 1
        ts = self.t0 + seq * self.step
        values = sample_values(self.index, seq)
        self.ledger.record_sent(self.name, ts, values)
        info = self.client.publish(self.topic, json.dumps({"ts": ts, "metrics": values}), qos=1)
        if info.rc not in (self.mqtt.MQTT_ERR_SUCCESS, self.mqtt.MQTT_ERR_NO_CONN):
            # Not queued by the client library: it will never be acked; only sent-but-unacked.
            if len(self.publish_errors) < 10:
                self.publish_errors.append(f"seq {seq}: rc {info.rc}")
            return
        entry = (seq, ts, values)
        with self.lock:
            if info.mid in self.early_acks:    # PUBACK came before publish() returned
                self.early_acks.discard(info.mid)
            else:
                self.by_mid[info.mid] = entry
                entry = None
        if entry is not None:
            self._acked(entry)

    async def generate(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        next_t = loop.time() + self.rng.random() * interval
        while self.generating:
            await asyncio.sleep(max(0.0, next_t - loop.time()))
            if not self.generating:
                break
            self.publish_one()
            next_t += interval
            if next_t < loop.time() - 1.0:
                next_t = loop.time()

    def unacked(self) -> int:
        with self.lock:
            return len(self.by_mid)

    def close(self) -> None:
        try:
            if self.connected.is_set():
                info = self.client.publish(self.status_topic, json.dumps({"state": "offline"}), qos=1, retain=True)
                info.wait_for_publish(timeout=2)
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()


async def run_mqtt(args, binary: Path, scratch: Path, rng: random.Random) -> int:
    broker_port = free_port()
    hub_port = free_port()
    while hub_port == broker_port:
        hub_port = free_port()
    broker = Broker(broker_port, scratch)
    data_dir = scratch / "mqtt-hub"
    hub = Hub(binary, hub_port, data_dir, scratch, "mqtt-hub",
              ["--mqtt", f"mqtt://{HOST}:{broker_port}", *args.hub_arg])
    ledger = Ledger()
    names = [f"chaos-mqtt-{i}" for i in range(1, args.devices + 1)]
    t0 = int(time.time() * 1000) - 10_000
    devices: list[MQTTDevice] = []
    tasks: list[asyncio.Task] = []
    events: list[tuple[int, float, str]] = []
    started = time.monotonic()
    log(f"mqtt: mosquitto on {HOST}:{broker_port} (persistence in {broker.data}), hub {binary} on {HOST}:{hub_port}, "
        f"{args.devices} devices x {args.rate:g} msg/s x {len(METRICS)} metrics, {args.cycles} broker restarts "
        f"(SIGTERM: mosquitto saves its persistence only on autosave and exit)")
    exit_code = 0
    try:
        broker.start()
        await broker.wait_listening()
        hub.start()
        health = await hub.wait_healthy(mqtt_connects_above=0)
        connects = int(health["mqtt"]["connects"])
        devices = [MQTTDevice(n, i, args.rate, t0, ledger, broker_port, "telemetryhub/", broker,
                              random.Random(rng.random())) for i, n in enumerate(names, 1)]
        for d in devices:
            d.start()
        deadline = time.monotonic() + 20
        while not all(d.connected.is_set() for d in devices):
            if time.monotonic() > deadline:
                raise HarnessError("MQTT devices did not connect within 20 s")
            await asyncio.sleep(0.05)
        for d in devices:
            tasks.append(asyncio.create_task(d.generate()))
        for cycle in range(1, args.cycles + 1):
            uptime = rng.uniform(0.5, 3.0)
            await asyncio.sleep(uptime)
            start_no = broker.starts
            t_stop = time.monotonic()
            await broker.terminate()
            events.append((start_no, t_stop, f"SIGTERM of broker start {start_no} (cycle {cycle})"))
            acked = len(ledger.acked)
            broker.start()
            await broker.wait_listening()
            health = await hub.wait_healthy(timeout=60, mqtt_connects_above=connects)
            connects = int(health["mqtt"]["connects"])
            log(f"mqtt cycle {cycle}/{args.cycles}: broker stopped after {uptime:.2f} s; {acked} samples acked so "
                f"far; hub bridge connected again {(hub.healthy_at - t_stop) * 1000:.0f} ms later "
                f"(session_present={health['mqtt'].get('session_present')})")
            if hub.proc.poll() is not None:
                raise HarnessError(f"the hub exited with {hub.proc.returncode} during cycle {cycle}")
        await asyncio.sleep(2.0)
        for d in devices:
            d.generating = False
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks = []
        deadline = time.monotonic() + 15
        while any(d.unacked() for d in devices) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        unacked = sum(d.unacked() for d in devices)
        # Wait until the hub has caught up: every acked sample readable, or nothing new for 5 s (max 30 s).
        deadline = time.monotonic() + 30
        last_seen, last_change = -1, time.monotonic()
        while True:
            verdict = await verify(hub.base, ledger, names)
            if not verdict.lost and not verdict.http_errors:
                break
            if verdict.stored != last_seen:
                last_seen, last_change = verdict.stored, time.monotonic()
            if time.monotonic() - last_change > 5 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        health = await hub.healthz()
        m = health.get("mqtt", {})
        print(f"chaos mqtt: {args.cycles} broker restarts, {verdict.acked} samples acknowledged, "
              f"{len(verdict.lost)} lost, {verdict.extra} unacknowledged also stored", flush=True)
        print(f"  sent {len(ledger.sent)} samples in {sum(d.next_seq for d in devices)} messages, {verdict.stored} "
              f"stored, {unacked} messages never acked by the broker; hub bridge: {m.get('connects')} connects, "
              f"{m.get('messages')} messages, {m.get('samples')} samples, {m.get('malformed')} malformed, "
              f"{m.get('rejected')} rejected; devices: {sum(d.connects for d in devices)} connects; "
              f"{time.monotonic() - started:.1f} s", flush=True)
        for d in devices:
            for e in d.publish_errors:
                print(f"    publish error {d.name}: {e}")
        if verdict.phantom:
            print(f"  {len(verdict.phantom)} stored samples were never sent, e.g. {verdict.phantom[:5]}")
        for e in verdict.http_errors:
            print(f"  read-back error: {e}")
        failed = bool(verdict.lost or verdict.http_errors or verdict.phantom)
        if failed:
            describe_loss(verdict, events, "mqtt (live hub)")
        for d in devices:
            await asyncio.to_thread(d.close)
        if args.mqtt_restart_check:
            # A graceful stop and a fresh start of the hub: what it had must have been committed.
            rc, took = await hub.terminate()
            hub.start()
            await hub.wait_healthy(mqtt_connects_above=0)
            verdict2 = await verify(hub.base, ledger, names)
            print(f"  after SIGTERM (exit {rc}, {took:.1f} s) and a restart of the hub: {len(verdict2.lost)} lost, "
                  f"{verdict2.extra} unacknowledged also stored", flush=True)
            if verdict2.lost or verdict2.http_errors:
                failed = True
                describe_loss(verdict2, events, "mqtt (after the hub's restart)")
                for e in verdict2.http_errors:
                    print(f"  read-back error: {e}")
        if failed:
            exit_code = 1
            for path in hub.logs:
                print(f"  last 40 lines of {path}:\n{tail(path)}")
            print(f"  last 40 lines of {broker.log_path}:\n{tail(broker.log_path)}")
    finally:
        for d in devices:
            d.generating = False
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for d in devices:
            try:
                d.client.loop_stop()
            except Exception:
                pass
        hub.kill()
        if broker.proc and broker.proc.poll() is None:
            broker.proc.kill()
            broker.proc.wait()
    return exit_code


# --------------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("ws", "mqtt", "both"), default="both")
    parser.add_argument("--cycles", type=int, default=20, help="hub kills (ws) / broker restarts (mqtt); 20")
    parser.add_argument("--devices", type=int, default=8, help="devices per mode; 8")
    parser.add_argument("--rate", type=float, default=50.0, help="telemetry messages/s per device; 50")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill times (default: random, printed)")
    parser.add_argument("--bin", default=None,
                        help="the telemetryhub binary (default $TELEMETRYHUB_BIN or .build/debug/telemetryhub)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (kept anyway on failure)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a mode after this many s; 300")
    parser.add_argument("--mqtt-restart-check", action="store_true",
                        help="mqtt: after the check, stop the hub with SIGTERM, start it again and check once more")
    parser.add_argument("--hub-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for `serve` (repeatable; write --hub-arg=--storage --hub-arg=memory "
                             "to check that the checker does see a loss)")
    parser.add_argument("--verbose", action="store_true", help="log every device connection error")
    args = parser.parse_args()
    if args.cycles < 0 or args.devices < 1 or not (0 < args.rate <= 1000):
        parser.error("--cycles >= 0, --devices >= 1, 0 < --rate <= 1000")
    binary = Path(args.bin or os.environ.get("TELEMETRYHUB_BIN") or ROOT / ".build/debug/telemetryhub")
    if not binary.is_absolute():
        binary = (ROOT / binary) if not Path.cwd().joinpath(binary).exists() else Path.cwd() / binary
    if not os.access(binary, os.X_OK):
        print(f"chaos: no hub binary at {binary} (build it, or pass --bin / TELEMETRYHUB_BIN)", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    scratch = Path(tempfile.mkdtemp(prefix="telemetryhub-chaos."))
    log(f"chaos: seed {seed}, scratch {scratch}")
    modes = ["ws", "mqtt"] if args.mode == "both" else [args.mode]
    result = 0
    t_start = time.monotonic()
    try:
        for i, mode in enumerate(modes):
            rng = random.Random(seed * 10 + i)
            runner = run_ws if mode == "ws" else run_mqtt
            try:
                rc = asyncio.run(asyncio.wait_for(runner(args, binary, scratch, rng), args.timeout))
            except HarnessError as e:
                print(f"chaos {mode}: harness error: {e}", flush=True)
                rc = 2
            except (asyncio.TimeoutError, TimeoutError):
                print(f"chaos {mode}: gave up after {args.timeout:.0f} s", flush=True)
                for path in sorted(scratch.glob(f"{mode}-hub-*.log"))[-1:]:
                    print(f"  last 40 lines of {path}:\n{tail(path)}")
                rc = 2
            result = max(result, rc)
    finally:
        _kill_children()
        log(f"chaos: done in {time.monotonic() - t_start:.1f} s (seed {seed})")
        if args.keep or result != 0:
            log(f"chaos: scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
