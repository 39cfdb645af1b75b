"""How much CPU training may take: the box's cores, what else runs in it, and each worker's share of what is left.

A hosted app runs in a container whose CPU limit is a quota (cgroup `cpu.max`, or v1's `cpu.cfs_quota_us`):
whatever the training workers burn counts against it, and once a period's quota is spent the whole box, the
server included, waits for the next period. A worker at the lowest priority still burns the quota while the
server idles between keystrokes, so priority alone does not protect the people typing: in a one-core box, 100
typists waited p95 194 ms beside a nice-19 worker, and 61 ms beside one held to a quarter of a core. So the
workers keep to a share of the cores, set from what everything else in the box used lately (Governor): in a
box with a quota, the server process itself; on a machine without one, every process but the workers (from
/proc/stat). They run at full speed only while nothing else does.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

IDLE = 0.1  # cores: while everything else uses less than this, nobody needs the CPU
# A core (or the box, if it is smaller): what training keeps however busy the box is, so that a job still makes
# progress. It trades the job's speed against the typists' latency: with 100 typists in a one-core box the server
# uses about 0.55 of a core, and once server and worker together pass about 0.95 the box runs out of quota in most
# periods (at 0.34 one run gave typing p95 292 ms; `python -m bench.training_load --box 690 1`). Above the floor,
# the box's own waits for quota decide (Governor).
FLOOR = 0.32
HEADROOM = 1.5  # the workers leave the others this many times their recent use, for their bursts
WINDOW = 1.0  # seconds of the others' use that set the share
# The part of the time a box may stand still for want of quota while the workers take more than the floor: at
# about this, 100 typists in a one-core box typed at p95 20-37 ms (`python -m bench.training_load --box 690 1`).
WAIT_TARGET = 0.05
RISE = 0.04  # cores a second the workers' extra share climbs while the box waits less than that
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _quota_v2(folder: Path) -> float | None:
    quota, period = (folder / "cpu.max").read_text().split()[:2]
    return None if quota == "max" else int(quota) / int(period)


def _quota_v1(folder: Path) -> float | None:
    quota = int((folder / "cpu.cfs_quota_us").read_text())
    period = int((folder / "cpu.cfs_period_us").read_text())
    return quota / period if quota > 0 and period > 0 else None


def _waited_v2(folder: Path) -> float:
    return _stat(folder, "throttled_usec") / 1e6


def _waited_v1(folder: Path) -> float:
    return _stat(folder, "throttled_time") / 1e9


def _stat(folder: Path, key: str) -> int:
    for line in (folder / "cpu.stat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    raise ValueError(f"no {key} in {folder / 'cpu.stat'}")


def _up_from(base: Path, group: str) -> list[Path]:
    """The folder of `group` under a controller's mount, then each parent up to the mount itself."""
    parts = [p for p in group.strip("/").split("/") if p]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _quotas(proc_cgroup: Path, root: Path) -> list[tuple[float, Path, Callable[[Path], float]]]:
    """(cores, folder, how to read the seconds it has waited for its quota) for each group with a CPU quota, over
    this process's own cgroup and all its parents as /proc/self/cgroup names them; cgroup v2, v1, or both."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = ["0::/"]
    found = []
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers == "":  # v2: the unified hierarchy, at the root or beside v1's under unified/
            mounts, read, waited = [root, root / "unified"], _quota_v2, _waited_v2
        elif "cpu" in controllers.split(","):
            mounts, read, waited = [root / controllers, root / "cpu"], _quota_v1, _waited_v1
        else:
            continue
        for mount in mounts:
            for folder in _up_from(mount, group):
                try:
                    quota = read(folder)
                except (OSError, ValueError):
                    continue
                if quota:
                    found.append((quota, folder, waited))
    return found


def cgroup_cores(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The tightest CPU quota, in cores, over this process's own cgroup and all its parents (a nested group, or a
    box made by hand, sets its quota below the root). None when no group has a quota."""
    quotas = _quotas(proc_cgroup, root)
    return min(q for q, _, _ in quotas) if quotas else None


