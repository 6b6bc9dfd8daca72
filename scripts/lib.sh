# Shared by scripts/run and scripts/test: a .venv with the project installed (editable).
# Reinstalls only when pyproject.toml changed since the last install.
ensure_venv() {
  local extras="$1" python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or newer is needed; '$python' is $("$python" --version 2>&1). Set PYTHON=..." >&2
    exit 1
  fi
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  local stamp=".venv/.installed${extras}" want
  want=$(sha256sum pyproject.toml)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing into .venv (first run takes a minute) ..." >&2
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".${extras}"
    echo "$want" > "$stamp"
  fi
}
