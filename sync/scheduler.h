// sync/scheduler.h: a deterministic scheduler for 1 to 4 logical
// threads, run as cooperative fibers (fiber.h) on the calling OS thread. It backs
// the NF_SYNC_SCHED flavour of the sync seam (sync/sync_sched.h): every primitive
// operation there is a yield point, where the scheduler may switch threads, and
// the choice is made by a ScheduleInput decoded from fuzzer bytes.
//
// Only one logical thread runs at a time. A thread runs until its next yield
// point; there the scheduler makes one *decision* (a "step"): which runnable
// thread runs next. Blocking is real: a thread blocked on a Mutex or in a
// WaitQueue wait is not runnable until a Unlock / WakeAll wakes it.
//
// A run ends in one of four ways (RunResult::outcome):
//   kOk         every thread body returned.
//   kDeadlock   no thread is runnable but some are blocked (a deadlock or a lost
//               wakeup). RunResult::threads gives every thread's position.
//   kStepBound  the run took more than Options::step_bound decisions (livelock,
//               or a program too long for the budget).
//   kDataRace   (Options::detect_races) an access of the code under test raced
//               with an earlier one: RunResult::description names both. The run
//               stops at the second access, before it happens.
//   kLockOrder  (Options::detect_lock_order) a lock acquisition closed a cycle
//               in the graph of lock classes (lock_order.h): a potential
//               deadlock, reported even when this schedule did not deadlock.
//               RunResult::description gives the cycle with both (every)
//               acquisition chain. The run stops at that acquisition, before it
//               waits.
// In every case Run() returns to its caller normally.
//
// DATA RACES. With Options::detect_races the scheduler tracks happens-before
// (race_detector.h: a vector clock per thread, updated by every report of the
// seam's primitives) and checks every plain load and store of the code under
// test. Those reach it through SanitizerCoverage's callbacks
// (__sanitizer_cov_load1..16, __sanitizer_cov_store1..16, defined in
// scheduler.cc): only code compiled with -fsanitize-coverage=trace-loads,
// trace-stores calls them, which the build does for the core's deterministic
// flavour and the kernel target's (the kernel C objects of nf_kernel_sched)
// where NF_RACE_DETECTION is on (core/CMakeLists.txt, kernel/CMakeLists.txt). Outside a run
// the callbacks return at once. The seam's own state (a Mutex's owner, an
// Atomic's value) is read and written by functions the instrumentation skips;
// an Atomic's operations are recorded as marked accesses instead.
//
// LOCK ORDER. With Options::detect_lock_order the scheduler keeps, per logical
// thread, the locks it holds, of every lock that names its class (the seam's
// Mutex(lock_class) and LockMap, the kernel shim's spinlocks, rw_semaphores and
// lockdep maps), and the per-run graph of classes taken one inside another
// (lock_order.h, lockdep's semantics). It needs no instrumentation: on in every
// build unless NF_LOCK_ORDER_DETECTION is off.
//
// WEAK MEMORY. With Options::weak_memory (off by default; on where the
// environment has NF_WEAK_MEMORY=1, or after SetWeakMemoryDefault(true)) the
// marked stores that order nothing (relaxed, WRITE_ONCE) go to a per-thread
// store buffer and other threads' marked loads do not see them until they are
// flushed; a flush is a decision of the schedule like a switch, or forced by a
// fence, a lock, a release or seq_cst operation, a wait or wake, or the
// thread's end (weak_memory.h has the model and what it covers). With the
// mode on, a decision's options are the runnable threads then the flush
// options, so the same bytes mean another schedule than with it off.
//
// ABANDONED THREADS. After kDeadlock, kStepBound, kDataRace or kLockOrder the unfinished threads are
// abandoned: their stacks are reused by the next Run() and the objects on them
// are NOT destroyed (no destructor, no unwinding). Thread bodies must therefore
// keep anything that owns resources (heap memory, fixtures) outside their own
// stack, in objects the caller owns and cleans up after Run() returns. Locks held
// by abandoned threads stay held.
//
// Requirements on thread bodies: no exception may escape one (std::terminate);
// none may switch while handling an exception (a yield point inside a catch
// block); none may block on anything but the seam's primitives (a real OS wait
// stalls the whole run); yield point names are string literals.
//
// Cost: a yield point that keeps the running thread is one out-of-line call and
// a scan of at most kMaxThreads states; a switch adds one context switch (see
// sched_bench). Nothing is allocated per yield unless a trace is recorded.
//
// Determinism: a run depends only on the thread bodies and the ScheduleInput. No
// clock, no OS thread, no unseeded randomness; PCT's generator is seeded from the
// input bytes.
//
// No interleaving coverage. Until 2026-12-03 the scheduler also fed libFuzzer
// "interleaving features" (a hashed table of extra counters: the yield points
// of each switch and wake, the epoch at each callback). Measured with 3 and 10
// seeds per mutant against the same fuzzer without them, they changed the time
// to detection by less than the seeds vary (docs/results.md, the ablation), so
// they were removed; the git history has them.
//
// Typical use (the executor):
//
//   sched::Scheduler scheduler;                  // long-lived: its stacks are reused
//   std::function<void()> bodies[] = {...};
//   sched::RunResult r = scheduler.Run(bodies, sched::ScheduleInput::Decode(bytes),
//                                      /*trace=*/nullptr);
//   if (!r.ok()) report(r.description);        // deadlock or step bound
//
// and, to replay with a trace: `sched::Trace t; scheduler.Run(bodies, in, &t);
// std::cout << t.ToString();`.
#ifndef NF_SYNC_SCHEDULER_H_
#define NF_SYNC_SCHEDULER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "sync/fiber.h"

