// sync/explore.h: bounded systematic exploration of the schedules of one
// program under the deterministic scheduler (scheduler.h), as CHESS does:
// every schedule with at most K preemptions, fewest preemptions first,
// optionally pruned by a partial-order reduction. `./nf explore` (fuzzers/tools/nf_explore.cc)
// drives it on an op program.
//
// DECISIONS AS BYTES. The explorer drives the scheduler through the direct
// strategy only (ScheduleInput::Decode of byte 0 then the choice bytes): at a
// decision with two or more runnable threads, choice byte b picks
// runnable[b % count]; when the bytes run out the running thread keeps running
// if it can, else the lowest-numbered runnable thread runs. A schedule is the
// vector of choice indices of its first choice points; the rest of the run
// follows that default, which never preempts. So every schedule explored is
// already a replayable schedule (the strategy byte 0 and its choices), and a
// failing one is written as such. A RunObserver (scheduler.h) reports each
// decision (the runnable set, who was running, who runs) and each
// synchronization object a step operates on.
//
// WEAK MEMORY. Where the scheduler runs in its weak-memory mode
// (weak_memory.h; `./nf explore --weak`), a decision's options are the
// runnable threads then the flush options (bits kMaxThreads.. of the runnable
// set), and the explorer enumerates them like threads: a flush while the
// running thread could go on counts as a preemption (so K bounds the early
// flushes too), and a schedule's bytes replay it exactly in that mode. The
// reduction does not see the store buffers: it is not sound there.
//
// PREEMPTIONS. A decision where the running thread could continue (it yielded
// and is runnable) and another runs is a preemption; a switch away from a
// thread that blocked or finished is free, and so is the first decision (who
// starts). Each choice point of a run offers the runnable threads it did not
// take whose cost keeps the run within K preemptions; each such alternative is
// a schedule to run (the run's choices up to that point, then the
// alternative). Schedules run by level, the preemptions they spend: every one
// of level l before any of level l + 1 (as CHESS's iterative context
// bounding), depth first within a level. So the first failure found is one
// with the fewest preemptions, and a choice point is first reached with the
// fewest preemptions it can be reached with (which the reduction needs).
// Pending schedules are capped at the runs left (Options::max_schedules),
// dropping from the deepest level.
//
// REDUCTION (Options::reduction): state caching on happens-before, which is
// sound under the preemption bound (unlike sleep sets or DPOR pruned by the
// bound: Coons, Musuvathi, McKinley, "Bounded partial-order reduction", OOPSLA
// 2013). A *step* is what a thread runs between two decisions. Two steps of
// different threads are dependent when they operate on the same
// synchronization object (a lock, a wait key, an atomic: what the seam
// reports). Two schedule prefixes that order every pair of dependent steps
// the same way (the same Mazurkiewicz trace) reach the same state, if the
// program has no data race (every conflicting pair of plain accesses is
// ordered by the seam's synchronization, so by the order of dependent steps).
// The explorer keeps, per run, each object's sequence of steps (thread, index
// of the step in its thread), and hashes the sequences and the per-thread step
// counts into a fingerprint of the trace so far. At a choice point the key is
// (fingerprint, the running thread, the runnable set); if the key was reached
// before with at most as many preemptions spent, everything below it is
// explored from there (its alternatives were queued) within at least the
// budget left now: this choice point and every later one of the run get no
// alternatives (the run goes on with the default, and counts as a schedule
// explored). Objects are named by the step
// that first touched them (thread, step index, order within the step), not by
// address, so equal traces give equal fingerprints in every run.
//   What this does not cover: a data race on plain memory makes two steps
// dependent that the explorer sees as independent, and the reduction may then
// miss an outcome. Where the build detects races (NF_RACE_DETECTION: every
// plain access of the code under test is checked against happens-before) a
// race is itself a failure (P10) on the first schedule that has it, so the
// reduction is sound up to the first race found; where it does not (the dev
// preset), plain enumeration (reduction off) is the safe mode for racy code.
// The same holds for any shared state read outside the seam: the concurrent
// world's lock-free oracle reads in the deterministic flavour (P6 after every
// op, the P1 quiescence check) and the kernel file's plain reads (its code is
// not instrumented) are invisible to the dependence relation. Measured on the
// regression reproducers (docs/results.md), the reduction reached the same
// distinct terminal states as plain enumeration on every program where both
// completed but one (harness_p1_stale_seq_read on the kernel file: 2093
// against 2094). So plain enumeration is the default, and the only mode a
// certification uses; the reduction is an opt-in speed-up for programs whose
// shared state all goes through the seam. Hash collisions of the 64-bit
// fingerprints could also prune wrongly; we accept those odds.
//
// TERMINAL STATES. Each run ends in a trace: its fingerprint at the end (with
// the verdict) is the run's terminal state; the explorer counts the distinct
// ones. With the reduction sound, the count is the same with and without it
// (a test holds the explorer to that).
//
// Determinism: the explorer's order is fixed (by level, then newest schedule
// first); a run that does not replay its prefix the same way (another runnable
// set at the choice point it branches at, checked by a hash of every choice
// point before it) is an error.
#ifndef NF_SYNC_EXPLORE_H_
#define NF_SYNC_EXPLORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace nf::sched {

struct ExploreStats {
  uint64_t schedules = 0;        // runs made (each a distinct schedule)
  uint64_t terminal_states = 0;  // distinct terminal traces (see above)
  uint64_t pruned = 0;           // choice points the reduction found covered
  uint64_t max_choice_points = 0;  // the most choice points of one run
};

struct ExploreOptions {
  int preemptions = 2;             // K
  uint64_t max_schedules = 100000;  // stop after this many runs
  // Off by default: see "What this does not cover" above.
  bool reduction = false;
  // Called after every `progress_every` runs (nullptr: never).
  std::function<void(const ExploreStats&)> progress;
  uint64_t progress_every = 10000;
};

struct ExploreResult {
  enum class Verdict {
    kAllPassed,     // every schedule within K preemptions passed
    kFailed,        // `failure` on the schedule `failing_schedule`
    kBoundReached,  // max_schedules runs made, none failed, some left
    kError,         // `error`: a run did not replay its own prefix
  };
  Verdict verdict = Verdict::kAllPassed;
  ExploreStats stats;
  // kFailed: the schedule bytes (ScheduleInput::Decode's form: strategy byte 0,
  // direct, then the choice bytes up to the last that differs from the
  // default) and what the run returned.
  std::vector<uint8_t> failing_schedule;
  std::string failure;
  int failing_preemptions = 0;
  std::string error;
};

// Runs the program once under the schedule bytes (ScheduleInput::Decode's
// form), by one Scheduler::Run on the calling OS thread; returns "" if every
// check passed, else what failed.
using RunOnce = std::function<std::string(absl::Span<const uint8_t> schedule)>;

// Explores the schedules of `run` within options.preemptions preemptions,
// stopping at the first failure or after options.max_schedules runs.
ExploreResult Explore(const RunOnce& run, const ExploreOptions& options);

}  // namespace nf::sched

#endif  // NF_SYNC_EXPLORE_H_
