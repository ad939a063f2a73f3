// sync/scheduler.cc: the deterministic scheduler (scheduler.h) and the
// hooks of the NF_SYNC_SCHED flavour of the sync seam (sync/sync_sched.h).
#if !defined(NF_SYNC_SCHED)
#error "nf_sched is compiled with NF_SYNC_SCHED (see sync/CMakeLists.txt)"
#endif

#include "sync/scheduler.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "sync/sync.h"
#include "sync/fiber.h"
#include "sync/lock_order.h"
#include "sync/race_detector.h"

// The race detector's entry points carry no coverage instrumentation of their
// own (libFuzzer's counters and comparison hooks in the fuzz preset): they run
// at every access of the code under test, and their branches are not the
// program's behaviour.
#if defined(__clang__)
#define NF_UNCOVERED __attribute__((no_sanitize("coverage")))
#else
#define NF_UNCOVERED
#endif

// The sanitizer allocators' malloc hook (ASan): the race detector forgets
// the shadow of every block handed out during a run (race_detector.h).
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, size_t),
    void (*free_hook)(const volatile void*)) __attribute__((weak));

namespace nf::sched {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "nf::sched: %s\n", what);
  std::abort();
}

// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and every seed is good.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for n far below 2^64.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

// Our Abseil is built with its own string_view, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

void InstallMallocHook();

// One logical thread.
struct SchedThread {
  std::unique_ptr<Fiber> fiber;
  SchedulerImpl* sched = nullptr;
  const std::function<void()>* body = nullptr;
  int id = 0;
  ThreadStatus status = ThreadStatus::kDone;
  const void* blocked_on = nullptr;  // the wait key while kBlocked
  const char* point = "start";       // last yield or block point
  std::string label;                 // SetLabel(); keeps its capacity across runs
  sync::ThreadLocalBlock block;      // what sync::CurrentThreadBlock() returns
};

class SchedulerImpl {
 public:
  explicit SchedulerImpl(Scheduler::Options options) : options_(options) {
    if (options_.stack_size < 16 * 1024) options_.stack_size = 16 * 1024;
    if (options_.detect_races) InstallMallocHook();
    // A survey lists every distinct race and ends no run (race_detector.h).
    const char* survey = std::getenv("NF_RACE_SURVEY");
    race_.set_survey(survey != nullptr && survey[0] == '1');
  }

  RunResult Run(absl::Span<const std::function<void()>> threads,
                const ScheduleInput& schedule, Trace* trace);

  // The hooks, called on the running fiber.
  void Yield(const char* point);
  void Block(const void* key, const char* point);
  void WakeAll(const void* key);
  void SetLabel(std::string_view label);
  void Note(std::string_view text);

  // Race detection (race_detector.h). Each returns at once unless detecting.
  bool detecting() const { return detect_; }
  void Access(const void* addr, size_t size, AccessKind kind, uintptr_t pc);
  void LockAcquired(const void* lock, bool orders);
  void LockReleased(const void* lock, bool orders);
  void HbRelease(const void* obj);
  void HbAcquire(const void* obj);
  void NameLock(const void* lock, const char* name);
  void MarkedLoad(const void* obj, size_t size, bool acquire, uintptr_t pc);
  void MarkedStore(const void* obj, size_t size, bool release, uintptr_t pc);
  void MarkedRmw(const void* obj, size_t size, uintptr_t pc);
  void OnAlloc(const void* p, size_t n);

  // The explorer's observer (ScopedRunObserver), for this run.
  void Touch(const void* object) {
    if (observer_ != nullptr) observer_->OnObject(object);
  }
  // Reports a decision to the observer, if any.
  void Observe(const SchedThread* cur, int chosen) {
    if (observer_ == nullptr) return;
    uint32_t runnable = 0;
    for (int i = 0; i < n_; ++i) {
      if (threads_[i].status == ThreadStatus::kRunnable) runnable |= 1u << i;
    }
    observer_->OnDecision(cur == nullptr ? -1 : cur->id, runnable, chosen);
  }
  // Lock order (lock_order.h). Each returns at once unless detecting.
  void LockOrderAcquire(const void* lock, const char* lock_class, bool trylock,
                        CodePlace where);
  void LockOrderRelease(const void* lock);

