// P11 (docs/contract.md §7): No lock-order inversion: the classes of locks
// taken one inside another never form a cycle (lockdep's rule, a potential
// deadlock whether or not a schedule deadlocks).
//
// The deterministic scheduler's lock-order graph (sync/lock_order.h) sees every
// acquisition of a named lock, in every interleaving the concurrent fuzzer
// runs; a cycle ends the run (sched::Outcome::kLockOrder) and the concurrent
// executor reports its description, which names the cycle's classes and both
// acquisitions of each edge. The classes: the driver's user lock, the core's and
// the kernel's subscriptions lock, the kernel's rwsems, the invalidate-start
// lockdep map; the concurrent world's own locks have no class (not tracked).
#include "fuzzers/oracles/oracles.h"

namespace nf::fuzz {

Failure P11RunEnded(const RunEnded& e) {
  if (e.kind != RunEnded::Kind::kLockOrder) return {};
  return Violated(Property::kP11, e.description);
}

}  // namespace nf::fuzz
