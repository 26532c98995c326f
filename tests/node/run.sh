#!/usr/bin/env bash
# Runtime tests of the BUILT npm package (npm/, made by `deno task npm`):
#   1. pack check (tests/node/pack_check.mjs) on the machine's node;
#   2. `npm pack`, then a fresh Node ESM project `npm install`s the tarball;
#   3. in it, the conformance suite (tests/node/conformance.mjs) on Node 20 (the
#      machine's node), Node 22 and Bun, the remote suites against the servers
#      tests/node/services.ts runs under Deno;
#   4. a strict TypeScript project compiles against the installed .d.ts;
#   5. the README's Node quick start, run as written, twice (the second run
#      resumes), on each runtime; then `npx agentstate ls` on its database.
# Checks listed in tests/node/expected.mjs are expected to fail (reported, not
# counted as failed). Ends with "N passed, N failed, N expected to fail".
#
# Runtimes: NODE22 and BUN (paths) default to .tools/node22 and .tools/bun
# (`npm install --prefix .tools/node22 node@22`, `npm install --prefix .tools/bun bun`).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
node22=${NODE22:-$root/.tools/node22/node_modules/.bin/node}
bun=${BUN:-$root/.tools/bun/node_modules/.bin/bun}
passed=0 failed=0 expected=0

