"""A box of a given size for the server, as a hosted container gives one: a cgroup with a memory limit and a CPU
quota, which the server and its training workers run inside while the load and the browser stay outside.

    with Box("unrolled-bench", memory_mb=690, cores=1.0) as box:
        with streamlit_server(prefix=box.enter) as (url, server):
            ...
        box.peak_mb, box.oom_kills, box.throttled, box.throttled_seconds

Needs root, and a cgroup v1 (the `cpu` and `memory` controllers mounted apart, as on these machines) or v2
hierarchy that lets it make groups. `systemd-run --scope -p MemoryMax=690M -p CPUQuota=100%` or
`docker run --memory=690m --cpus=1` make the same box where they are available.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
PERIOD_US = 100_000  # the CFS period: the quota is spent (and the box throttled) within each 100 ms


class Box:
    def __init__(self, name: str, memory_mb: int, cores: float, root: Path = CGROUP):
        self.name, self.memory_mb, self.cores = name, memory_mb, cores
        self.v2 = (root / "cgroup.controllers").exists()
        self.cpu = root / name if self.v2 else root / "cpu" / name
        self.memory = root / name if self.v2 else root / "memory" / name
        self.peak_mb = 0.0  # the most that was resident in the box (rss and mapped files), sampled
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self.sample, daemon=True)

    @property
    def enter(self) -> tuple[str, ...]:
        """A command prefix that moves the command into the box before it runs (its children stay in)."""
        procs = " ".join(sorted({str(self.cpu / "cgroup.procs"), str(self.memory / "cgroup.procs")}))
        return ("sh", "-c", f'for f in {procs}; do echo $$ > "$f"; done; exec "$@"', "box")

    def __enter__(self) -> Box:
        for folder in {self.cpu, self.memory}:
            folder.mkdir(exist_ok=True)
        limit = str(self.memory_mb * 1024 * 1024)
        if self.v2:
            (self.cpu / "cpu.max").write_text(f"{int(self.cores * PERIOD_US)} {PERIOD_US}")
            (self.memory / "memory.max").write_text(limit)
            (self.memory / "memory.swap.max").write_text("0")
        else:
            (self.cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.cpu / "cpu.cfs_quota_us").write_text(str(int(self.cores * PERIOD_US)))
            (self.memory / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):  # only where swap accounting is on
                (self.memory / "memory.memsw.limit_in_bytes").write_text(limit)
        self.throttled_at_start = self.throttled
        self.waited_at_start = self.throttled_seconds
        self.sampler.start()
        return self

    def resident_mb(self) -> float:
        stat = dict(line.split() for line in (self.memory / "memory.stat").read_text().splitlines())
        if self.v2:
            return (int(stat["anon"]) + int(stat["file_mapped"])) / 2**20
        return (int(stat["total_rss"]) + int(stat["total_mapped_file"])) / 2**20

    def sample(self) -> None:
        while not self.stop.wait(0.25):
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.peak_mb = max(self.peak_mb, self.resident_mb())

    @property
    def oom_kills(self) -> int:
        name = "memory.events" if self.v2 else "memory.oom_control"
        for line in (self.memory / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def cpu_stat(self, key: str) -> int:
        for line in (self.cpu / "cpu.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
        return 0

    @property
    def throttled(self) -> int:
        """Periods in which the box ran out of quota."""
        return self.cpu_stat("nr_throttled")

    @property
    def throttled_seconds(self) -> float:
        """How long the box has waited for its quota, all periods together."""
        if self.v2:
            return self.cpu_stat("throttled_usec") / 1e6
        return self.cpu_stat("throttled_time") / 1e9

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.sampler.join(2)
        self.throttled_in_run = self.throttled - self.throttled_at_start
        self.waited_in_run = self.throttled_seconds - self.waited_at_start
        self.oom_kills_in_run = self.oom_kills
        for folder in {self.cpu, self.memory}:
            with contextlib.suppress(OSError):  # busy while a straggler is still inside; left for the next run
                folder.rmdir()
