# tools/test_lib.sh: what the shell tests under tools/ share (cli_test.sh,
# triage_test.sh). Source it:
#
#   pass WHAT     prints "ok:   WHAT"
#   fail WHAT     prints "FAIL: WHAT" and counts it in $fails
#   finish NAME   prints "NAME: N failure(s)"; returns 1 if any failed
fails=0
pass() { echo "ok:   $*"; }
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
finish() {
  echo "$1: $fails failure(s)"
  ((fails == 0))
}