  SchedThread* current() const { return current_; }
  uint64_t run_id() const { return run_id_; }
  bool tracing() const { return trace_ != nullptr; }

 private:
  static void ThreadMain(void* arg);

  // One decision by `cur` (the running thread, which has just yielded, blocked or
  // finished). Returns when `cur` is chosen to run again; never returns if
  // `exiting` (cur has finished) or the run ends.
  void Decide(SchedThread* cur, bool exiting);
  // The next thread to run, or -1 if none is runnable.
  int Pick(const SchedThread* cur);
  [[noreturn]] void Finish(SchedThread* cur, Outcome outcome, bool exiting);
  void SetUpSchedule(const ScheduleInput& schedule);
  void AddEvent(const SchedThread* t, Trace::Kind kind, const char* point, int other,
                std::string_view text);
  RunResult MakeResult() const;
  // The current thread's access raced: end the run (kDataRace).
  [[noreturn]] void RaceFound();

  Scheduler::Options options_;
  SchedThread threads_[kMaxThreads];
  int n_ = 0;
  SchedThread* current_ = nullptr;
  Context main_;  // the caller of Run()
  uint64_t step_ = 0;
  Outcome outcome_ = Outcome::kOk;
  Trace* trace_ = nullptr;
  RunObserver* observer_ = nullptr;
  uint64_t run_id_ = 0;  // unique across runs of all schedulers (OwnerToken)

  // The schedule.
  Strategy strategy_ = Strategy::kDirect;
  absl::Span<const uint8_t> choices_;  // kDirect
  size_t next_choice_ = 0;
  int priority_[kMaxThreads] = {};  // kPct: higher runs first
  struct ChangePoint {
    uint64_t step;
    int priority;
  };
  ChangePoint changes_[kMaxPctDepth - 1] = {};
  int num_changes_ = 0;
  std::string pct_layout_;  // for the trace header

  bool detect_ = false;     // this run tracks races
  bool in_detector_ = false;  // the detector's own allocations are not user blocks
  RaceDetector race_;
  bool order_ = false;  // this run tracks lock order
  LockOrder lock_order_;
};

namespace {

// The scheduler whose run is in progress on this OS thread, if any.
thread_local SchedulerImpl* t_running = nullptr;
// The explorer's observer of this OS thread's runs (ScopedRunObserver).
thread_local RunObserver* t_observer = nullptr;
// sync::CurrentThreadBlock() outside a run.
thread_local sync::ThreadLocalBlock t_os_thread_state;

// Runs started in this process; numbers each run for OwnerToken.
std::atomic<uint64_t> g_runs{0};

NF_UNCOVERED void MallocHook(const volatile void* p, size_t n) {
  if (SchedulerImpl* s = t_running) s->OnAlloc(const_cast<const void*>(p), n);
}

}  // namespace

void InstallMallocHook() {
  static const bool installed = [] {
    if (&__sanitizer_install_malloc_and_free_hooks != nullptr) {
      __sanitizer_install_malloc_and_free_hooks(&MallocHook, nullptr);
    }
    return true;
  }();
  (void)installed;
}

// ---------------------------------------------------------------------------
// ScheduleInput

std::string_view StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kDirect:
      return "direct";
    case Strategy::kPct:
      return "pct";
  }
  return "unknown";
}

ScheduleInput ScheduleInput::Decode(absl::Span<const uint8_t> data) {
  auto byte = [&](size_t i) -> uint8_t { return i < data.size() ? data[i] : 0; };
  switch (byte(0)) {
    case static_cast<uint8_t>(Strategy::kPct): {
      uint64_t seed = 0;
      for (int i = 0; i < 8; ++i) seed |= uint64_t{byte(3 + i)} << (8 * i);
      return Pct(seed, 1 + byte(1) % kMaxPctDepth,
                 kMinPctHorizon << (byte(2) % kPctHorizonShifts));
    }
    default:  // kDirect, and values not assigned yet
      return Direct(data.empty() ? data : data.subspan(1));
  }
}

