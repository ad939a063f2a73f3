#!/usr/bin/env bash
# tools/triage_test.sh [MUTANT_BINARY [NF_TOOL [CONCURRENT_MUTANT [RACE_MUTANT
#   [KERNEL_RACE_MUTANT [LOCK_MUTANT]]]]]]: the test of tools/triage.py
# (`./nf triage`), ctest label unit. Self-contained; exit 0 pass, 1 fail, 77 skip.
#
#   A  a planted bug: the reproducer of mutant unpaired_classic_end, padded with
#      ops and schedule bytes that do not matter, run by MUTANT_BINARY (default:
#      sequential_fuzzer_mut_unpaired_classic_end of build/mutants/ or of the
#      asan preset, built in the asan preset if neither has it). Triage
#      must name the bug as its EXPECT file does, shrink the input, give the same
#      output twice, and write a timeline that headless Chromium renders with a
#      lane per thread of the program and the failing op highlighted.
#   B  a concurrent-fuzzer-shaped failure: a stand-in fuzzer (a script) that fails
#      when the input holds the byte 0x2a, prints a report with a scheduler trace
#      and writes the same as a JSON run document (fuzzers/executors/report_json.h). Triage must cut the schedule to that one byte and draw the trace:
#      one lane per thread, folded yields, the trace's last event highlighted.
#   C  an input that does not fail: exit 1, and said so, naming what was tried
#      and how to name the binary that crashed (--binary).
#   D  a violation seen inside a callback (mutant double_itree_release of the
#      concurrent fuzzer, P9: a second RELEASE invalidate; CONCURRENT_MUTANT,
#      the third argument): the highlighted row of the timeline is the
#      violation itself, on the thread whose callback saw it, not the yield
#      before it.
#   E  a data race (P10: mutant put_user_unlocked of the concurrent fuzzer;
#      RACE_MUTANT, the fourth argument): both accesses the report names are
#      marked in the timeline on their threads' lanes, the later as the failing
#      row (data-race-access="later"), the earlier with a distinct highlight
#      (data-race-access="earlier", class race-earlier), neither folded.
#   F  a data race in the kernel's file (P10: kernel race mutant
#      publish_subscriptions_plain of concurrent_fuzzer_kernel;
#      KERNEL_RACE_MUTANT, the fifth argument, or the asan preset's; not run,
#      with a note, where the kernel is not built): as E, both accesses in
#      mm/mmu_notifier.c.
#   G  a lock-order inversion (P11: driver mutant read_begin_under_user_lock of
#      the concurrent fuzzer; LOCK_MUTANT, the sixth argument): the acquisition
#      that closed the cycle is the failing row, the acquisition in the
#      opposite order is marked apart, as E's two accesses.
#
# Headless Chromium: `chromium` (Debian), installed with apt-get if missing (as
# root or through sudo -n); the test skips (77) only if it cannot be installed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
start=$SECONDS
mutant=unpaired_classic_end
bin=${1:-}
tool_args=()
[[ -n ${2:-} ]] && tool_args=(--nf-tool "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=tools/test_lib.sh
source "$root/tools/test_lib.sh"
# triage CASE INPUT ARGS...: runs tools/triage.py on INPUT into $work/CASE (its
# stdout in $work/CASE.txt, shown indented), sets rc to its exit status.
triage() {
  local case=$1 input=$2 t0=$SECONDS
  shift 2
  python3 "$root/tools/triage.py" "$input" "$@" --out "$work/$case" "${tool_args[@]}" \
    >"$work/$case.txt" 2>"$work/$case.err"
  rc=$?
  echo "${case^^}: triage took $((SECONDS - t0)) s; its summary:"
  sed 's/^/    /' "$work/$case.txt"
}

# setup_mutant CASE MUTANT [BINARY]: sets mbin to BINARY or the concurrent
# fuzzer's twin on MUTANT (build/mutants or the asan preset) and min to the
# mutant's reproducer; false (and a failure of CASE) if there is no binary.
setup_mutant() {
  local case=$1 m=$2
  mbin=${3:-}
  [[ -n $mbin ]] || mbin=$(python3 "$root/tools/nflib.py" locate build/mutants "concurrent_fuzzer_mut_$m" ||
                           python3 "$root/tools/nflib.py" locate asan "concurrent_fuzzer_mut_$m") || mbin=""
  if [[ -z $mbin ]]; then
    fail "$case: no concurrent_fuzzer_mut_$m (build it in the asan preset)"
    return 1
  fi
  min=$(find "$root/corpus/regress/concurrent_fuzzer/$m" -type f ! -name '*.nfp' ! -name 'EXPECT*' |
        sort | head -n 1)
}

# --- headless Chromium
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  echo "triage_test: chromium is missing; installing it (apt-get install -y chromium)"
  if ((EUID == 0)); then
    apt-get install -y chromium >"$work/apt.log" 2>&1 || true
  elif sudo -n true 2>/dev/null; then
    sudo -n apt-get install -y chromium >"$work/apt.log" 2>&1 || true
  fi
  browser=$(command -v chromium || command -v chromium-browser || true)
  if [[ -z $browser ]]; then
    echo "SKIP: chromium is not installed and cannot be installed (not root, no sudo, or apt failed)"
    exit 77
  fi
fi
# dump_dom HTML OUT: the DOM after the page's scripts ran.
dump_dom() {
  "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d -p "$work")" --dump-dom "file://$1" >"$2" 2>"$work/chromium.err"
}

# --- the mutant binary (tools/nflib.py locates it by target name)
target=sequential_fuzzer_mut_$mutant
if [[ -z $bin ]]; then
  bin=$(python3 "$root/tools/nflib.py" locate build/mutants "$target" ||
        python3 "$root/tools/nflib.py" locate asan "$target") || bin=""
fi
if [[ -z $bin ]]; then
  echo "triage_test: building $target (asan preset)"
  bin=$(python3 "$root/tools/nflib.py" locate --build asan "$target" 2>"$work/build.log") ||
    { tail -n 30 "$work/build.log"; echo "FAIL: cannot build the mutant"; exit 1; }
fi
regress=$root/corpus/regress/sequential_fuzzer/$mutant
repro=$(find "$regress" -type f ! -name '*.nfp' ! -name EXPECT | sort | head -n 1)
expect=$(grep -v '^#' "$regress/EXPECT" | head -n 1)
[[ -n $repro && -n $expect ]] || { echo "FAIL: no reproducer or EXPECT in $regress"; exit 1; }

# ---------------------------------------------------------------------------
# A: the planted bug. Ops appended after the failing op and a schedule (0xff, then
# bytes the sequential fuzzer ignores) are padding that minimization must drop.
in_a=$work/crash-a
{ cat "$repro"; printf '\x40\x01\x02\x03\x41\x01\x05\x00\xff\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a'; } >"$in_a"
out_a=$work/a
triage a "$in_a" --binary "$bin"
if ((rc != 0)); then
  fail "A: triage exited $rc"; cat "$work/a.err"
else
  grep -Eq "$expect" "$out_a/report.txt" && pass "A: the report matches EXPECT ($expect)" ||
    fail "A: report.txt does not match EXPECT ($expect)"
  grep -q '^  signature  P8' "$work/a.txt" && pass "A: signature P8" || fail "A: signature is not P8"
  nfp=$(ls "$out_a"/*.nfp 2>/dev/null | head -n 1)
  min=${nfp%.nfp}
  orig_size=$(stat -c %s "$in_a")
  min_size=$(stat -c %s "$min" 2>/dev/null || echo 999999)
  ((min_size < orig_size)) && pass "A: minimized $orig_size -> $min_size bytes" ||
    fail "A: not minimized ($orig_size -> $min_size bytes)"
  grep -q '^schedule:' "$nfp" && fail "A: the ignored schedule bytes were not dropped" ||
    pass "A: the schedule bytes were dropped"
  # The reproducer declares 4 threads and uses 2: the idle ones go.
  declared=$(sed -n 's/^threads \([0-9]\+\)$/\1/p' "$nfp")
  with_ops=$(grep -oE '^T[0-9]+:' "$nfp" | sort -u | wc -l)
  [[ $declared == "$with_ops" ]] && pass "A: every thread of the minimized program has an op ($declared)" ||
    fail "A: $declared threads declared, $with_ops with ops"
  # Outputs name files relative to themselves, never the --out path.
  grep -qF "$work" "$nfp" && fail "A: the .nfp names the --out path: $(head -n 1 "$nfp")" ||
    pass "A: the .nfp header names no absolute path"
  { "$bin" "$min"; } >/dev/null 2>&1 && fail "A: the minimized input does not fail" ||
    pass "A: the minimized input fails"
  # Determinism: the same input gives the same summary and the same page.
  cp "$out_a/timeline.html" "$work/a1.html"
  python3 "$root/tools/triage.py" "$in_a" --binary "$bin" --out "$out_a" "${tool_args[@]}" >"$work/a2.txt" 2>/dev/null
  cmp -s "$work/a.txt" "$work/a2.txt" && cmp -s "$work/a1.html" "$out_a/timeline.html" &&
    pass "A: a second run gives the same summary and page" || fail "A: the second run differs"
  # The lanes are made by the page's script: absent from the file, present in the DOM.
  grep -q 'data-lane=' "$out_a/timeline.html" && fail "A: lanes are in the static HTML"
  if dump_dom "$out_a/timeline.html" "$work/a.dom"; then
    threads=$(sed -n 's/^threads \([0-9]\+\)$/\1/p' "$nfp")
    ok=1
    for ((t = 0; t < threads; t++)); do
      grep -q "<th class=\"lane\" data-lane=\"$t\">T$t</th>" "$work/a.dom" || { ok=0; fail "A: no lane T$t in the DOM"; }
    done
    ((ok)) && pass "A: the DOM has a lane for each of the $threads threads"
    n=$(grep -o 'data-failing="1"' "$work/a.dom" | wc -l)
    row=$(grep -o '<tr class="event failing"[^>]*>' "$work/a.dom")
    # The report's step line names the failing op: "T0 op 0: invalidate ...".
    step_t=$(sed -n 's/^step: T\([0-9]\+\) .*/\1/p' "$out_a/report.txt" | head -n 1)
    op=$(sed -n 's/^step: T[0-9]\+ op [0-9]\+: //p' "$out_a/report.txt" | head -n 1)
    if ((n == 1)) && [[ $row == *"data-thread=\"$step_t\""* ]] &&
      grep -A "$((threads + 2))" -F "$row" "$work/a.dom" | grep -qF "$op"; then
      pass "A: one failing row, in lane T$step_t, showing '$op'"
    else
      fail "A: the failing row is wrong ($n marked: $row)"
    fi
    grep -q 'data-signature="P8"' "$work/a.dom" && grep -q 'data-rendered="1"' "$work/a.dom" &&
      pass "A: the verdict is at the top and the script finished" || fail "A: no verdict or unrendered"
  else
    fail "A: chromium --dump-dom failed: $(tail -n 3 "$work/chromium.err")"
  fi
fi

# ---------------------------------------------------------------------------
# B: a failure shaped like the concurrent fuzzer's, from a stand-in binary.
fake=$work/concurrent_fuzzer_standin
cat >"$fake" <<'EOF'
#!/usr/bin/env bash
# Fails iff the input holds the byte 0x2a; prints a report with a trace and, as
# the concurrent fuzzer does, writes its JSON run document to $NF_REPORT_JSON.
if od -An -tx1 -v "$1" | grep -qw 2a; then
  if [[ -n ${NF_REPORT_JSON:-} ]]; then
    ev() { printf '{"step":%d,"thread":%d,"kind":"%s","text":"%s"%s}' "$@"; }
    {
      printf '{"nf":"run","version":1,"executor":"concurrent","file":null,"program":null,'
      printf '"schedule":"direct choices=1","trace":{"header":"nf-sched trace v1: threads=3 direct choices=[2a]","end":"","events":['
      ev 1 0 label 'T0 op 0: insert s1 0x1000+0x1000' ''; printf ,
      ev 1 0 yield mutex.lock ''; printf ,
      ev 1 0 yield mutex.unlock ''; printf ,
      ev 2 1 label 'T1 op 0: inv_start 0x0+0x4000 block unmap' ''; printf ,
      ev 2 1 yield mutex.lock ''; printf ,
      ev 2 1 yield atomic.load ''; printf ,
      ev 2 1 note 'callback s1 [0x0,0x4000) cur_seq=0x3' ''; printf ,
      ev 3 2 label 'T2 op 0: remove s1' ''; printf ,
      ev 3 2 block waitqueue.wait ''; printf ,
      ev 4 1 wake t2 ',"other":2'; printf ,
      ev 4 1 note '\"late\" callback\n' ''; printf ,
      ev 5 1 yield atomic.store ''
      printf ']},"verdict":{"ok":false,"property":"P5","detail":"","message":"P5: s1 was called after its remove returned",'
      printf '"step":5,"thread":1,"op":null,"cleanup":false,"where":"T1 op 0: inv_start 0x0+0x4000 block unmap"}}\n'
    } >"$NF_REPORT_JSON"
  fi
  cat >&2 <<'REPORT'

==== nf concurrent_fuzzer: CHECK FAILED ====
P5: s1 was called after its remove returned

interleaving (<step> t<thread> <event>):
# nf-sched trace v1: threads=3 direct choices=[2a]
1 t0 label T0 op 0: insert s1 0x1000+0x1000
1 t0 yield mutex.lock
1 t0 yield mutex.unlock
2 t1 label T1 op 0: inv_start 0x0+0x4000 block unmap
2 t1 yield mutex.lock
2 t1 yield atomic.load
2 t1 note callback s1 [0x0,0x4000) cur_seq=0x3
3 t2 label T2 op 0: remove s1
3 t2 block waitqueue.wait
4 t1 wake t2
4 t1 note \"late\" callback\n
5 t1 yield atomic.store
# stopped here
==== end ====
REPORT
  exit 1
fi
exit 0
EOF
chmod +x "$fake"
in_b=$work/crash-b
printf '\x02\x40\x01\x02\x03\x81\x01\xff\x01\x02\x2a\x03\x04' >"$in_b"
out_b=$work/b
triage b "$in_b" --binary "$fake" --fuzzer concurrent_fuzzer
if ((rc != 0)); then
  fail "B: triage exited $rc"; cat "$work/b.err"
else
  nfp=$(ls "$out_b"/*.nfp | head -n 1)
  [[ $(grep '^schedule:' "$nfp") == 'schedule: 2a' ]] && ! grep -q '^T[0-9]' "$nfp" &&
    pass "B: ddmin kept only the schedule byte 2a" || fail "B: not minimal: $(grep -v '^#' "$nfp" | tr '\n' ' ')"
  grep -q '^  signature  P5' "$work/b.txt" && pass "B: signature P5" || fail "B: signature is not P5"
  [[ -f $out_b/trace.txt ]] && pass "B: trace.txt written" || fail "B: no trace.txt"
  if dump_dom "$out_b/timeline.html" "$work/b.dom"; then
    ok=1
    for t in 0 1 2; do
      grep -q "data-lane=\"$t\"" "$work/b.dom" || { ok=0; fail "B: no lane T$t"; }
    done
    ((ok)) && pass "B: lanes T0..T2"
    row=$(grep -o '<tr class="event failing"[^>]*>' "$work/b.dom")
    [[ $row == *'data-step="5"'* && $row == *'data-thread="1"'* && $row == *'data-event="11"'* ]] &&
      pass "B: the trace's last event (step 5, T1) is highlighted" || fail "B: failing row: $row"
    grep -q 'class="fold"' "$work/b.dom" && grep -q 'class="event hidden"' "$work/b.dom" &&
      pass "B: yield runs are folded" || fail "B: no folded yields"
    grep -qF 'wake T2' "$work/b.dom" && grep -qF '"late" callback' "$work/b.dom" &&
      grep -qF 'T2 op 0: remove s1' "$work/b.dom" && pass "B: labels, wakes and notes are drawn" ||
      fail "B: events missing from the DOM"
  else
    fail "B: chromium --dump-dom failed"
  fi
fi

# ---------------------------------------------------------------------------
# C: an input that does not fail.
printf '\x00' >"$work/ok-input"
python3 "$root/tools/triage.py" "$work/ok-input" --binary "$bin" --out "$work/c" "${tool_args[@]}" \
  >"$work/c.txt" 2>&1
rc=$?
((rc == 1)) && grep -q 'does not fail' "$work/c.txt" && pass "C: a passing input: exit 1, 'does not fail'" ||
  fail "C: exit $rc: $(cat "$work/c.txt")"
grep -qF -- "$(basename "$bin")" "$work/c.txt" && grep -qF -- '--binary PATH' "$work/c.txt" &&
  pass "C: it names the binary tried and how to name another" ||
  fail "C: no word of what was tried or of --binary: $(cat "$work/c.txt")"

# ---------------------------------------------------------------------------
# D: a violation inside a callback, highlighted as itself.
if setup_mutant D double_itree_release "${3:-}"; then
  cbin=$mbin in_d=$min
  triage d "$in_d" --binary "$cbin" --no-minimize
  if ((rc != 0)); then
    fail "D: triage exited $rc"; cat "$work/d.err"
  elif dump_dom "$work/d/timeline.html" "$work/d.dom"; then
    row=$(grep -o '<tr class="event failing"[^>]*>.*' "$work/d.dom" | head -n 1)
    row=${row%%</tr>*}  # that row alone
    [[ $row == *'data-kind="note"'* && $row == *'violation: P9: s'*' got a second RELEASE invalidate'* ]] &&
      pass "D: the highlighted row is the violation (P9, the second RELEASE callback)" ||
      fail "D: the highlighted row is not the violation: ${row:0:300}"
  else
    fail "D: chromium --dump-dom failed"
  fi
fi

# ---------------------------------------------------------------------------
# check_two_rows CASE KIND LT LS ET ES: the timeline of CASE marks the two sides
# of a P10 data race (KIND "data race": the later and the earlier access) or of a
# P11 inversion (KIND "lock-order inversion": the acquisition that closed the
# cycle and the acquisition in the opposite order): the later side (thread LT,
# step LS) as the failing row, the earlier (ET, ES) with its own highlight
# (data-race-access="earlier", class race-earlier), each on its thread's lane,
# neither folded, the earlier with a note saying what it is.
check_two_rows() {
  local case=$1 kind=$2 lt=$3 ls=$4 et=$5 es=$6 dom later earlier
  dom=$work/${case,,}.dom
  if ! dump_dom "$work/${case,,}/timeline.html" "$dom"; then
    fail "$case: chromium --dump-dom failed"; return
  fi
  later=$(grep -o '<tr [^>]*data-race-access="later"[^>]*>' "$dom")
  earlier=$(grep -o '<tr [^>]*data-race-access="earlier"[^>]*>' "$dom")
  # attr ROW NAME: the value of attribute NAME in the opening tag ROW.
  attr() { [[ $1 =~ $2=\"([^\"]*)\" ]] && echo "${BASH_REMATCH[1]}"; }
  [[ $(grep -c 'data-race-access="later"' "$dom") == 1 &&
     $(grep -c 'data-race-access="earlier"' "$dom") == 1 ]] &&
    pass "$case: one row marked as each side of the $kind" ||
    fail "$case: not exactly one later and one earlier row"
  [[ $later == *'class="event failing"'* && $later != *hidden* &&
     $(attr "$later" data-thread) == "$lt" && $(attr "$later" data-race-step) == "$ls" &&
     $(attr "$later" data-step) -le $ls ]] &&
    pass "$case: the failing row is the later side (T$lt, step $ls)" ||
    fail "$case: the later side's row is wrong (want T$lt step $ls): ${later:0:300}"
  [[ $earlier == *race-earlier* && $earlier != *failing* && $earlier != *hidden* &&
     $(attr "$earlier" data-thread) == "$et" && $(attr "$earlier" data-race-step) == "$es" &&
     $(attr "$earlier" data-step) -le $es ]] &&
    pass "$case: the earlier side has its own, unfolded row (T$et, step $es)" ||
    fail "$case: the earlier side's row is wrong (want T$et step $es): ${earlier:0:300}"
  ((lt != et)) && pass "$case: the two sides are on different threads" ||
    fail "$case: both sides on T$lt"
  local role="earlier access"
  [[ $kind == "lock-order inversion" ]] && role="opposite order"
  grep -q "$kind, $role: .* by T$et at step $es" "$dom" &&
    pass "$case: the earlier row says what it is ($kind, $role)" ||
    fail "$case: the earlier row has no note \"$kind, $role\""
}

race_re='data race: .* by t([0-9]+) at step ([0-9]+) in .*, unordered with an earlier .* by t([0-9]+) at step ([0-9]+) in '
# check_race CASE INPUT BINARY [FILE_RE]: triage of a P10 reproducer; the report
# names both accesses (each in a file matching FILE_RE, when given) and the
# timeline marks them.
check_race() {
  local case=$1 input=$2 binary=$3 file_re=${4:-} line
  triage "${case,,}" "$input" --binary "$binary" --no-minimize
  line=$(grep -Em1 "$race_re" "$work/${case,,}/report.txt" 2>/dev/null)
  if ((rc != 0)); then
    fail "$case: triage exited $rc"; cat "$work/${case,,}.err"
  elif ! [[ $line =~ $race_re ]]; then
    fail "$case: report.txt names no data race with both accesses"
  else
    local lt=${BASH_REMATCH[1]} ls=${BASH_REMATCH[2]} et=${BASH_REMATCH[3]} es=${BASH_REMATCH[4]}
    if [[ -n $file_re ]]; then
      [[ $line =~ in\ [^,]*${file_re}[^,:]*:[0-9]+,\ unordered\ .*\ in\ [^\;]*${file_re}[^\;:]*:[0-9]+ ]] &&
        pass "$case: both accesses are in $file_re" ||
        fail "$case: the accesses are not both in $file_re: ${line:0:300}"
    fi
    check_two_rows "$case" "data race" "$lt" "$ls" "$et" "$es"
  fi
}

# E: a data race of nf's core (P10; mutant put_user_unlocked of the concurrent
# fuzzer, RACE_MUTANT, the fourth argument).
if setup_mutant E put_user_unlocked "${4:-}"; then
  check_race E "$min" "$mbin" core/
fi

# F: a data race in the kernel's own file (P10; kernel race mutant
# publish_subscriptions_plain of concurrent_fuzzer_kernel, KERNEL_RACE_MUTANT,
# the fifth argument; skipped with a note where no binary is given or built).
kbin=${5:-}
[[ -n $kbin ]] || kbin=$(python3 "$root/tools/nflib.py" locate asan \
  concurrent_fuzzer_kernel_mut_publish_subscriptions_plain 2>/dev/null) || kbin=""
if [[ -n $kbin ]]; then
  in_f=$(find "$root/corpus/regress/kernel/concurrent_fuzzer_kernel/mut_publish_subscriptions_plain" \
         -type f ! -name '*.nfp' ! -name 'EXPECT*' | sort | head -n 1)
  check_race F "$in_f" "$kbin" mm/mmu_notifier.c
else
  echo "F: no concurrent_fuzzer_kernel_mut_publish_subscriptions_plain (kernel not built): not run"
fi

# G: a lock-order inversion (P11; driver mutant read_begin_under_user_lock of
# the concurrent fuzzer, LOCK_MUTANT, the sixth argument): the report names
# both acquisition chains; the timeline marks the acquisition that closed the
# cycle (the report's last edge) as the failing row and the first edge's
# acquisition (the opposite order) apart.
if setup_mutant G read_begin_under_user_lock "${6:-}"; then
  triage g "$min" --binary "$mbin" --no-minimize
  edge_re='t([0-9]+) took [^ ]+ at step [0-9]+[^;]*, then, holding it, [^ ]+ at step ([0-9]+)'
  mapfile -t edges < <(grep -m1 'P11: lock-order inversion' "$work/g/report.txt" 2>/dev/null |
                       grep -Eo "$edge_re")
  if ((rc != 0)); then
    fail "G: triage exited $rc"; cat "$work/g.err"
  elif ((${#edges[@]} < 2)); then
    fail "G: report.txt names no lock-order inversion with two acquisition chains"
  else
    [[ ${edges[0]} =~ $edge_re ]] && et=${BASH_REMATCH[1]} es=${BASH_REMATCH[2]}
    [[ ${edges[-1]} =~ $edge_re ]] && lt=${BASH_REMATCH[1]} ls=${BASH_REMATCH[2]}
    pass "G: the report gives ${#edges[@]} acquisition chains"
    check_two_rows G "lock-order inversion" "$lt" "$ls" "$et" "$es"
  fi
fi

finish "triage_test ($((SECONDS - start)) s)"
