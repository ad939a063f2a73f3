#!/bin/bash -eu
# oss-fuzz/build.sh: builds nf's fuzz targets for OSS-Fuzz and ClusterFuzzLite.
#
# Run by OSS-Fuzz's `compile` inside the base-builder image (see Dockerfile), and
# here, without Docker, by tools/oss_fuzz_check.sh. It reads only what `compile`
# exports:
#   CC CXX CFLAGS CXXFLAGS  the compilers and flags (sanitizer, coverage, libc++)
#   LIB_FUZZING_ENGINE      what a fuzz target links: -fsanitize=fuzzer, or a driver
#   SANITIZER               address | undefined | ...; only names the build dirs
#   SRC WORK OUT            sources ($SRC/nf, $SRC/abseil-cpp), scratch, results
#
# Steps:
#   1. Abseil from $SRC/abseil-cpp, built with the same compilers and flags (the
#      targets link libc++, so Debian's libstdc++ Abseil would not link), installed
#      into a prefix under $WORK.
#   2. nf, configured with NF_LIB_FUZZING_ENGINE=$LIB_FUZZING_ENGINE (the fuzz
#      targets link the engine instead of fuzzers/tools/replay_main.cc), NF_SANITIZER
#      empty (the flags come from CFLAGS/CXXFLAGS), no tests, no -Werror.
#   3. Into $OUT, for every fuzz target F (the list is cmake/fuzzers.txt): F
#      itself (its file in the build tree, asked of Ninja by tools/nflib.py),
#      F_seed_corpus.zip (corpus/F/ and corpus/regress/F/, flattened, each file
#      named by the SHA1 of its contents), and F.dict and F.options when they
#      exist (beside F's source, wherever that is: tools/nflib.py finds them).
#      A target of the list that was not built fails the build.
#
# Both builds are kept in $WORK under a key of the compilers and flags, so a second
# run with the same flags only rebuilds what changed (OSS-Fuzz's WORK is usually
# fresh; tools/oss_fuzz_check.sh keeps one across runs).

NF_SRC=$SRC/nf
ABSL_SRC=$SRC/abseil-cpp
JOBS=$(nproc)

# The build keys: everything that changes the object files, Abseil's source
# included (Abseil does not depend on the engine).
flags_key=$(printf '%s\n' "$CC" "$CXX" "$CFLAGS" "$CXXFLAGS" "$(readlink -f "$ABSL_SRC")" | sha1sum | cut -c1-12)
# OSS-Fuzz's AFL++ builds pick AFL_* compiler options at random and list them in
# $OUT/afl_options.txt: they change the objects too.
engine_key=$( { printf '%s\n' "$LIB_FUZZING_ENGINE"; cat "$OUT/afl_options.txt" 2>/dev/null || true; } |
  sha1sum | cut -c1-8)
build_root=$WORK/nf-$SANITIZER-$flags_key
absl_build=$build_root/abseil-build
absl_prefix=$build_root/abseil
nf_build=$build_root/nf-build-$engine_key
mkdir -p "$build_root"

# 1. Abseil. C++20 like nf, so that Abseil's std-or-absl choices (absl/base/
# options.h) are the same on both sides of the link.
if [[ ! -f $absl_prefix/.installed ]]; then
  echo "build.sh: building Abseil from $ABSL_SRC into $absl_prefix"
  cmake -S "$ABSL_SRC" -B "$absl_build" -G Ninja \
    -DCMAKE_BUILD_TYPE= \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
    -DCMAKE_CXX_STANDARD=20 -DABSL_PROPAGATE_CXX_STD=ON \
    -DABSL_BUILD_TESTING=OFF -DBUILD_TESTING=OFF -DABSL_ENABLE_INSTALL=ON \
    -DCMAKE_INSTALL_PREFIX="$absl_prefix" -DCMAKE_INSTALL_LIBDIR=lib
  cmake --build "$absl_build" -j "$JOBS"
  cmake --install "$absl_build" >/dev/null
  touch "$absl_prefix/.installed"
fi

# 2. nf.
cmake -S "$NF_SRC" -B "$nf_build" -G Ninja \
  -DCMAKE_BUILD_TYPE= \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DCMAKE_PREFIX_PATH="$absl_prefix" \
  -DNF_SANITIZER= -DNF_WERROR=OFF \
  -DNF_BUILD_TESTS=OFF -DNF_BUILD_BENCH=OFF -DNF_BUILD_MUTANTS=OFF \
  -DNF_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"
cmake --build "$nf_build" -j "$JOBS"

# 3. The fuzz targets and their files. tools/nflib.py (python3, which the
# base-builder image has) is the one reader of cmake/fuzzers.txt and the one
# place that knows where a target's binary and its .dict/.options are.
nflib() { python3 "$NF_SRC/tools/nflib.py" "$@"; }
# shellcheck source=tools/lib.sh
source "$NF_SRC/tools/lib.sh"
shopt -s nullglob
names=$(nflib fuzzers)
count=0
for name in $names; do
  if ! target=$(nflib locate "$nf_build" "$name"); then
    echo "build.sh: fuzz target $name (cmake/fuzzers.txt) was not built in $nf_build" >&2
    exit 1
  fi
  cp "$target" "$OUT/$name"
  count=$((count + 1))

  seeds=$WORK/seeds/$name
  rm -rf "$seeds"
  nf_copy_inputs "$seeds" "$NF_SRC/corpus/$name" "$NF_SRC/corpus/regress/$name" >/dev/null
  rm -f "$OUT/${name}_seed_corpus.zip"
  files=("$seeds"/*)
  if ((${#files[@]} > 0)); then
    (cd "$seeds" && printf '%s\n' * | zip -q -X -@ "$OUT/${name}_seed_corpus.zip")
  else
    echo "build.sh: warning: $name has no seed inputs (corpus/$name/ is empty)"
  fi

  for extra in dict options; do
    if src=$(nflib source "$name.$extra"); then
      cp "$NF_SRC/$src" "$OUT/$name.$extra"
    fi
  done
  echo "build.sh: $name: ${#files[@]} seed input(s)"
done

if ((count == 0)); then
  echo "build.sh: cmake/fuzzers.txt lists no fuzz target" >&2
  exit 1
fi
echo "build.sh: installed $count fuzz target(s) into $OUT"
