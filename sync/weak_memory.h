// sync/weak_memory.h: the weak-memory mode of the deterministic scheduler
// (scheduler.h, Scheduler::Options::weak_memory): per-logical-thread store
// buffers for the marked stores that order nothing. The scheduler owns one
// StoreBuffers per run and feeds it from the seam's hooks (sync_sched.h) and
// the kernel shim's marked accesses (kernel/shim/primitives.cc); nothing else
// calls it. Off by default: with the mode off no hook below is called and every
// run, trace and corpus output is what it was.
//
// THE MODEL. A marked store that is not seq_cst (the seam's Atomic::Store
// with a relaxed or release order; the shim's WRITE_ONCE, atomic_set,
// smp_store_release and rcu_assign_pointer) enters the storing thread's
// buffer; a release store flushes the buffer first (release orders every
// earlier store before it). The store is written through to memory at once
// (so the storing thread, and every plain access of its own, sees program
// order), but until it is *flushed* every other thread's marked load of that
// location reads the value the location had before the thread's pending
// stores (its "visible" value). A flush makes one pending store visible. Per
// thread and location the buffer is FIFO; stores to different locations may
// become visible in any order (a partial store order, PSO), but a release
// store never before the stores that precede it (those were flushed when it
// entered).
//
// Flushes are forced by: a full fence (sync::Fence, the shim's smp_mb), any
// seq_cst or read-modify-write operation (the seam's Exchange/FetchAdd/
// FetchSub, seq_cst loads and stores, the shim's atomic_t ops), a release
// store (of the earlier stores), every lock acquire and release (the seam's
// Mutex and what the shim builds on it: spinlocks, rw_semaphores, SRCU; a
// lock's acquire is stronger here than in LKMM, where a store before it may
// still be pending inside the critical section), a block or wake of a wait
// queue (the kernel's wait/wake imply a full barrier), and the end of the
// thread (after a last decision, so others may run while its buffer is still
// full). Otherwise a flush happens when the schedule says so: at each decision
// the scheduler's choices are the runnable threads, then one "flush" option
// per thread and location with a pending store (the oldest store of that
// location), at most kMaxFlushOptions of them. The direct strategy reads the
// choice from the same input bytes (a byte is consumed wherever there are two
// or more options); when the bytes run out nothing is flushed until something
// forces it. PCT flushes at a decision with probability 1/4, from a generator
// seeded by the input. So a weak-memory failure replays exactly from its bytes
// (with the mode on).
//
// SIMPLIFICATIONS (each makes the mode allow fewer outcomes, never more):
// - A location has pending stores of at most one thread: a marked store to a
//   location another thread holds pending flushes that thread's stores to it
//   first. The coherence order is then always the order of the stores in the
//   run; an outcome that needs a later store to become visible before an
//   earlier one by another thread (S, 2+2W) is not reached.
// - An access that overlaps a pending location without being that exact
//   (address, size) flushes that location first; so does a store wider than
//   kMaxValueBytes (never buffered).
// - Loads are never reordered and never read a value older than the visible
//   one: there is no load buffering and no read-read reordering (a load
//   reads the newest visible value, or the thread's own newest pending store).
// - A store becomes visible to every other thread at once (multicopy
//   atomicity): IRIW and WRC's weak outcomes are not reached.
//
// WHAT THIS COVERS of the Linux kernel memory model (tools/memory-model) and
// of C++'s: store buffering (SB: the weak outcome with WRITE_ONCE/relaxed, or
// release stores and acquire loads, on both sides is reached, and forbidden
// with smp_mb or seq_cst on both), message passing with the writer's stores
// reordered (MP: reached with WRITE_ONCE on the writer, forbidden with
// smp_store_release on it and smp_load_acquire on the reader), store
// forwarding (a thread reads its own pending store), R, and the same shapes
// through locks (a lock's release makes every earlier store visible). What it
// does not: load buffering (LB), read-read reordering (MP with a release
// writer but a READ_ONCE reader is allowed by LKMM and forbidden here), non-
// multicopy-atomic propagation (IRIW, WRC), out-of-thin-air, dependency
// ordering (no address/data/control dependency is modelled, nor smp_rmb or
// smp_wmb: the shim has only smp_mb), and C++'s release sequences and consume.
// The race detector's happens-before is unchanged: an acquire load that reads
// an older value than the release store it is paired with still gets the
// edge (the detector may miss a race then, never report a false one). The
// litmus table is in docs/contract.md ("The weak-memory mode").
//
// Plain accesses (the code under test's ordinary loads and stores) are not
// buffered and read memory directly. A location whose memory no longer holds
// its owner's newest pending store when another thread loads it (a plain
// store wrote it since, e.g. the owner's own, or its memory was freed and
// reused) counts as flushed: the load reads memory. A plain read by another
// thread of a location with a pending marked store sees the new value: a plain read by another thread of a
// location with a pending marked store sees the new value. Such a read is
// unordered with the store (anything ordering it would have flushed it), so it
// is a data race the race detector reports where it runs.
//
// Determinism: the state depends only on the sequence of calls.
#ifndef NF_SYNC_WEAK_MEMORY_H_
#define NF_SYNC_WEAK_MEMORY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nf::sched {