namespace nf::sched {

inline constexpr int kMaxThreads = 4;

// True where this build compiles the core's deterministic flavour with the
// load/store instrumentation the race detector needs (the asan and fuzz
// presets; see core/CMakeLists.txt).
#if defined(NF_RACE_DETECTION)
inline constexpr bool kRaceDetectionBuilt = true;
#else
inline constexpr bool kRaceDetectionBuilt = false;
#endif

// True unless the build turned the lock-order detector off
// (-DNF_LOCK_ORDER_DETECTION=OFF, for measuring its cost).
#if defined(NF_NO_LOCK_ORDER_DETECTION)
inline constexpr bool kLockOrderDetectionBuilt = false;
#else
inline constexpr bool kLockOrderDetectionBuilt = true;
#endif

// The default budget of decisions per run. A notifier program of a few dozen ops
// takes a few thousand; a run that needs 100,000 is spinning.
inline constexpr uint64_t kDefaultStepBound = 100000;

// How a ScheduleInput chooses the next thread. Append-only: a value's meaning
// never changes once assigned.
enum class Strategy : uint8_t {
  // At each decision with two or more runnable threads one choice byte picks
  // runnable[byte % count], where runnable[] lists the runnable threads by
  // ascending id. (The modulus is over the runnable set, which is what the byte
  // means; it is not an index into a growing table.) A decision with a single
  // runnable thread consumes no byte. When the bytes run out: keep running the
  // current thread if it is runnable, else the lowest-numbered runnable thread.
  kDirect = 0,
  // Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi,
  // Nagarakatte, ASPLOS 2010). The n threads get distinct random priorities
  // d .. d+n-1; change points 1 .. d-1 are each drawn uniformly from steps
  // [1, k] (k = the horizon); at each decision the highest-priority runnable
  // thread runs; at change point i the running thread's priority drops to i,
  // below every initial priority. For a program of n threads and at most k
  // steps (decisions), one run finds any bug of depth d (d ordering constraints
  // between steps) with probability at least 1 / (n * k^(d-1)). The bound
  // needs k >= the run's real step count; a larger k only weakens it. Priorities
  // and change points come from a SplitMix64 generator seeded with the seed.
  kPct = 1,
};
inline constexpr int kNumStrategies = 2;
std::string_view StrategyName(Strategy s);

// PCT parameters' ranges.
inline constexpr int kMaxPctDepth = 4;            // bugs of depth up to 4
inline constexpr uint32_t kMinPctHorizon = 64;    // k = kMinPctHorizon << (0..7)
inline constexpr int kPctHorizonShifts = 8;       // so k is 64 .. 8192

// One schedule. Holds a view of the choice bytes: they must outlive Run().
struct ScheduleInput {
  Strategy strategy = Strategy::kDirect;
  absl::Span<const uint8_t> choices;  // kDirect
  int pct_depth = 1;                  // kPct: d, 1 .. kMaxPctDepth
  uint32_t pct_horizon = kMinPctHorizon;  // kPct: k
  uint64_t pct_seed = 0;              // kPct

