#!/usr/bin/env bash
# valgrind memcheck over the task and executor tests (the raw task allocation, wakers, run
# queues): a second opinion next to ci/asan.sh, on the uninstrumented debug build that
# `cargo test` already made. Fails on any memcheck error or definite/indirect leak.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
    echo "valgrind not installed: skipped"
    exit 0
fi
for test in current_thread multi_thread; do
    binary=$(cargo test --test "$test" --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p')
    echo "== valgrind $test ($binary)"
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        "$binary" --test-threads=1
done
