"""scripts/venv.sh, which both README commands use: what it does where Python cannot make a virtual environment,
and that it installs requirements once, not on every start. Stubs on PATH stand in for apt-get, id and Python;
CI itself runs scripts/test.sh with Debian's own python3, which covers the real path."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stub(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def run_venv_sh(tmp_path: Path, calls: str, uid: int) -> subprocess.CompletedProcess:
    """Source venv.sh in an empty folder with stubbed `id`, `apt-get` and a Python without venv support."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub(bin_dir, "id", f"echo {uid}")
    stub(bin_dir, "apt-get", f'echo "$*" >> {tmp_path}/apt.log')
    no_venv = 'case "$*" in *ensurepip*) exit 1;; *version_info*) echo 3.11;; *) exit 3;; esac'
    python = stub(bin_dir, "python3-stub", no_venv)
    work = tmp_path / "repo"
    work.mkdir(exist_ok=True)
    script = f"set -euo pipefail; source {ROOT}/scripts/venv.sh; {calls}"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHON": str(python)}
    return subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=60)


def test_without_root_it_prints_the_one_apt_command_needed(tmp_path):
    result = run_venv_sh(tmp_path, "ensure_venv", uid=1000)
    assert result.returncode == 1
    assert "sudo apt-get install -y python3.11-venv" in result.stderr
    assert not (tmp_path / "apt.log").exists() and not (tmp_path / "repo" / ".venv").exists()


def test_as_root_it_installs_the_venv_package_through_apt(tmp_path):
    run_venv_sh(tmp_path, "ensure_venv", uid=0)  # the stub Python still fails afterwards; apt was asked
    log = (tmp_path / "apt.log").read_text().splitlines()
    assert log[0] == "update -qq" and log[1] == "install -y -qq python3.11-venv"


def test_requirements_are_installed_once_and_again_only_when_they_change(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".venv" / "bin").mkdir(parents=True)
    stub(repo / ".venv" / "bin", "python", f'echo "$*" >> {tmp_path}/pip.log')
    (repo / "requirements.txt").write_text("numpy\n")
    (repo / "requirements-dev.txt").write_text("-r requirements.txt\npytest\n")
    for _ in range(2):
        assert run_venv_sh(tmp_path, "install_once requirements-dev.txt", uid=1000).returncode == 0
    assert (tmp_path / "pip.log").read_text().count("install") == 1
    (repo / "requirements.txt").write_text("numpy\nonnx\n")  # what the dev file includes changed
    assert run_venv_sh(tmp_path, "install_once requirements-dev.txt", uid=1000).returncode == 0
    assert (tmp_path / "pip.log").read_text().count("install") == 2
