#!/usr/bin/env bash
# The mutation catalogue: plants each bug of ci/mutants/*.mutant in a scratch copy of the tree,
# one at a time, and runs the loom models the mutant names. A mutant is KILLED when one of
# its models fails (a panic, a loom-reported race, deadlock or leak, or the time limit);
# it SURVIVED when they all pass. Prints a table; exits non-zero if any mutant survived,
# did not apply or did not build.
#
#   ci/mutants.sh                 every mutant
#   ci/mutants.sh 'task_*' ring_push_tail_relaxed     a subset, by name (shell globs)
#
# Environment: LOOM_MAX_PREEMPTIONS (default 3; models with their own bound keep it),
# MUTANT_TIME_LIMIT (seconds per model run, default 300), MUTANTS_TABLE (also write the
# table to this file).
#
# Mutant files (see ci/mutants/README.md): `file:`, optional `after:` (a unique anchor line;
# the search region is the block that starts there), `from:` (one exact line, compared
# without its leading and trailing whitespace, that must occur exactly once in the region),
# one or more `to:` lines (they replace it, under its indentation), `models:` (loom test
# names, tried in order), `area:`. Lines starting with `#` are comments.
#
# The run works on the tree as it was when it started: it first copies the tree's files
# (tracked and untracked, not ignored) to target/mutants-src.pristine, then builds in the
# scratch copy target/mutants-src, reads the mutants from the pristine copy and restores each
# mutated file from it. Edits made to the tree while it runs (this script included: bash has
# read all of it before the run starts) reach the next run only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SRC=$ROOT/target/mutants-src
export CARGO_TARGET_DIR=$ROOT/target/mutants-loom
export RUSTFLAGS="--cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export CARGO_TERM_COLOR=never
# Each mutant rebuilds the crate alone; incremental compilation lets the optimiser reuse the
# code of every function the one-line change did not touch.
export CARGO_PROFILE_RELEASE_INCREMENTAL="${CARGO_PROFILE_RELEASE_INCREMENTAL:-true}"
LIMIT="${MUTANT_TIME_LIMIT:-300}"

