# Sourced by scripts/test.sh, scripts/demo.sh and the benchmark: installs the moto
# S3/DynamoDB emulator into a virtualenv under target/ and starts it on loopback.
MOTO_VERSION=5.2.1
MOTO_VENV=${MOTO_VENV:-$(pwd)/target/moto-venv}

ensure_moto() {
  if [ -x "$MOTO_VENV/bin/moto_server" ] && "$MOTO_VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    return 0
  fi
  mkdir -p "$(dirname "$MOTO_VENV")"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

# start_moto: starts the emulator on a free loopback port; sets MOTO_URL and MOTO_PID.
start_moto() {
  ensure_moto
  local port
  port=$("$MOTO_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"${MOTO_LOG:-/dev/null}" 2>&1 &
  MOTO_PID=$!
  MOTO_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if "$MOTO_VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$MOTO_URL/moto-api/', timeout=1)" 2>/dev/null; then
      export MOTO_URL MOTO_PID
      return 0
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      echo "moto server exited at start" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "moto server did not answer on $MOTO_URL" >&2
  return 1
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}
