# Shared by scripts/run and scripts/test: a .venv with the project installed (editable), and
# each plugin package of plugins/ beside it (editable: found through its entry point).
# Reinstalls only when pyproject.toml or a plugin's changed since the last install.
ensure_venv() {
  local extras="$1" python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or newer is needed; '$python' is $("$python" --version 2>&1). Set PYTHON=..." >&2
    exit 1
  fi
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  local stamp=".venv/.installed${extras}" want plugin
  local projects=(pyproject.toml) editable=(-e ".${extras}")
  for plugin in plugins/*/; do
    [ -f "${plugin}pyproject.toml" ] || continue
    projects+=("${plugin}pyproject.toml")
    editable+=(-e "$plugin")
  done
  want=$(sha256sum "${projects[@]}")
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing into .venv (first run takes a minute) ..." >&2
    .venv/bin/python -m pip install -q --upgrade pip
    # One resolve for all: a plugin depends on live-progress, which the first -e provides.
    .venv/bin/python -m pip install -q "${editable[@]}"
    echo "$want" > "$stamp"
  fi
}