inline constexpr int kWeakThreads = 4;         // == kMaxThreads (scheduler.h)
inline constexpr int kMaxFlushOptions = 8;     // flush choices offered per decision
inline constexpr size_t kMaxValueBytes = 16;   // wider stores are never buffered

class StoreBuffers {
 public:
  // A new run: every buffer empty.
  void Reset();

  // Thread t is about to store the `size` bytes at `value` to addr (the caller
  // writes memory right after), with `order`: relaxed enters t's buffer;
  // release flushes t's buffer, then enters it; seq_cst flushes t's buffer and
  // is visible at once. Another thread's pending stores to the bytes are
  // flushed first.
  void Store(int t, const void* addr, size_t size, const void* value, std::memory_order order);
  // Thread t loaded `size` bytes at addr into out (from memory): replaces them
  // with the visible value where another thread holds the location pending.
  void Load(int t, const void* addr, size_t size, void* out);
  // A read-modify-write by t at addr: t's buffer and every pending store to
  // the bytes are flushed (it reads the newest value and is seq_cst).
  void Rmw(int t, const void* addr, size_t size);
  // Makes every pending store of thread t visible.
  void FlushThread(int t);
  bool Empty(int t) const { return buf_[t].empty(); }

  // The flush options at a decision, in a fixed order (thread, then the
  // buffer's order): each the oldest pending store of one location of one
  // thread. At most kMaxFlushOptions. Returns the count.
  int Options();
  // Thread and buffer index of option i of the last Options() call.
  int OptionThread(int i) const { return options_[i].thread; }
  // Makes option i (of the last Options() call) visible.
  void FlushOption(int i);

 private:
  struct Loc {
    uintptr_t addr = 0;
    size_t size = 0;
    int owner = -1;    // the thread whose stores are pending
    int pending = 0;   // its entries in buf_[owner]
    unsigned char visible[kMaxValueBytes] = {};
    unsigned char newest[kMaxValueBytes] = {};  // the owner's newest pending store
  };
  struct Entry {
    int loc = 0;  // index into locs_
    unsigned char value[kMaxValueBytes] = {};
  };
  struct Option {
    int thread = 0;
    int index = 0;  // into buf_[thread]
  };

  int FindLoc(uintptr_t addr, size_t size) const;
  // Flushes every pending location that overlaps [addr, addr + size), but the
  // one that is exactly (addr, size) if `keep_exact` and its owner is
  // `keep_owner` or keep_owner is -1.
  void FlushOverlapping(uintptr_t addr, size_t size, bool keep_exact, int keep_owner);
  void FlushLoc(int loc);
  void FlushEntry(int t, int index);
  void DropLoc(int loc);

  std::vector<Loc> locs_;  // slots; live where pending > 0 (indices are stable)
  std::vector<Entry> buf_[kWeakThreads];  // per thread, oldest first
  Option options_[kMaxFlushOptions];
  int num_options_ = 0;
};

}  // namespace nf::sched

#endif  // NF_SYNC_WEAK_MEMORY_H_
