#!/usr/bin/env bash
# run.sh - the whole Ratusz test suite, as CI runs it.
#
#   tests/run.sh              1. build/ (gcc, RelWithDebInfo, -Werror):
#                                unit + integration tests (every label but fuzz)
#                             2. build-asan/ (clang, ASan + UBSan, -Werror):
#                                every test again, and the libFuzzer targets
#                                (30 s each)
#   tests/run.sh --quick      step 1 only
#   tests/run.sh -- ARGS      pass ARGS to both ctest runs (e.g. -R store)
#
# Installs missing packages first (deploy/install-deps.sh --with-test-tools;
# that needs root or sudo only when something is missing). Ends with one line
# "N passed, N failed" over both runs, and exits non-zero if anything failed
# or could not be built.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }

quick=no
ctest_args=()
while (($#)); do
    case "$1" in
        --quick) quick=yes ;;
        -h|--help) usage; exit 0 ;;
        --) shift; ctest_args=("$@"); break ;;
        *) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

JOBS=$(nproc 2>/dev/null || echo 2)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

if [[ -t 1 ]]; then
    B=$'\033[1m' R=$'\033[31m' G=$'\033[32m' N=$'\033[0m'
else
    B='' R='' G='' N=''
fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }

total_passed=0
total_failed=0
total_skipped=0
problems=()

# --- dependencies ------------------------------------------------------------
step "Checking dependencies"
if ! deploy/install-deps.sh --with-test-tools; then
    if ((EUID != 0)) && command -v sudo >/dev/null; then
        sudo deploy/install-deps.sh --with-test-tools
    else
        exit 1
    fi
fi

# --- one pass: configure, build, ctest ----------------------------------------
# run_pass NAME DIR CTEST_FILTER... -- CMAKE_ARGS...
run_pass() {
    local name=$1 dir=$2
    shift 2
    local filter=()
    while [[ $1 != -- ]]; do filter+=("$1"); shift; done
    shift

    step "$name: configure $dir/"
    if ! cmake -S . -B "$dir" -DRZ_TESTS=ON "$@"; then
        problems+=("$name: cmake configure failed")
        total_failed=$((total_failed + 1))
        return
    fi

    step "$name: build ($JOBS jobs)"
    if ! cmake --build "$dir" -j"$JOBS"; then
        problems+=("$name: build failed")
        total_failed=$((total_failed + 1))
        return
    fi

    step "$name: ctest ${filter[*]} ${ctest_args[*]:-}"
    local log=$dir/ctest-run.log rc=0 started=$SECONDS
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 \
        "${filter[@]}" "${ctest_args[@]}" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}

    # "67% tests passed, 1 tests failed out of 3"; ctest counts a skipped
    # test (exit 77) as passed, so skipped ones are taken out again.
    local line failed=0 total=0 skipped=0
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" |
        tail -n1 || true)
    if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
        failed=${BASH_REMATCH[1]}
        total=${BASH_REMATCH[2]}
        skipped=$(grep -cE '^[[:space:]]+[0-9]+ - .* \((Skipped|Disabled)\)$' "$log" || true)
    elif grep -q 'No tests were found' "$log"; then
        problems+=("$name: no tests were found")
        failed=1
    else
        problems+=("$name: ctest exited with $rc and printed no summary")
        failed=1
    fi
    if ((rc != 0 && failed == 0)); then
        problems+=("$name: ctest exited with $rc")
        failed=1
    fi
    if ((skipped)); then
        # which ones: each prints why (a missing tool, or not under ASan)
        local names
        names=$(grep -E '^[[:space:]]+[0-9]+ - .* \((Skipped|Disabled)\)$' "$log" |
            awk '{print $3}' | paste -sd, -)
        problems+=("$name: skipped $names (their output says why)")
    fi

    local passed=$((total - failed - skipped))
    ((passed >= 0)) || passed=0
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
    echo "$name: $passed passed, $failed failed, $skipped skipped" \
        "in $((SECONDS - started)) s"
}

# Every option is given explicitly: deploy/demo.sh configures the same build/
# directory (Release, no tests), and CMake would otherwise keep its values.
run_pass "gcc" build -LE fuzz -- \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRZ_WERROR=ON \
    -DRZ_SANITIZE=OFF -DRZ_FUZZ=OFF

if [[ $quick == no ]]; then
    # Every label, fuzz included; each fuzz target stops itself after 30 s
    # (-max_total_time=30, see tests/CMakeLists.txt).
    run_pass "asan" build-asan -- \
        -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DRZ_SANITIZE=ON -DRZ_WERROR=ON -DRZ_FUZZ=ON
fi

# --- summary -------------------------------------------------------------------
echo
for p in "${problems[@]}"; do
    printf '%s%s%s\n' "$R" "$p" "$N"
done
if [[ $quick == yes ]]; then
    echo "(--quick: the ASan/UBSan and fuzz pass was not run)"
fi
if ((total_failed == 0)); then
    printf '%sall tests passed%s\n' "$G" "$N"
fi
# The last line is what CI reads: keep it plain.
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
