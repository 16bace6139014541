#!/usr/bin/env bash
# A short, bounded fuzzing run of every target for CI (see fuzz/README.md for long campaigns).
#
#   bash fuzz/run_ci.sh                 # each target for FUZZ_SECONDS (default 20) seconds
#   FUZZ_SECONDS=60 bash fuzz/run_ci.sh params token
#
# Needs atheris in the interpreter ($PYTHON, default .venv/bin/python). New corpus entries go to a
# scratch folder, never into fuzz/corpus/. Prints executions and execs/s per target; exits non-zero
# if any target crashes (the reproducing input is printed in base64 and kept in the output folder:
# $FUZZ_OUT if set, else a temporary folder, removed after a run without crashes).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
SECONDS_EACH=${FUZZ_SECONDS:-20}
OUT=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fuzz-ci.XXXXXX")}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(params token path)

if ! "$PYTHON" -c 'import atheris' 2>/dev/null; then
  echo "fuzz: atheris is not installed in $PYTHON (pip install atheris)" >&2
  exit 2
fi

status=0
started=$(date +%s)
for target in "${TARGETS[@]}"; do
  script="fuzz/fuzz_${target}.py"
  seeds="fuzz/corpus/${target}"
  if [ ! -f "$script" ] || [ ! -d "$seeds" ]; then
    echo "fuzz: no target $target ($script, $seeds)" >&2
    status=2
    continue
  fi
  mkdir -p "$OUT/$target"
  log="$OUT/$target.log"
  # -timeout: one input taking over 10 s is reported (catastrophic backtracking, quadratic loops).
  "$PYTHON" "$script" "$OUT/$target" "$seeds" \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$OUT/$target-" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$OUT/$target" -type f | wc -l)
  echo "fuzz: $target: ${runs:-?} executions, ${speed:-?} execs/s, $corpus new corpus entries, exit $rc"
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "fuzz: $target FAILED; the end of its log ($log):"
    grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)|^INFO: Instrumenting' "$log" | tail -60
    for artifact in "$OUT/$target"-*; do
      [ -f "$artifact" ] || continue
      echo "fuzz: reproducer $artifact (base64): $(base64 -w0 "$artifact")"
      echo "fuzz: reproduce with: $PYTHON $script $artifact"
    done
  fi
done
elapsed=$(( $(date +%s) - started ))
if [ "$status" -eq 0 ] && [ -z "${FUZZ_OUT:-}" ]; then
  rm -rf "$OUT"  # nothing to keep: the new corpus entries of a short run are not worth it
  echo "fuzz: ${#TARGETS[@]} targets in $elapsed s, no crash"
else
  echo "fuzz: ${#TARGETS[@]} targets in $elapsed s; logs, corpus and crashes in $OUT"
fi
exit "$status"
