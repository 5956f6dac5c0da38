#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of what parses untrusted bytes on the
# receiver's request path: the event parser and the webhook signature verifier.
#
#   bench/fuzz.sh                       # both targets, FUZZ_SECS=300 each, one after the other
#   FUZZ_SECS=3600 bench/fuzz.sh verify_signature
#
# Needs the nightly toolchain (rustup toolchain install nightly) and cargo-fuzz (installed
# here from crates.io when missing). The corpus in fuzz/corpus/<target> is kept in git: a
# run starts from it and adds what it finds; `cargo +nightly fuzz cmin -O <target>` keeps
# it small. A crash is written to fuzz/artifacts/<target>/ and the script fails; replay it
# with `cargo +nightly fuzz run -O <target> <file>`, fix it, and pin it as a plain test.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECS="${FUZZ_SECS:-300}"
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(event_parse verify_signature)

cargo +nightly --version >/dev/null 2>&1 ||
  { echo "FAIL: the nightly toolchain is needed (rustup toolchain install nightly)" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
  cargo install cargo-fuzz --locked >&2
fi

fail=0
for t in "${targets[@]}"; do
  case "$t" in
    event_parse) max_len=8192 ;;
    verify_signature) max_len=4096 ;;
    *) echo "FAIL: unknown target $t (event_parse, verify_signature)" >&2; exit 2 ;;
  esac
  mkdir -p "fuzz/corpus/$t"
  # Seed the parser with the sample webhooks the first time.
  if [[ "$t" == event_parse && -z "$(ls -A fuzz/corpus/$t)" ]]; then
    cp fixtures/webhooks/*.json "fuzz/corpus/$t/"
  fi
  log="$(mktemp)"
  echo "fuzzing $t for ${FUZZ_SECS}s" >&2
  if cargo +nightly fuzz run -O "$t" -- -max_total_time="$FUZZ_SECS" -max_len="$max_len" >"$log" 2>&1; then
    runs="$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)"
    echo "  PASS  $t: $runs(s), $cov, no crash"
  else
    echo "  FAIL  $t: see the artifact below"
    grep -E 'panicked|SUMMARY|Test unit written' "$log" | head -5
    fail=1
  fi
  rm -f "$log"
done
if [[ "$fail" == 0 ]]; then echo "VERDICT: PASS"; else echo "VERDICT: FAIL"; exit 1; fi
