// sync/lock_order.h: lock-order inversions (potential deadlocks), as the
// kernel's lockdep finds them, for one run of the deterministic scheduler
// (scheduler.h). The scheduler owns one and feeds it; nothing else calls it.
//
// WHAT IS REPORTED. Each logical thread has a stack of the locks it holds. When
// a thread acquires a lock of class L while it holds one of class H, the graph
// gets the edge H -> L ("H is taken before L"), with a witness: the thread,
// the step, the yield point and op label of both acquisitions, and where in
// the code each was taken. An edge that closes a cycle (L already reaches H) is
// a lock-order inversion: two threads each following one side of the cycle can
// deadlock, whether or not this run's schedule made them do so. The report
// gives every edge of the cycle with its witness (P11, docs/contract.md §7).
// The run stops at the acquisition that closes the cycle, before it waits.
//
// CLASSES, NOT INSTANCES (lockdep's semantics). A lock's class names what kind
// of lock it is, not which object: every Driver's user lock is of class
// "driver.user_lock", every mm's subscriptions lock of "&subscriptions->lock".
// So an inversion between driver A's lock and driver B's is seen even when each
// run's objects are new. The class is a string literal given where the lock is
// made (the seam's Mutex(lock_class), the shim's spin_lock_init, init_rwsem,
// and struct lockdep_map's name); classes compare by their text. A lock made
// without a class (the seam's own internal mutexes, the worlds' book-keeping
// locks) is not tracked: only the locks the code under test and the driver
// model name take part.
//
// WHAT COUNTS AS AN ACQUISITION.
//   - Mutex::Lock, spin_lock, down_read, down_write: an acquisition; the edge is
//     recorded before the thread waits for the lock (lockdep checks there).
//   - A trylock that succeeded (Mutex::TryLock, down_read_trylock): held, so it
//     is the source of later edges, but no edge leads to it: a trylock never
//     waits, so it cannot close a wait cycle (lockdep does the same).
//   - A lockdep map (the kernel's __mmu_notifier_invalidate_range_start_map and
//     the core's equivalent, sync::LockMap): "acquired" across the region it
//     covers (an invalidation's callbacks) and acquired-and-released right
//     before a wait for that region (mmu_interval_read_begin, remove). A
//     driver lock held around read_begin gives user_lock -> map; a callback
//     that takes the user lock gives map -> user_lock: the cycle. A
//     non-blocking invalidation takes the map as a trylock (it waits for
//     nothing; its callbacks only try-lock).
//   - rw_semaphore reads count as acquisitions like writes. The kernel's rwsem
//     is writer-fair, so a reader can wait behind a queued writer and a cycle
//     through a read side can deadlock; lockdep treats down_read the same.
//
// NOT REPORTED (known misses against lockdep):
//   - Nesting two locks of one class (lockdep's "possible recursive locking"):
//     no edge. Re-acquiring the same instance is a hard failure of the seam or
//     a BUG of the shim already.
//   - Locks whose class is not named (above), and the 65th and later classes
//     of a run (kMaxLockClasses): not tracked.
//   - IRQ-safety and other lockdep states: nf has no interrupts.
//
// The graph is per run (Reset): a report is a function of the run's input
// bytes alone, and replays exactly.
#ifndef NF_SYNC_LOCK_ORDER_H_
#define NF_SYNC_LOCK_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nf::sched {

inline constexpr int kLockOrderThreads = 4;  // == kMaxThreads (scheduler.h)
inline constexpr int kMaxLockClasses = 64;

// Where an acquisition happened in the code: a source file and line where the
// caller passed them (the seam's Mutex takes its caller's), else a return
// address symbolized at report time.
struct CodePlace {
  const char* file = nullptr;
  int line = 0;
  uintptr_t pc = 0;
  std::string ToString() const;
};

// One acquisition, as a witness of an edge.
struct LockAcquisition {
  int thread = -1;
  uint64_t step = 0;           // the scheduler's decision count at the acquisition
  const char* lock_class = "";
  const char* point = "";      // the thread's last yield point
  std::string label;           // the op in flight (SetLabel), may be empty
  CodePlace where;
  std::string ToString() const;  // "t1 took C at step 9 [label] in F file:line"
};

// The edge from -> to: `held` was held when `acquired` was taken.
struct LockOrderEdge {
  LockAcquisition held;
  LockAcquisition acquired;
};

struct LockOrderReport {
  // The cycle's edges in order: cycle[i].acquired.lock_class ==
  // cycle[i+1].held.lock_class, and the last one's acquired class is the first
  // one's held class. The last edge is the one this run's acquisition added.
  std::vector<LockOrderEdge> cycle;
  // One line, e.g. "lock-order inversion: driver.user_lock ->
  // mmu_notifier_invalidate_range_start -> driver.user_lock, a potential
  // deadlock: t0 took mmu_notifier_invalidate_range_start at step 12 [...] in
  // ..., then driver.user_lock at step 15 [...] in ...; t1 took
  // driver.user_lock at step 30 [...] in ..., then
  // mmu_notifier_invalidate_range_start at step 31 [...] in ...".
  std::string ToString() const;
};

class LockOrder {
 public:
  LockOrder();

  // A new run: forgets the graph and every thread's held locks.
  void Reset();

  // Thread t takes `lock` (any address naming the instance) of class
  // `lock_class` (a string literal). `trylock`: it already has it and never
  // waited. Returns true if the acquisition closes a cycle: then report()
  // has it (the first of the run), and the lock is not recorded as held.
  bool Acquire(int t, uint64_t step, const void* lock, const char* lock_class, bool trylock,
               const char* point, std::string_view label, CodePlace where);
  // Thread t releases `lock` (the innermost acquisition of that instance).
  // A lock it does not hold is ignored.
  void Release(int t, const void* lock);

  const LockOrderReport& report() const { return report_; }

 private:
  static constexpr size_t kLabelBytes = 48;
  struct Held {
    const void* lock;
    int cls;
    uint64_t step;
    const char* point;
    CodePlace where;
    char label[kLabelBytes];  // truncated copy: no allocation per acquisition
  };
  // The witness is kept as the two Held records (no allocation per edge); it
  // becomes a LockOrderEdge only in a report.
  struct Edge {
    int from, to;
    int thread;
    Held held, acquired;
  };

  int ClassId(const char* lock_class);  // -1 past kMaxLockClasses
  LockAcquisition Witness(int t, const Held& h) const;
  // The edges of a path from -> ... -> to (by breadth-first search in class id
  // order, so the same graph gives the same path); empty if none.
  std::vector<int> Path(int from, int to) const;

  std::vector<const char*> classes_;  // this run's, by id (first appearance)
  uint64_t succ_[kMaxLockClasses] = {};  // bit j of succ_[i]: edge i -> j
  std::vector<Edge> edges_;             // in order of creation
  std::vector<int> edge_index_;         // [i * kMaxLockClasses + j]: index in edges_, or -1
  std::vector<Held> held_[kLockOrderThreads];
  LockOrderReport report_;
};

}  // namespace nf::sched

#endif  // NF_SYNC_LOCK_ORDER_H_