# Adds the counts of a runner's last "N passed, N failed[, N expected to fail]" line.
tally() { # label log status
  local line p f x
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
  if [ -z "$line" ]; then
    echo "$1: no result line (exit $3)"
    failed=$((failed + 1))
    return
  fi
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  x=$(echo "$line" | sed -nE 's/.*, ([0-9]+) expected to fail.*/\1/p')
  [ "$3" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  passed=$((passed + p)) failed=$((failed + f)) expected=$((expected + ${x:-0}))
  echo "$1: $line"
}
# One check: label, expected-key (or ""), then the command; its own pass/fail.
one() {
  local label=$1 key=$2 log reason
  shift 2
  log=$(mktemp)
  "$@" >"$log" 2>&1
  local status=$?
  reason=$(node -e 'import("./tests/node/expected.mjs").then((m) => console.log(m.EXPECTED_TO_FAIL[process.argv[1]] ?? ""))' "$key")
  if [ -n "$key" ] && [ -n "$reason" ]; then
    if [ $status -ne 0 ]; then
      expected=$((expected + 1))
      echo "$label: expected to fail: $reason"
      echo "  got (exit $status): $(grep -v '^\s*$' "$log" | head -1 | cut -c1-200)"
    else
      failed=$((failed + 1))
      echo "$label: FAILED: passed but '$key' is listed in tests/node/expected.mjs: remove it there"
    fi
  elif [ $status -eq 0 ]; then
    passed=$((passed + 1))
    echo "$label: ok"
  else
    failed=$((failed + 1))
    echo "$label: FAILED (exit $status)"
    sed 's/^/  /' "$log" | head -20
  fi
  rm -f "$log"
}
finish() {
  echo
  echo "runtimes: $passed passed, $failed failed, $expected expected to fail"
  echo "$passed passed, $failed failed, $expected expected to fail"
  [ "$failed" -eq 0 ]
  exit
}

[ -f npm/package.json ] || { echo "npm/ is not built: run deno task npm"; failed=1; finish; }
for bin in "$node22" "$bun"; do
  [ -x "$bin" ] || { echo "missing runtime $bin (see the header of $0)"; failed=$((failed + 1)); }
done
[ "$failed" -eq 0 ] || finish

echo "--- pack check (node $(node --version))"
log=$(mktemp)
node tests/node/pack_check.mjs npm >"$log" 2>&1
status=$?
grep -v '^ok - ' "$log"
tally "pack check" "$log" $status

mkdir -p tests/.tmp
work=$(mktemp -d "$root/tests/.tmp/npm-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "--- npm pack; a fresh project installs the tarball"
tarball=$(cd npm && npm pack --silent --pack-destination "$work") || { failed=$((failed + 1)); finish; }
app=$work/app
mkdir -p "$app"
printf '{ "name": "consumer", "private": true, "type": "module" }\n' >"$app/package.json"
if ! (cd "$app" && npm install --no-audit --no-fund --loglevel=error "$work/$tarball" >/dev/null); then
  echo "npm install of $tarball failed"
  failed=$((failed + 1))
  finish
fi
cp tests/node/conformance.mjs tests/node/expected.mjs "$app/"
# The README's Node quick start: the first ```js block after the "Install (npm)" heading.
awk '/^## Install \(npm\)/ { on = 1 } on && /^```js/ { code = 1; next } code && /^```/ { exit } code { print }' \
  README.md >"$app/quickstart.mjs"
[ -s "$app/quickstart.mjs" ] || { echo "README has no js block under '## Install (npm)'"; failed=$((failed + 1)); }

quickstart() { # runtime-command...: runs the quick start twice in a fresh directory; the second run resumes
  local dir out1 out2
  dir=$(mktemp -d "$app/qs-XXXXXX")
  out1=$(cd "$dir" && "$@" ../quickstart.mjs) || return 1
  out2=$(cd "$dir" && "$@" ../quickstart.mjs) || return 1
  echo "first: $out1 / second: $out2"
  [ "$out1" = "turns: 1, version: 1" ] && [ "$out2" = "turns: 2, version: 2" ]
}
cli() { # lists the sessions of a quick start database with the package's bin
  local dir
  dir=$(mktemp -d "$app/cli-XXXXXX")
  (cd "$dir" && node ../quickstart.mjs >/dev/null) || return 1
  local out
  out=$(cd "$app" && npx --no-install agentstate ls "file:$dir/sessions.db") || return 1
  echo "${out:-(no output)}"
  echo "$out" | grep -q chat-1
}

types() { # a strict TypeScript project compiles against every subpath's .d.ts (no DOM lib, no @types/node)
  node -e '
    const subpaths = Object.keys(require(process.argv[1]).exports).filter((s) => s.endsWith("package.json") === false);
    subpaths.forEach((s, i) => console.log(`import * as m${i} from "@agentstate/storage${s.slice(1)}";`));
    console.log(`export const all = [${subpaths.map((_, i) => `m${i}`).join(", ")}];`);
  ' "$root/npm/package.json" >"$app/check.ts" || return 1
  cat "$app/check.ts"
  (cd "$app" && "$root/.tools/npm-build/node_modules/.bin/tsc" --noEmit --strict --target es2022 --module nodenext \
    --moduleResolution nodenext --lib es2023,esnext.disposable check.ts)
}
one "types (tsc --strict, nodenext, on the installed package)" "" types

# The servers the remote suites need (redis-server + Upstash bridge, Hrana), run by Deno from tests/support.
coproc SERVICES { deno run --allow-all tests/node/services.ts; }
services_pid=$SERVICES_PID
if read -r -t 60 services_json <&"${SERVICES[0]}" && [ "${services_json:0:1}" = "{" ]; then
  export AGENTSTATE_SERVICES=$services_json
else
  echo "tests/node/services.ts did not start (needs deno and redis-server): remote suites not run"
  failed=$((failed + 1))
fi

for rt in "node20:node" "node22:$node22" "bun:$bun"; do
  label=${rt%%:*} bin=${rt#*:}
  echo "--- $label ($("$bin" --version))"
  log=$(mktemp)
  (cd "$app" && "$bin" conformance.mjs) >"$log" 2>&1
  status=$?
  grep -vE '^[0-9]+ passed' "$log"
  tally "$label conformance" "$log" $status
  one "$label quick start (README, run twice)" "" quickstart "$bin"
done
exec {SERVICES[1]}>&-
wait "$services_pid"
echo "--- bin"
one "npx agentstate ls (node20)" cli cli
finish