  // Decodes fuzzer bytes. Total and deterministic: every byte string decodes,
  // missing bytes read as zero.
  //   byte 0        strategy: 0 direct, 1 PCT; any other value decodes as direct
  //                 (a strategy appended later takes the next value, which only
  //                 changes inputs that used an unassigned value).
  //   direct        bytes 1..: the choice bytes.
  //   PCT           byte 1: d = 1 + byte % kMaxPctDepth;
  //                 byte 2: k = kMinPctHorizon << (byte % kPctHorizonShifts);
  //                 bytes 3..10: seed, little-endian. Later bytes are ignored.
  static ScheduleInput Decode(absl::Span<const uint8_t> data);
  static ScheduleInput Direct(absl::Span<const uint8_t> choices);
  static ScheduleInput Pct(uint64_t seed, int depth, uint32_t horizon);

  std::string DebugString() const;
};

enum class Outcome : uint8_t { kOk, kDeadlock, kStepBound, kDataRace, kLockOrder };
std::string_view OutcomeName(Outcome o);

enum class ThreadStatus : uint8_t { kRunnable, kBlocked, kDone };
std::string_view ThreadStatusName(ThreadStatus s);

// Where a thread was when the run ended.
struct ThreadPosition {
  int thread = 0;
  ThreadStatus status = ThreadStatus::kRunnable;
  const char* point = "";  // its last yield point (or block point)
  std::string label;       // the op in flight, as set by SetLabel()
};

struct RunResult {
  Outcome outcome = Outcome::kOk;
  uint64_t steps = 0;                    // decisions taken
  std::vector<ThreadPosition> threads;   // filled unless ok
  // Empty if ok, else one line, e.g.
  //   deadlock after 7 steps, no thread can run: t0 blocked at mutex.lock
  //   [lock A then B], t1 blocked at mutex.lock [lock B then A]
  //   step-bound: 1000 steps taken and not done: t0 runnable at atomic.load, t1 done
  //   data race: plain write of 8 bytes by t1 at step 40 in F file:line,
  //   unordered with an earlier plain read of 8 bytes by t0 at step 12 in G file:line;
  //   t0 held a lock t1 did not   (race_detector.h RaceReport)
  //   lock-order inversion: A -> B -> A, a potential deadlock: t0 took A at
  //   step 3 [op] in F file:line, then, holding it, B at step 5 in ...; t1 took
  //   B ..., then, holding it, A ...   (lock_order.h LockOrderReport)
  std::string description;
  bool ok() const { return outcome == Outcome::kOk; }
};

// A record of one run, one event per line:
//
//   <step> t<thread> <kind> [<point or text>]
//
// kinds: `yield P` (reached yield point P), `block P` (blocked at P), `wake tN`
// (made thread N runnable), `done` (the body returned), `label TEXT` (SetLabel),
// `note TEXT` (Note). <step> is the number of decisions taken before the event.
// A header line (`# ...`, the schedule) opens the text and an `# end` line with
// the outcome closes it. The text has no addresses or times: the same program
// and input give the same text, byte for byte.
class Trace {
 public:
  enum class Kind : uint8_t { kYield, kBlock, kWake, kDone, kLabel, kNote };
  struct Event {
    uint64_t step = 0;
    int8_t thread = 0;
    Kind kind = Kind::kYield;
    int8_t other = -1;           // kWake: the woken thread
    const char* point = nullptr; // kYield, kBlock: the point's name (static)
    std::string text;            // kLabel, kNote
  };

  const std::vector<Event>& events() const { return events_; }
  const std::string& header() const { return header_; }
  std::string ToString() const;
  void Clear();

 private:
  friend class SchedulerImpl;

