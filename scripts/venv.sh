# Sourced by start.sh and test.sh: make or reuse the project's virtual environment (.venv/) and install a
# requirements file into it only when that file changed since the last install.
#
# A virtual environment because Debian 12 and Ubuntu 24.04 refuse `pip install` into their own Python
# (PEP 668, "externally-managed-environment"). Any Python 3.11+ works: set PYTHON=/path/to/python to choose
# one; the default is the first python3 on PATH (the distribution's, pyenv's or python.org's).

PYTHON=${PYTHON:-python3}
VENV=.venv

apt_or_say() {  # apt_or_say WHY PACKAGE...: install through apt when root, else print the one command needed
  local why=$1
  shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing $* with apt-get ($why)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: $why. Run this once, then try again:" >&2
    echo "    sudo apt-get install -y $*" >&2
    exit 1
  fi
}

ensure_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    return
  fi
  command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found; install Python 3.11 or newer" >&2; exit 1; }
  # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package, python3.X-venv.
  if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt_or_say "$PYTHON cannot make a virtual environment with pip" \
      "python$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
  fi
  rm -rf "$VENV"  # a half-made or broken one from an earlier failed attempt
  "$PYTHON" -m venv "$VENV"
  echo "Made $VENV with $("$VENV/bin/python" --version)" >&2
}

install_once() {  # install_once REQUIREMENTS_FILE: pip install -r it unless it (and what it includes) is unchanged
  local file=$1 stamp="$VENV/.installed-$(basename "$1")" digest
  digest=$(cat "$file" requirements.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ]; then
    return
  fi
  echo "Installing $file into $VENV (once; later runs skip this)" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$file"
  echo "$digest" >"$stamp"
}
