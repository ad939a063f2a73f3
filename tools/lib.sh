# tools/lib.sh: what the shell tools behind ./nf share (afl_fuzz.sh, coverage.sh,
# oss_fuzz_check.sh, oss-fuzz/build.sh). Source it, then call nf_tool NAME:
#
#   ROOT          the repository (the folder above tools/), read-only
#   say MSG...    prints "NAME: MSG" on stdout
#   die MSG...    prints "NAME: MSG" on stderr and exits 1
#   usage         prints the calling script's header comment (line 2 up to the
#                 `set -euo` line), without the leading "# "
#   nf_copy_inputs DEST DIR...
#                 copies every fuzz input under the DIRs (missing ones skipped)
#                 into DEST, each named by the SHA1 of its contents; the text
#                 files a regression folder also holds (EXPECT*, *.nfp, *.md) are
#                 not inputs and are left out. Prints how many were copied.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

nf_tool() { NF_TOOL_NAME=$1; }

say() { printf '%s: %s\n' "${NF_TOOL_NAME:-nf}" "$*"; }

die() {
  printf '%s: %s\n' "${NF_TOOL_NAME:-nf}" "$*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[-1]}" | sed '$d; s/^# \{0,1\}//'
}

nf_copy_inputs() {
  local dest=$1 dir file n=0
  shift
  mkdir -p "$dest"
  for dir in "$@"; do
    [[ -d $dir ]] || continue
    while IFS= read -r -d '' file; do
      cp "$file" "$dest/$(sha1sum <"$file" | cut -c1-40)"
      n=$((n + 1))
    done < <(find "$dir" -type f ! -name 'EXPECT*' ! -name '*.nfp' ! -name '*.md' -print0)
  done
  printf '%d\n' "$n"
}