def quota_waits(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> Callable[[], float] | None:
    """A clock of the seconds the tightest quota's group has been throttled (waited for its next period, every
    process in it stopped), from its cpu.stat; None without a quota or a readable counter."""
    quotas = _quotas(proc_cgroup, root)
    if not quotas:
        return None
    _, folder, waited = min(quotas, key=lambda q: q[0])
    try:
        waited(folder)
    except (OSError, ValueError):
        return None

    def clock() -> float:
        try:
            return waited(folder)
        except (OSError, ValueError):
            return 0.0

    return clock


def box_cores() -> float:
    """Cores this process may use: its CPU affinity, capped by its cgroups' quota (may be fractional).
    os.cpu_count() counts the host's CPUs, which on a hosted container can be many more than it may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cores()
    return min(float(cores), quota) if quota else float(cores)


def share(cores: float, others_use: float, workers: int = 1) -> float:
    """Cores one worker may use: all it can (one, a worker being one thread) while nothing else runs; otherwise
    what the others leave with HEADROOM, never below FLOOR of a core (or of a smaller box), split between the
    workers."""
    if others_use < IDLE:
        return 1.0
    left = cores - HEADROOM * others_use
    return min(1.0, max(FLOOR * min(cores, 1.0), left) / workers)


def machine_busy() -> float | None:
    """Seconds of CPU every process on the machine has used, all CPUs together (/proc/stat); None without it."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / TICKS


def others_cpu(boxed: bool, workers: Callable[[], list[int]]) -> Callable[[], float]:
    """A clock of the CPU seconds used by everything the workers share the box with. In a box with a quota that
    is the server process (a container holds nothing else); on a machine without one, every other process, so
    that a worker also leaves room for what runs beside the server."""
    if boxed or machine_busy() is None:
        return time.process_time
    return lambda: (machine_busy() or 0.0) - sum(process_cpu(pid) or 0.0 for pid in workers())


def process_cpu(pid: int) -> float | None:
    """Seconds of CPU a process has used (all its threads), from /proc; None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


class Governor:
    """The others' recent CPU use (`cpu`: a clock of their CPU seconds, from others_cpu), sampled by the pool's
    threads, and the share it leaves a worker. The busiest sample of the last WINDOW seconds counts, so a burst
    of typing lowers the share at once and a lull raises it only after a second.

    In a box with a quota, `waited` (quota_waits) tells how long the whole box has just stood still for want of
    quota, which is what the people typing feel. While that stays under WAIT_TARGET of the time the workers'
    share climbs above what the others' use leaves (by RISE cores a second); the moment it passes, the extra
    halves. So a job takes the slack the server's bursts leave, and gives it back as soon as the box runs out."""

    def __init__(self, cores: float, workers: int, clock=time.monotonic, cpu=time.process_time, waited=None):
        self.cores, self.workers, self.clock, self.cpu, self.waited = cores, workers, clock, cpu, waited
        self.previous: tuple[float, float, float] | None = None  # (wall, the others' CPU, box waited) then
        self.uses: deque[tuple[float, float]] = deque()  # (wall, cores used since the sample before)
        self.extra = 0.0  # cores the workers take above share(), while the box has quota to spare

    def sample(self) -> float:
        """The share one worker may take now."""
        now, cpu = self.clock(), self.cpu()
        waited = self.waited() if self.waited is not None else 0.0
        wait_fraction = 0.0
        if self.previous is not None and now - self.previous[0] > 1e-3:
            then, cpu_then, waited_then = self.previous
            self.uses.append((now, max(0.0, cpu - cpu_then) / (now - then)))  # 0 as a worker is replaced
            wait_fraction = max(0.0, waited - waited_then) / (now - then)
        elapsed = now - self.previous[0] if self.previous is not None else 0.0
        self.previous = (now, cpu, waited)
        while self.uses and now - self.uses[0][0] > WINDOW:
            self.uses.popleft()
        use = max((u for _, u in self.uses), default=0.0)
        base = share(self.cores, use, self.workers)
        if self.waited is None or base >= 1.0:
            self.extra = 0.0
            return base
        if wait_fraction > WAIT_TARGET:
            self.extra /= 2
        else:
            self.extra = min(self.cores, self.extra + RISE * elapsed)
        return min(1.0, base + self.extra / self.workers)