  std::string header_;
  std::vector<Event> events_;
  std::string end_;
};

// EXPLORATION (sync/explore.h). A RunObserver installed on an OS thread
// (ScopedRunObserver) sees every Run() on that thread: each decision, and each
// synchronization object the running thread operates on. The systematic
// explorer uses it to learn the choice points of a run and the dependence of
// its steps; it does not change the run. No observer: one load and a branch
// per decision and per seam report.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // Run() is about to start the threads (before the first decision).
  virtual void OnRunStart() {}
  // A decision: `current` is the thread that just yielded, blocked or finished
  // (-1 for the first decision, who starts), `runnable` has bit i set if thread
  // i is runnable, `chosen` runs next. In the weak-memory mode bit
  // kMaxThreads + i is flush option i (weak_memory.h); a `chosen` of
  // kMaxThreads + i flushes it, then the same thread decides again (a new
  // decision, reported again), so no thread's step begins. Every decision is reported, those with a
  // single runnable thread included; the direct strategy spends a choice byte
  // exactly on those with two or more.
  virtual void OnDecision(int current, uint32_t runnable, int chosen) = 0;
  // The running thread operated on a synchronization object: a lock's acquire
  // or release (LockAcquired, LockReleased), a block or wake key, a marked
  // (atomic) access.
  virtual void OnObject(const void* object) = 0;
};

// Installs `observer` for the Run() calls of the calling OS thread while in
// scope (not nested).
class ScopedRunObserver {
 public:
  explicit ScopedRunObserver(RunObserver* observer);
  ~ScopedRunObserver();
  ScopedRunObserver(const ScopedRunObserver&) = delete;
  ScopedRunObserver& operator=(const ScopedRunObserver&) = delete;
};

class SchedulerImpl;

// Scheduler::Options::weak_memory's default for schedulers made from now on:
// false unless the environment variable NF_WEAK_MEMORY is 1 at the first
// call, or SetWeakMemoryDefault(true) was called (./nf explore --weak).
bool WeakMemoryDefault();
void SetWeakMemoryDefault(bool on);

class Scheduler {
 public:
  struct Options {
    uint64_t step_bound = kDefaultStepBound;
    size_t stack_size = kDefaultStackSize;
    // Track happens-before and report data races (kDataRace). On by default
    // where the build instruments the code under test (NF_RACE_DETECTION).
    bool detect_races = kRaceDetectionBuilt;
    // Track the order of lock classes and report inversions (kLockOrder).
    bool detect_lock_order = kLockOrderDetectionBuilt;
    // Buffer relaxed marked stores (weak_memory.h). Off unless the default
    // says so (WeakMemoryDefault()).
    bool weak_memory = WeakMemoryDefault();
  };

  Scheduler();
  explicit Scheduler(Options options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs threads[0..n) (1 <= n <= kMaxThreads) under `schedule` until all
  // return, or deadlock, or the step bound. If `trace` is not null it is cleared
  // and receives the run's events. Must not be called from a scheduled thread.
  // Stacks are mapped on first use and reused by every later run.
  RunResult Run(absl::Span<const std::function<void()>> threads,
                const ScheduleInput& schedule, Trace* trace = nullptr);

 private:
  std::unique_ptr<SchedulerImpl> impl_;
};

// For thread bodies (all are no-ops when no scheduler is running):

// Sets the label of the calling thread's op in flight; it appears in deadlock and
// step-bound reports, and in the trace. Copies `label` (no allocation once the
// thread's buffer has grown to fit).
void SetLabel(std::string_view label);

// Adds a `note` event to the trace, if one is being recorded.
void Note(std::string_view text);

// True if a trace is being recorded: callers can skip formatting notes otherwise.
bool Tracing();

// The calling logical thread's index, or -1 outside a run.
int CurrentThreadId();

// Reports a plain access of `size` bytes at `addr` to the race detector, as the
// instrumentation callbacks do; for tests in builds without the instrumentation.
// A no-op outside a run or without Options::detect_races.
void TestingOnlyPlainAccess(const void* addr, size_t size, bool write);

}  // namespace nf::sched

#endif  // NF_SYNC_SCHEDULER_H_
