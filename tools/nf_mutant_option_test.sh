#!/usr/bin/env bash
# tools/nf_mutant_option_test.sh: the ctest 'nf_mutant_option' (configure only, no build).
#
# -DNF_MUTANT=<name> (core/CMakeLists.txt) builds a whole tree on one mutant core.
# Checks that:
#   1. a name outside the catalogue fails the configure, naming the catalogue, and
#      writes no build.ninja;
#   2. a catalogue name configures, and the core is compiled with NF_MUTANT_<name>
#      (compile_commands.json), in both flavours, and nothing else is;
#   3. the default (no NF_MUTANT) compiles no mutant define at all.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
configure() {  # DIR ARGS...
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -G Ninja -DNF_BUILD_TESTS=OFF "$@" >"$dir.log" 2>&1
}

if configure "$tmp/bogus" -DNF_MUTANT=no_such_bug; then
  fail "NF_MUTANT=no_such_bug configured"
fi
grep -q 'NF_MUTANT=no_such_bug is not a mutant; the catalogue: double_itree_release' "$tmp/bogus.log" ||
  { cat "$tmp/bogus.log"; fail "the error does not name the catalogue"; }
[[ ! -f $tmp/bogus/build.ninja ]] || fail "a rejected NF_MUTANT still wrote build.ninja"
echo "ok: NF_MUTANT=no_such_bug is rejected"

configure "$tmp/one" -DNF_MUTANT=skip_set_seq || { cat "$tmp/one.log"; fail "NF_MUTANT=skip_set_seq did not configure"; }
db=$tmp/one/compile_commands.json
n=$(grep -c 'NF_MUTANT_skip_set_seq=1.*core/notifier.cc' "$db")
((n == 2)) || fail "want notifier.cc compiled twice with NF_MUTANT_skip_set_seq (both flavours), got $n"
others=$(grep -o 'NF_MUTANT_[a-z_]*' "$db" | sort -u | grep -vx NF_MUTANT_skip_set_seq)
[[ -z $others ]] || fail "other mutants compiled in: $others"
echo "ok: NF_MUTANT=skip_set_seq compiles the core (both flavours) as that mutant"

configure "$tmp/none" || { cat "$tmp/none.log"; fail "the default did not configure"; }
! grep -q 'NF_MUTANT_' "$tmp/none/compile_commands.json" || fail "the default tree compiles a mutant"
echo "ok: the default tree compiles no mutant"
