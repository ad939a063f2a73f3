// fuzzers/executors/threaded.h: runs a Program's threads on OS threads (std::thread), on
// the core's real-thread flavour (nf_core): the executor of tsan_replay, where
// ThreadSanitizer watches every access of the core and of the world.
//
// Same world, skip rule, cleanup and end checks as the concurrent fuzzer
// (concurrent_world.h), minus the checks that need a deterministic schedule:
// mirrors are compared with the page table (P6) and the seq parity at quiescent
// points (P1) only at the end, when no other thread runs. The interleaving is the
// OS's, so a run is not reproducible; a pass proves nothing about other runs.
//
// The threads are released together from a latch, and all are joined before
// RunThreaded returns: no thread outlives its input. A watchdog bounds the run
// (kWatchdogSeconds; the one use of a clock in the toolkit: it only decides to
// report a hang, never a result): past it, each thread's op in flight is printed
// and the process aborts. A violation prints the property, the program and the
// ops in flight, then aborts.
#ifndef NF_FUZZERS_THREADED_H_
#define NF_FUZZERS_THREADED_H_

#include "fuzzers/program/program.h"

namespace nf::fuzz {

// A correct core runs any program in well under a second; 10 s means a hang.
inline constexpr int kWatchdogSeconds = 10;

void RunThreaded(const Program& program);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_THREADED_H_
