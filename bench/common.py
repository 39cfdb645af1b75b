"""What the browser benchmarks share: starting `streamlit run` on a free port, Chromium, and /proc readings."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
LABEL = "Type here: every model guesses the next character"

# Page-side helpers for a benchmark's init script (joined in front of it): `within(node, selector)` climbs out
# of the components' shadow roots, and `observeEverywhere(observer)` watches the document and every shadow
# root made after it, so DOM changes inside components are seen too.
SHADOW_HELPERS = """
const within = (node, selector) => {
  for (; node; node = node.parentNode || node.host) if (node.nodeType === 1 && node.matches(selector)) return true;
  return false;
};
const observeEverywhere = (observer) => {
  const options = { subtree: true, childList: true, characterData: true, attributes: true };
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    observer.observe(root, options);
    return root;
  };
  observer.observe(document, options);
};
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> int:
    """A port P with P .. P + count - 1 all free now: scripts/serve.sh puts nginx on P and its processes on the
    ports after it (a free P alone left a process's port taken, now and then, and serve.sh stopped)."""
    for _ in range(100):
        base = free_port()
        if base + count > 65536:
            continue
        try:
            with contextlib.ExitStack() as held:
                for port in range(base, base + count):
                    s = held.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} free ports in a row")


class NotHealthy(RuntimeError):
    pass


def wait_healthy(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> float:
    """Seconds until `url`'s health check answers ok (the one place tests, benchmarks and
    scripts/check-pythons.sh wait for a server); NotHealthy after `timeout`, or as soon as `proc` exits."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return time.perf_counter() - began
        if proc is not None and proc.poll() is not None:
            raise NotHealthy(f"the server for {url} stopped with exit code {proc.returncode}")
        time.sleep(0.05)
    raise NotHealthy(f"{url} did not become healthy in {timeout:.0f} s")


@contextlib.contextmanager
def streamlit_server(
    root: Path = ROOT,
    app: str = "app.py",
    extra: tuple[str, ...] = (),
    env: dict | None = None,
    base: str = "",
    prefix: tuple[str, ...] = (),
):
    """`streamlit run` in `root` on a free port, with `env` added to the environment (some options, such as
    the cookie secret, are refused as flags) and `base` its server.baseUrlPath; yields (url, process), the
    url including the base path. `prefix` goes before the command (bench/box.py's, to run it in a box)."""
    port = free_port()
    cmd = [
        *prefix,
        sys.executable,
        "-m",
        "streamlit",
        "run",
        app,
        "--server.headless",
        "true",
        "--server.port",
        str(port),
    ]
    cmd += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", *extra]
    if base:
        cmd += ["--server.baseUrlPath", base]
    environ = {**os.environ, **(env or {})}
    log_path = environ.get("UNROLLED_BENCH_LOG")  # a file for the server's log, for a run that needs looking into
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (the server writes it until the end)
    proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=log, env=environ)
    url = f"http://127.0.0.1:{port}" + (f"/{base.strip('/')}" if base else "")
    try:
        wait_healthy(url, proc=proc)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            log.close()


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process so far, or of one of its threads (from /proc; clock ticks)."""
    path = Path(f"/proc/{pid}/stat") if thread is None else Path(f"/proc/{pid}/task/{thread}/stat")
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    """q in 0..100, linear interpolation (statistics.quantiles with the inclusive method)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if 0 < q < 100 else max(values)


def summary(values: list[float], unit: str = "ms") -> str:
    return (
        f"median {statistics.median(values):7.1f} {unit}, p95 {percentile(values, 95):7.1f} {unit}, "
        f"max {max(values):7.1f} {unit} (n = {len(values)})"
    )