trim() {
  local s=$1
  s="${s#"${s%%[![:space:]]*}"}"
  s="${s%"${s##*[![:space:]]}"}"
  printf '%s' "$s"
}

indent_of() {
  local s=$1
  printf '%s' "${s%%[![:space:]]*}"
}

# --- the copies. mirror FROM TO: makes TO hold exactly the files listed in $SRC.files, as
# they are in FROM, copying only those that differ, so cargo rebuilds incrementally. `cp`
# (not `cp -p`) gives every copied file a fresh mtime, so a restored file is never older than
# the mutant build it replaces.
mirror() {
  local from=$1 to=$2 listed=$SRC.files
  mkdir -p "$to"
  while IFS= read -r f; do
    if ! cmp -s "$from/$f" "$to/$f"; then
      mkdir -p "$(dirname "$to/$f")"
      cp "$from/$f" "$to/$f"
    fi
  done <"$listed"
  (cd "$to" && find . -type f | sed 's|^\./||' | sort) | comm -13 "$listed" - |
    while IFS= read -r f; do rm -f "$to/$f"; done
}

# The snapshot, once per run: the tree's files (tracked and untracked, not ignored) into
# $PRISTINE, which nothing changes until the next run, then the scratch copy from it.
sync_tree() {
  mkdir -p "$(dirname "$SRC")"
  git -C "$ROOT" ls-files --cached --others --exclude-standard |
    while IFS= read -r f; do [[ -f "$ROOT/$f" ]] && printf '%s\n' "$f"; done | sort >"$SRC.files"
  mirror "$ROOT" "$PRISTINE"
  mirror "$PRISTINE" "$SRC"
}

# Builds the scratch copy's loom test binary (the library package's: the workspace has other
# libraries); prints its path.
build() {
  cargo test --release -p spindle --lib --no-run --manifest-path "$SRC/Cargo.toml" \
    --message-format=json-render-diagnostics 2>"$ROOT/target/mutants-build.log" |
    grep -o '"executable":"[^"]*"' | tail -1 | sed 's/"executable":"\(.*\)"/\1/'
}

# apply FILE AFTER FROM TO... : rewrites $SRC/FILE; prints an error and returns 1 unless
# FROM occurs exactly once in the region.
apply() {
  local file=$1 after=$2 from=$3
  shift 3
  local path=$SRC/$file
  [[ -f "$path" ]] || { echo "no such file $file"; return 1; }
  local -a lines
  mapfile -t lines <"$path"
  local n=${#lines[@]} start=0 i
  local end=$n
  if [[ -n "$after" ]]; then
    local anchors=() 
    for ((i = 0; i < n; i++)); do
      [[ "$(trim "${lines[i]}")" == "$after" ]] && anchors+=("$i")
    done
    if ((${#anchors[@]} != 1)); then
      echo "anchor found ${#anchors[@]} times: $after"
      return 1
    fi
    start=$((anchors[0] + 1))
    # An anchor that opens a block (ends with `{`, like a `fn` line) makes the region that
    # block: up to the first later non-blank line indented no deeper than the anchor. Any
    # other anchor makes it the rest of the enclosing block: up to the first line indented
    # less deeply.
    local depth slack=0
    depth=$(indent_of "${lines[anchors[0]]}")
    [[ "$after" == *'{' ]] || slack=1
    for ((i = start; i < n; i++)); do
      local line=${lines[i]}
      [[ -z "$(trim "$line")" ]] && continue
      local ind
      ind=$(indent_of "$line")
      if ((${#ind} + slack <= ${#depth})); then
        end=$i
        break
      fi
    done
  fi
  local hits=()
  for ((i = start; i < end; i++)); do
    [[ "$(trim "${lines[i]}")" == "$from" ]] && hits+=("$i")
  done
  if ((${#hits[@]} != 1)); then
    echo "from line found ${#hits[@]} times: $from"
    return 1
  fi
  local at=${hits[0]} ind
  ind=$(indent_of "${lines[at]}")
  {
    for ((i = 0; i < at; i++)); do printf '%s\n' "${lines[i]}"; done
    local to
    for to in "$@"; do printf '%s%s\n' "$ind" "$to"; done
    for ((i = at + 1; i < n; i++)); do printf '%s\n' "${lines[i]}"; done
  } >"$path.mutant"
  mv "$path.mutant" "$path"
}

restore() {
  cp "$PRISTINE/$1" "$SRC/$1"
}

# Everything below is one function, called on the script's last line: bash reads a function
# whole before running it, so an edit to this file during a run cannot change the run.
main() {
# --- which mutants
check_only=false
if [[ "${1:-}" == --check ]]; then
  check_only=true
  SRC=$ROOT/target/mutants-check # never the copy a running build uses
  shift
else
  # One run at a time: two would mutate the same scratch copy.
  mkdir -p "$ROOT/target"
  exec 9>"$ROOT/target/mutants.lock"
  flock -n 9 || { echo "another ci/mutants.sh run holds target/mutants.lock" >&2; exit 2; }
fi
PRISTINE=$SRC.pristine
SECONDS=0
sync_tree
shopt -s nullglob
all=("$PRISTINE"/ci/mutants/*.mutant)
selected=()
for m in "${all[@]}"; do
  name=$(basename "$m" .mutant)
  if (($# == 0)); then
    selected+=("$m")
  else
    for pattern in "$@"; do
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      if [[ $name == $pattern ]]; then
        selected+=("$m")
        break
      fi
    done
  fi
done
if ((${#selected[@]} == 0)); then
  echo "no mutant matches: $*" >&2
  exit 2
fi

if $check_only; then
  # Only whether each mutant still applies to the tree (no build): for after an edit.
  bad=0
  for m in "${selected[@]}"; do
    name=$(basename "$m" .mutant)
    file=$(sed -n 's/^file:[[:space:]]*//p' "$m")
    after=$(sed -n 's/^after:[[:space:]]*//p' "$m")
    from=$(sed -n 's/^from:[[:space:]]*//p' "$m")
    mapfile -t tos < <(sed -n 's/^to: \{0,1\}//p' "$m")
    if why=$(apply "$file" "$(trim "$after")" "$(trim "$from")" "${tos[@]}"); then
      echo "applies: $name"
    else
      echo "DID NOT APPLY: $name: $why"
      bad=$((bad + 1))
    fi
    restore "$file"
  done
  exit $((bad > 0))
fi
echo "== building the unmutated scratch copy (${SECONDS}s)"
base_bin=$(build) || true
if [[ -z "$base_bin" ]]; then
  echo "the unmutated tree does not build under --cfg loom; see target/mutants-build.log" >&2
  exit 2
fi
known_models=$("$base_bin" --list 2>/dev/null | sed -n 's/: test$//p')
# Every mutant must change the binary; an unchanged one means cargo did not rebuild (or the
# change compiled to nothing), and the models would test the wrong code.
last_sum=$(cksum <"$base_bin")

rows=()
failures=0
killed=0
for m in "${selected[@]}"; do
  name=$(basename "$m" .mutant)
  file='' after='' from='' models='' area=''
  tos=()
  while IFS= read -r line || [[ -n "$line" ]]; do
    case "$line" in
      '#'* | '') ;;
      file:*) file=$(trim "${line#file:}") ;;
      after:*) after=$(trim "${line#after:}") ;;
      from:*) from=$(trim "${line#from:}") ;;
      to:*) v=${line#to:}; tos+=("${v# }") ;;
      models:*) models=$(trim "${line#models:}") ;;
      area:*) area=$(trim "${line#area:}") ;;
      *) echo "$name: unknown line: $line" >&2; exit 2 ;;
    esac
  done <"$m"
  start=$SECONDS
  if [[ -z "$file" || -z "$from" || ${#tos[@]} -eq 0 || -z "$models" ]]; then
    echo "== $name: MALFORMED (needs file, from, to, models)"
    rows+=("| \`$name\` | $area | MALFORMED (needs file, from, to, models) | 0 s |")
    failures=$((failures + 1))
    continue
  fi
  for model in $models; do
    if ! grep -qxF "$model" <<<"$known_models"; then
      echo "== $name: UNKNOWN MODEL $model (not in the test binary's --list)"
      rows+=("| \`$name\` | $area | UNKNOWN MODEL $model | 0 s |")
      failures=$((failures + 1))
      continue 2
    fi
  done
  echo "== $name ($area)"
  if ! why=$(apply "$file" "$after" "$from" "${tos[@]}"); then
    echo "   DID NOT APPLY: $why"
    rows+=("| \`$name\` | $area | DID NOT APPLY: $why | 0 s |")
    failures=$((failures + 1))
    continue
  fi
  build_start=$SECONDS
  bin=$(build) || true
  build_time=$((SECONDS - build_start))
  if [[ -z "$bin" ]]; then
    restore "$file"
    echo "   DID NOT BUILD (target/mutants-build.log)"
    tail -20 "$ROOT/target/mutants-build.log" | sed 's/^/   /'
    rows+=("| \`$name\` | $area | DID NOT BUILD | $((SECONDS - start)) s |")
    failures=$((failures + 1))
    continue
  fi
  sum=$(cksum <"$bin")
  if [[ "$sum" == "$last_sum" ]]; then
    restore "$file"
    echo "   DID NOT REBUILD (the test binary is unchanged)"
    rows+=("| \`$name\` | $area | DID NOT REBUILD (binary unchanged) | $((SECONDS - start)) s |")
    failures=$((failures + 1))
    continue
  fi
  last_sum=$sum
  verdict=SURVIVED
  for model in $models; do
    status=0
    # In a subshell whose stderr is discarded (and which does not `exec` the command, thanks
    # to the `exit`): a model that loom aborts kills `timeout` with the same signal, and bash
    # would report it on stderr.
    (
      timeout "$LIMIT" "$bin" --exact "$model" --include-ignored --test-threads 1 \
        >"$ROOT/target/mutants-last.log" 2>&1
      exit $?
    ) 2>/dev/null || status=$?
    if ((status == 124)); then
      verdict="killed by \`${model##*::}\` (time limit ${LIMIT} s)"
      break
    elif ((status != 0)); then
      # The panic's message: loom's (a deadlock, a causality violation, a leak, the branch
      # limit) or the model's own assertion.
      reason=$(grep -m1 -A1 "panicked at" "$ROOT/target/mutants-last.log" | tail -1 |
        tr -d '|`' | cut -c1-90 || true)
      verdict="killed by \`${model##*::}\`${reason:+ ($reason)}"
      break
    fi
  done
  restore "$file"
  echo "   $verdict ($((SECONDS - start)) s, of which build ${build_time} s)"
  if [[ $verdict == SURVIVED ]]; then
    failures=$((failures + 1))
  else
    killed=$((killed + 1))
  fi
  rows+=("| \`$name\` | $area | $verdict | $((SECONDS - start)) s |")
done

{
  echo
  echo "| mutant | area | result | time |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Mutation score: $killed / ${#selected[@]} killed (LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS, limit ${LIMIT} s per model); total ${SECONDS} s."
} | tee "${MUTANTS_TABLE:-/dev/null}"
((failures == 0))
}

main "$@"; exit