ScheduleInput ScheduleInput::Direct(absl::Span<const uint8_t> choices) {
  ScheduleInput in;
  in.strategy = Strategy::kDirect;
  in.choices = choices;
  return in;
}

ScheduleInput ScheduleInput::Pct(uint64_t seed, int depth, uint32_t horizon) {
  ScheduleInput in;
  in.strategy = Strategy::kPct;
  in.pct_seed = seed;
  in.pct_depth = depth < 1 ? 1 : depth > kMaxPctDepth ? kMaxPctDepth : depth;
  in.pct_horizon = horizon < 1 ? 1 : horizon;
  return in;
}

std::string ScheduleInput::DebugString() const {
  switch (strategy) {
    case Strategy::kDirect:
      return absl::StrCat("direct choices=", choices.size());
    case Strategy::kPct:
      return absl::StrCat("pct depth=", pct_depth, " horizon=", pct_horizon,
                          " seed=0x", absl::Hex(pct_seed, absl::kZeroPad16));
  }
  return "unknown";
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kDeadlock:
      return "deadlock";
    case Outcome::kStepBound:
      return "step-bound";
    case Outcome::kDataRace:
      return "data-race";
    case Outcome::kLockOrder:
      return "lock-order";
  }
  return "unknown";
}

std::string_view ThreadStatusName(ThreadStatus s) {
  switch (s) {
    case ThreadStatus::kRunnable:
      return "runnable";
    case ThreadStatus::kBlocked:
      return "blocked";
    case ThreadStatus::kDone:
      return "done";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// Trace

std::string Trace::ToString() const {
  std::string out = absl::StrCat("# ", header_, "\n");
  for (const Event& e : events_) {
    absl::StrAppend(&out, e.step, " t", static_cast<int>(e.thread), " ");
    switch (e.kind) {
      case Kind::kYield:
        absl::StrAppend(&out, "yield ", e.point);
        break;
      case Kind::kBlock:
        absl::StrAppend(&out, "block ", e.point);
        break;
      case Kind::kWake:
        absl::StrAppend(&out, "wake t", static_cast<int>(e.other));
        break;
      case Kind::kDone:
        out += "done";
        break;
      case Kind::kLabel:
        absl::StrAppend(&out, "label ", absl::CEscape(e.text));
        break;
      case Kind::kNote:
        absl::StrAppend(&out, "note ", absl::CEscape(e.text));
        break;
    }
    out += '\n';
  }
  if (!end_.empty()) absl::StrAppend(&out, "# end ", end_, "\n");
  return out;
}

void Trace::Clear() {
  header_.clear();
  events_.clear();
  end_.clear();
}

// ---------------------------------------------------------------------------
// The scheduler

void SchedulerImpl::SetUpSchedule(const ScheduleInput& schedule) {
  strategy_ = schedule.strategy;
  choices_ = schedule.choices;
  next_choice_ = 0;
  num_changes_ = 0;
  pct_layout_.clear();
  if (strategy_ != Strategy::kPct) return;

  SplitMix64 rng(schedule.pct_seed);
  const int d = schedule.pct_depth < 1 ? 1
                : schedule.pct_depth > kMaxPctDepth ? kMaxPctDepth
                                                     : schedule.pct_depth;
  const uint64_t k = schedule.pct_horizon < 1 ? 1 : schedule.pct_horizon;
  // Distinct priorities d .. d+n-1 in a random order (Fisher-Yates).
  int order[kMaxThreads];
  for (int i = 0; i < n_; ++i) order[i] = i;
  for (int i = n_ - 1; i > 0; --i) {
    std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  for (int i = 0; i < n_; ++i) priority_[order[i]] = d + i;
  // Change point i (1 .. d-1) at a step drawn from [1, k] lowers the running
  // thread's priority to i.
  num_changes_ = d - 1;
  for (int i = 0; i < num_changes_; ++i) {
    changes_[i] = ChangePoint{1 + rng.Below(k), i + 1};
  }
  if (trace_ != nullptr) {
    pct_layout_ = " priorities=";
    for (int i = 0; i < n_; ++i) absl::StrAppend(&pct_layout_, i ? "," : "", priority_[i]);
    pct_layout_ += " changes=";
    for (int i = 0; i < num_changes_; ++i) {
      absl::StrAppend(&pct_layout_, i ? "," : "", changes_[i].step, ":",
                      changes_[i].priority);
    }
  }
}

RunResult SchedulerImpl::Run(absl::Span<const std::function<void()>> threads,
                             const ScheduleInput& schedule, Trace* trace) {
  if (t_running != nullptr) Die("Scheduler::Run called from a scheduled thread");
  if (threads.empty() || threads.size() > static_cast<size_t>(kMaxThreads)) {
    Die("Scheduler::Run needs 1 to kMaxThreads threads");
  }
  n_ = static_cast<int>(threads.size());
  for (int i = 0; i < n_; ++i) {
    SchedThread& t = threads_[i];
    if (t.fiber == nullptr) t.fiber = std::make_unique<Fiber>(options_.stack_size);
    t.sched = this;
    t.body = &threads[i];
    t.id = i;
    t.status = ThreadStatus::kRunnable;
    t.blocked_on = nullptr;
    t.point = "start";
    t.label.clear();
    t.block = sync::ThreadLocalBlock{};
    t.fiber->Start(&SchedulerImpl::ThreadMain, &t);
  }
  trace_ = trace;
  if (trace_ != nullptr) trace_->Clear();
  SetUpSchedule(schedule);
  if (trace_ != nullptr) {
    trace_->header_ = absl::StrCat("nf-sched trace v1: threads=", n_, " ",
                                   schedule.DebugString(), pct_layout_);
  }
  run_id_ = g_runs.fetch_add(1, std::memory_order_relaxed) + 1;
  step_ = 1;  // the first decision: who starts
  outcome_ = Outcome::kOk;
  detect_ = options_.detect_races;
  if (detect_) race_.Reset(n_);
  order_ = options_.detect_lock_order;
  if (order_) lock_order_.Reset();

  observer_ = t_observer;
  if (observer_ != nullptr) observer_->OnRunStart();
  SchedThread* first = &threads_[Pick(nullptr)];
  Observe(nullptr, first->id);
  InitCurrentContext(&main_);
  t_running = this;
  current_ = first;
  SwitchContext(&main_, first->fiber->context());
  // Back here when the run has ended (Finish).
  t_running = nullptr;
  current_ = nullptr;

  RunResult result = MakeResult();
  if (trace_ != nullptr) {
    trace_->end_ = result.ok() ? absl::StrCat("ok after ", step_, " steps") : result.description;
  }
  trace_ = nullptr;
  observer_ = nullptr;
  return result;
}

RunResult SchedulerImpl::MakeResult() const {
  RunResult r;
  r.outcome = outcome_;
  r.steps = step_;
  if (outcome_ == Outcome::kOk) return r;
  if (outcome_ == Outcome::kDataRace || outcome_ == Outcome::kLockOrder) {
    r.description = outcome_ == Outcome::kDataRace ? race_.report().ToString()
                                                   : lock_order_.report().ToString();
    for (int i = 0; i < n_; ++i) {
      const SchedThread& t = threads_[i];
      r.threads.push_back(ThreadPosition{i, t.status, t.point, t.label});
    }
    return r;
  }
  r.description = outcome_ == Outcome::kDeadlock
                      ? absl::StrCat("deadlock after ", step_, " steps, no thread can run:")
                      : absl::StrCat("step-bound: ", options_.step_bound,
                                     " steps taken and not done:");
  for (int i = 0; i < n_; ++i) {
    const SchedThread& t = threads_[i];
    r.threads.push_back(ThreadPosition{i, t.status, t.point, t.label});
    absl::StrAppend(&r.description, i ? "," : "", " t", i, " ", Sv(ThreadStatusName(t.status)));
    if (t.status != ThreadStatus::kDone) {
      absl::StrAppend(&r.description, " at ", t.point);
      if (!t.label.empty()) absl::StrAppend(&r.description, " [", t.label, "]");
    }
  }
  return r;
}

void SchedulerImpl::ThreadMain(void* arg) {
  SchedThread* t = static_cast<SchedThread*>(arg);
  (*t->body)();
  SchedulerImpl* s = t->sched;
  t->status = ThreadStatus::kDone;
  t->point = "done";
  if (s->trace_ != nullptr) s->AddEvent(t, Trace::Kind::kDone, nullptr, -1, {});
  s->Decide(t, /*exiting=*/true);
  Die("a finished thread was resumed");
}

int SchedulerImpl::Pick(const SchedThread* cur) {
  int runnable[kMaxThreads];
  int count = 0;
  for (int i = 0; i < n_; ++i) {
    if (threads_[i].status == ThreadStatus::kRunnable) runnable[count++] = i;
  }
  if (count <= 1) return count == 1 ? runnable[0] : -1;
  switch (strategy_) {
    case Strategy::kDirect:
      if (next_choice_ < choices_.size()) return runnable[choices_[next_choice_++] % count];
      if (cur != nullptr && cur->status == ThreadStatus::kRunnable) return cur->id;
      return runnable[0];
    case Strategy::kPct: {
      int best = runnable[0];
      for (int j = 1; j < count; ++j) {
        if (priority_[runnable[j]] > priority_[best]) best = runnable[j];
      }
      return best;
    }
  }
  return runnable[0];
}

void SchedulerImpl::Decide(SchedThread* cur, bool exiting) {
  ++step_;
  if (step_ > options_.step_bound) Finish(cur, Outcome::kStepBound, exiting);
  for (int i = 0; i < num_changes_; ++i) {
    if (changes_[i].step == step_) priority_[cur->id] = changes_[i].priority;
  }
  const int next = Pick(cur);
  if (next < 0) {
    bool blocked = false;
    for (int i = 0; i < n_; ++i) blocked |= threads_[i].status == ThreadStatus::kBlocked;
    Finish(cur, blocked ? Outcome::kDeadlock : Outcome::kOk, exiting);
  }
  Observe(cur, next);
  SchedThread* to = &threads_[next];
  if (to == cur) return;
  current_ = to;
  if (exiting) ExitFiber(cur->fiber.get(), to->fiber->context());
  SwitchContext(cur->fiber->context(), to->fiber->context());
}

void SchedulerImpl::Finish(SchedThread* cur, Outcome outcome, bool exiting) {
  outcome_ = outcome;
  current_ = nullptr;
  if (exiting) ExitFiber(cur->fiber.get(), &main_);
  // `cur` is abandoned mid-run: the next Run() restarts its fiber.
  SwitchContext(cur->fiber->context(), &main_);
  Die("an abandoned thread was resumed");
}

void SchedulerImpl::AddEvent(const SchedThread* t, Trace::Kind kind, const char* point,
                             int other, std::string_view text) {
  Trace::Event& e = trace_->events_.emplace_back();
  e.step = step_;
  e.thread = static_cast<int8_t>(t->id);
  e.kind = kind;
  e.other = static_cast<int8_t>(other);
  e.point = point;
  e.text.assign(text.data(), text.size());
}

void SchedulerImpl::Yield(const char* point) {
  SchedThread* t = current_;
  t->point = point;
  if (trace_ != nullptr) AddEvent(t, Trace::Kind::kYield, point, -1, {});
  Decide(t, /*exiting=*/false);
}

void SchedulerImpl::Block(const void* key, const char* point) {
  SchedThread* t = current_;
  t->status = ThreadStatus::kBlocked;
  t->blocked_on = key;
  t->point = point;
  Touch(key);
  if (trace_ != nullptr) AddEvent(t, Trace::Kind::kBlock, point, -1, {});
  Decide(t, /*exiting=*/false);  // returns once woken (WakeAll) and chosen
}

void SchedulerImpl::WakeAll(const void* key) {
  Touch(key);
  for (int i = 0; i < n_; ++i) {
    SchedThread& t = threads_[i];
    if (t.status == ThreadStatus::kBlocked && t.blocked_on == key) {
      t.status = ThreadStatus::kRunnable;
      t.blocked_on = nullptr;
      if (detect_) race_.Wake(current_->id, i);  // wake -> wake-up
      if (trace_ != nullptr) AddEvent(current_, Trace::Kind::kWake, nullptr, i, {});
    }
  }
}

void SchedulerImpl::SetLabel(std::string_view label) {
  current_->label.assign(label.data(), label.size());
  if (trace_ != nullptr) AddEvent(current_, Trace::Kind::kLabel, nullptr, -1, label);
}

void SchedulerImpl::Note(std::string_view text) {
  if (trace_ != nullptr) AddEvent(current_, Trace::Kind::kNote, nullptr, -1, text);
}

// ---------------------------------------------------------------------------
// Race detection: the seam's reports and the instrumentation's accesses go to
// the one RaceDetector, which decides happens-before.

NF_UNCOVERED void SchedulerImpl::RaceFound() {
  in_detector_ = false;
  Finish(current_, Outcome::kDataRace, /*exiting=*/false);
}

NF_UNCOVERED void SchedulerImpl::Access(const void* addr, size_t size, AccessKind kind, uintptr_t pc) {
  if (!detect_) return;
  in_detector_ = true;
  const bool race = race_.Access(current_->id, step_, addr, size, kind, pc);
  in_detector_ = false;
  if (race) RaceFound();
}

NF_UNCOVERED void SchedulerImpl::LockAcquired(const void* lock, bool orders) {
  Touch(lock);
  if (!detect_ || !orders) return;
  in_detector_ = true;
  race_.LockAcquired(current_->id, lock);
  in_detector_ = false;
}

NF_UNCOVERED void SchedulerImpl::LockReleased(const void* lock, bool orders) {
  Touch(lock);
  if (!detect_ || !orders) return;
  in_detector_ = true;
  race_.LockReleased(current_->id, lock);
  in_detector_ = false;
}

NF_UNCOVERED void SchedulerImpl::HbRelease(const void* obj) {
  Touch(obj);
  if (!detect_) return;
  in_detector_ = true;
  race_.Release(current_->id, obj);
  in_detector_ = false;
}

NF_UNCOVERED void SchedulerImpl::HbAcquire(const void* obj) {
  Touch(obj);
  if (!detect_) return;
  in_detector_ = true;
  race_.Acquire(current_->id, obj);
  in_detector_ = false;
}

NF_UNCOVERED void SchedulerImpl::NameLock(const void* lock, const char* name) {
  if (!detect_) return;
  in_detector_ = true;
  race_.NameLock(lock, name);
  in_detector_ = false;
}

NF_UNCOVERED void SchedulerImpl::MarkedLoad(const void* obj, size_t size, bool acquire, uintptr_t pc) {
  Touch(obj);
  if (!detect_) return;
  in_detector_ = true;
  const bool race = race_.Access(current_->id, step_, obj, size, AccessKind::kMarkedRead, pc);
  if (!race) race_.MarkedLoad(current_->id, obj, acquire);
  in_detector_ = false;
  if (race) RaceFound();
}

NF_UNCOVERED void SchedulerImpl::MarkedStore(const void* obj, size_t size, bool release, uintptr_t pc) {
  Touch(obj);
  if (!detect_) return;
  in_detector_ = true;
  const bool race = race_.Access(current_->id, step_, obj, size, AccessKind::kMarkedWrite, pc);
  if (!race) race_.MarkedStore(current_->id, obj, release);
  in_detector_ = false;
  if (race) RaceFound();
}

NF_UNCOVERED void SchedulerImpl::MarkedRmw(const void* obj, size_t size, uintptr_t pc) {
  Touch(obj);
  if (!detect_) return;
  in_detector_ = true;
  bool race = race_.Access(current_->id, step_, obj, size, AccessKind::kMarkedRead, pc);
  if (!race) {
    race_.MarkedRmw(current_->id, obj);
    race = race_.Access(current_->id, step_, obj, size, AccessKind::kMarkedWrite, pc);
  }
  in_detector_ = false;
  if (race) RaceFound();
}

NF_UNCOVERED void SchedulerImpl::OnAlloc(const void* p, size_t n) {
  if (!detect_ || in_detector_) return;
  in_detector_ = true;
  race_.OnAlloc(p, n);
  in_detector_ = false;
}

// ---------------------------------------------------------------------------
// Lock order: the seam's and the shim's named locks go to the one LockOrder.

void SchedulerImpl::LockOrderAcquire(const void* lock, const char* lock_class, bool trylock,
                                     CodePlace where) {
  if (!order_ || lock_class == nullptr) return;
  SchedThread* t = current_;
  if (lock_order_.Acquire(t->id, step_, lock, lock_class, trylock, t->point, t->label, where)) {
    Finish(t, Outcome::kLockOrder, /*exiting=*/false);
  }
}

void SchedulerImpl::LockOrderRelease(const void* lock) {
  if (order_) lock_order_.Release(current_->id, lock);
}

// ---------------------------------------------------------------------------
// Scheduler and the free functions

Scheduler::Scheduler() : Scheduler(Options{}) {}
Scheduler::Scheduler(Options options) : impl_(std::make_unique<SchedulerImpl>(options)) {}
Scheduler::~Scheduler() = default;

RunResult Scheduler::Run(absl::Span<const std::function<void()>> threads,
                         const ScheduleInput& schedule, Trace* trace) {
  return impl_->Run(threads, schedule, trace);
}

ScopedRunObserver::ScopedRunObserver(RunObserver* observer) {
  if (t_observer != nullptr) Die("ScopedRunObserver: an observer is already installed");
  t_observer = observer;
}

ScopedRunObserver::~ScopedRunObserver() { t_observer = nullptr; }

void SetLabel(std::string_view label) {
  if (SchedulerImpl* s = t_running) s->SetLabel(label);
}

void Note(std::string_view text) {
  if (SchedulerImpl* s = t_running) s->Note(text);
}

bool Tracing() {
  SchedulerImpl* s = t_running;
  return s != nullptr && s->tracing();
}

int CurrentThreadId() {
  SchedulerImpl* s = t_running;
  return s != nullptr ? s->current()->id : -1;
}

void TestingOnlyPlainAccess(const void* addr, size_t size, bool write) {
  if (SchedulerImpl* s = t_running) {
    s->Access(addr, size, write ? AccessKind::kPlainWrite : AccessKind::kPlainRead,
              reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  }
}

}  // namespace nf::sched

// ---------------------------------------------------------------------------
// The hooks of sync/sync_sched.h

namespace nf::sync::sched_hooks {

void Yield(const char* point) {
  if (sched::SchedulerImpl* s = sched::t_running) s->Yield(point);
}

void Block(const void* key, const char* point) {
  sched::SchedulerImpl* s = sched::t_running;
  if (s == nullptr) {
    std::fprintf(stderr,
                 "nf::sync (deterministic flavour): %s would block forever: no "
                 "scheduler is running, so nothing could wake this thread\n",
                 point);
    std::abort();
  }
  s->Block(key, point);
}

void WakeAll(const void* key) {
  if (sched::SchedulerImpl* s = sched::t_running) s->WakeAll(key);
}

ThreadLocalBlock& Current() {
  sched::SchedulerImpl* s = sched::t_running;
  return s != nullptr ? s->current()->block : sched::t_os_thread_state;
}

uint64_t OwnerToken() {
  sched::SchedulerImpl* s = sched::t_running;
  if (s == nullptr) {
    // Outside a run: the OS thread's own state; its address is even, run tokens odd.
    return reinterpret_cast<uintptr_t>(&sched::t_os_thread_state);
  }
  return (s->run_id() << 4) | (static_cast<uint64_t>(s->current()->id) << 1) | 1;
}

#define NF_CALLER_PC reinterpret_cast<uintptr_t>(__builtin_return_address(0))

NF_UNCOVERED void LockAcquired(const void* lock, bool orders) {
  if (sched::SchedulerImpl* s = sched::t_running) s->LockAcquired(lock, orders);
}

NF_UNCOVERED void LockReleased(const void* lock, bool orders) {
  if (sched::SchedulerImpl* s = sched::t_running) s->LockReleased(lock, orders);
}

NF_UNCOVERED void HbRelease(const void* obj) {
  if (sched::SchedulerImpl* s = sched::t_running) s->HbRelease(obj);
}

NF_UNCOVERED void HbAcquire(const void* obj) {
  if (sched::SchedulerImpl* s = sched::t_running) s->HbAcquire(obj);
}

NF_UNCOVERED void NameLock(const void* lock, const char* name) {
  if (sched::SchedulerImpl* s = sched::t_running) s->NameLock(lock, name);
}

// pc 0: the hook's caller is the access's code location.
NF_UNCOVERED void MarkedLoad(const void* obj, size_t size, std::memory_order order, uintptr_t pc) {
  if (sched::SchedulerImpl* s = sched::t_running) {
    s->MarkedLoad(obj, size, order != std::memory_order_relaxed, pc != 0 ? pc : NF_CALLER_PC);
  }
}

NF_UNCOVERED void MarkedStore(const void* obj, size_t size, std::memory_order order, uintptr_t pc) {
  if (sched::SchedulerImpl* s = sched::t_running) {
    s->MarkedStore(obj, size, order != std::memory_order_relaxed, pc != 0 ? pc : NF_CALLER_PC);
  }
}

NF_UNCOVERED void MarkedRmw(const void* obj, size_t size, uintptr_t pc) {
  if (sched::SchedulerImpl* s = sched::t_running) s->MarkedRmw(obj, size, pc != 0 ? pc : NF_CALLER_PC);
}

void LockOrderAcquire(const void* lock, const char* lock_class, bool trylock, const char* file,
                      int line, uintptr_t pc) {
  if (sched::SchedulerImpl* s = sched::t_running) {
    s->LockOrderAcquire(lock, lock_class, trylock, sched::CodePlace{file, line, pc});
  }
}

void LockOrderRelease(const void* lock) {
  if (sched::SchedulerImpl* s = sched::t_running) s->LockOrderRelease(lock);
}

void Fail(const char* what) {
  sched::SchedulerImpl* s = sched::t_running;
  if (s != nullptr) {
    const sched::SchedThread* t = s->current();
    std::fprintf(stderr, "nf::sync (deterministic flavour): %s (thread t%d at %s%s%s%s)\n",
                 what, t->id, t->point, t->label.empty() ? "" : " [",
                 t->label.c_str(), t->label.empty() ? "" : "]");
  } else {
    std::fprintf(stderr, "nf::sync (deterministic flavour): %s (no scheduler running)\n",
                 what);
  }
  std::abort();
}

}  // namespace nf::sync::sched_hooks

// ---------------------------------------------------------------------------
// SanitizerCoverage's load and store callbacks (-fsanitize-coverage=trace-loads,
// trace-stores): every plain access of the code compiled with them. Outside a
// run, or without detection, they return at once.

namespace {

NF_UNCOVERED inline void PlainAccess(const void* addr, size_t size, bool write, uintptr_t pc) {
  if (nf::sched::SchedulerImpl* s = nf::sched::t_running; s != nullptr && s->detecting()) {
    s->Access(addr, size,
              write ? nf::sched::AccessKind::kPlainWrite : nf::sched::AccessKind::kPlainRead, pc);
  }
}

}  // namespace

#define NF_COV_ACCESS(name, type, size, write)                \
  extern "C" NF_UNCOVERED void name(type* addr) {             \
    PlainAccess(addr, size, write, NF_CALLER_PC);             \
  }
NF_COV_ACCESS(__sanitizer_cov_load1, uint8_t, 1, false)
NF_COV_ACCESS(__sanitizer_cov_load2, uint16_t, 2, false)
NF_COV_ACCESS(__sanitizer_cov_load4, uint32_t, 4, false)
NF_COV_ACCESS(__sanitizer_cov_load8, uint64_t, 8, false)
NF_COV_ACCESS(__sanitizer_cov_load16, __uint128_t, 16, false)
NF_COV_ACCESS(__sanitizer_cov_store1, uint8_t, 1, true)
NF_COV_ACCESS(__sanitizer_cov_store2, uint16_t, 2, true)
NF_COV_ACCESS(__sanitizer_cov_store4, uint32_t, 4, true)
NF_COV_ACCESS(__sanitizer_cov_store8, uint64_t, 8, true)
NF_COV_ACCESS(__sanitizer_cov_store16, __uint128_t, 16, true)
#undef NF_COV_ACCESS
