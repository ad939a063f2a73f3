#!/bin/bash -eu
# ClusterFuzzLite's build is OSS-Fuzz's: oss-fuzz/build.sh (one script for both).
exec bash -eu "$SRC/nf/oss-fuzz/build.sh" "$@"
