#include "fuzzers/world/concurrent_world.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {
namespace {


// Our Abseil has its own string_view, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

uint64_t ClassicBit(const ClassicSub* c) { return uint64_t{1} << c->id(); }

}  // namespace

ConcurrentWorld::ConcurrentWorld(const Program& program, ConcurrentHost* host)
    : program_(program), host_(host), num_threads_(static_cast<int>(program.threads.size())) {
  {
    BookLock l(&mu_);
    shadow_.fill(1);  // the page table's initial values
  }
  target_ = NewTarget(program.initial_seq);  // with the world's own reference
}

void ConcurrentWorld::OnWarning(Warning w, std::string_view detail) {
  warnings_[static_cast<int>(w)].fetch_add(1);
  {
    BookLock l(&mu_);
    // The warning of a driver misbehaviour that was armed and has just happened.
    if (owed_warnings_[static_cast<int>(w)] > 0) {
      --owed_warnings_[static_cast<int>(w)];
      ++accepted_warnings_[static_cast<int>(w)];
      return;
    }
  }
  Fail(NotAProperty(
      absl::StrFormat("the core warned %s (%s); the concurrent fuzzer skips every misuse "
                      "but the armed driver misbehaviours, so no warning is expected",
                      WarningName(w), detail)));
}

ConcurrentWorld::~ConcurrentWorld() {
  // An unfinished run was abandoned (a report is on its way): its objects may
  // still be linked into the core, so nothing is freed.
}

void ConcurrentWorld::Fail(const Failure& failure) {
  host_->Fail(failure);
  std::abort();  // not reached: Fail does not return
}

void ConcurrentWorld::Fail(Property p, std::string_view what) { Fail(Violated(p, what)); }

int ConcurrentWorld::ThreadIndex() {
  return cleanup_.load(std::memory_order_relaxed) ? kCleanupThread : host_->CurrentThread();
}

void ConcurrentWorld::NoteIfTracing(int t, const std::string& text) {
  if (host_->Tracing()) host_->Note(text);
}

// --- Lookups -----------------------------------------------------------------

int ConcurrentWorld::SlotOf(const IntervalSub* sub) const {
  for (int i = 0; i < kIntervalSlots; ++i) {
    if (slots_[i].sub != nullptr && slots_[i].sub == sub) return i;
  }
  return -1;
}

ConcurrentWorld::ClassicObject* ConcurrentWorld::ObjectOf(const ClassicSub* sub) {
  for (int i = 0; i < num_objects_; ++i) {
    if (objects_[i].obj != nullptr && objects_[i].obj == sub) return &objects_[i];
  }
  return nullptr;
}

ConcurrentWorld::ClassicObject* ConcurrentWorld::AddObject(ClassicSub* obj, bool get_kind) {
  for (int i = 0; i < kMaxClassicObjects; ++i) {
    if (objects_[i].obj != nullptr) continue;
    objects_[i] = ClassicObject{};
    objects_[i].obj = obj;
    objects_[i].get_kind = get_kind;
    num_objects_ = std::max(num_objects_, i + 1);
    return &objects_[i];
  }
  return nullptr;
}

// --- Threads -----------------------------------------------------------------

void ConcurrentWorld::RunThread(int t) {
  const std::vector<Op>& ops = program_.threads[t];
  for (size_t i = 0; i < ops.size(); ++i) Step(t, static_cast<int>(i), ops[i]);
  ThreadCleanup(t);
  bool last;
  {
    BookLock l(&mu_);
    last = ++threads_done_ == num_threads_;
  }
  if (!last) return;
  cleanup_.store(true);
  GlobalCleanup();
}

void ConcurrentWorld::ThreadCleanup(int t) {
  ThreadState& ts = threads_[t];
  if (ts.held >= 0) Step(t, -1, SlotOp(OpCode::kUnlock, ts.held));
  while (!ts.open.empty()) Step(t, -1, BareOp(OpCode::kInvEnd));
}

void ConcurrentWorld::Step(int t, int index, const Op& op) {
  host_->CheckNotFailed();
  host_->OpBegin(t, index, op);
  const bool tracing = host_->Tracing();
  if (tracing) {
    host_->Note(absl::StrCat(index < 0 ? "cleanup " : absl::StrCat("op ", index, " "), PrintOp(op)));
  }
  std::string result;
  std::optional<std::string_view> skipped = SkipReason(t, op);
  if (!skipped) {
    ops_begun_.fetch_add(1, std::memory_order_relaxed);
    ops_running_.fetch_add(1, std::memory_order_relaxed);
    skipped = ExecuteOp(t, op, &result);
    ops_running_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (skipped) {
    if (index < 0 || cleanup_.load(std::memory_order_relaxed)) {
      Fail(NotAProperty(
          absl::StrCat("internal: a cleanup op was skipped: ", PrintOp(op), ": ", Sv(*skipped))));
    }
    if (tracing) host_->Note(absl::StrCat("skipped: ", Sv(*skipped)));
    return;
  }
  if (tracing) host_->Note(absl::StrCat("-> ", result));
  if constexpr (sync::kDeterministic) CheckMirrors(/*all_pages=*/false);
}

// The caller contract (see the file comment of concurrent_world.h), from the
// thread's own state only. Slot-state skips are decided in ExecuteOp, where the
// slot is reserved under the same lock.
std::optional<std::string_view> ConcurrentWorld::SkipReason(int t, const Op& op) {
  const ThreadState& ts = threads_[t];
  const bool open = !ts.open.empty();
  const bool held = ts.held >= 0;
  switch (Info(op.code).contract) {
    case Contract::kMaySleep:
      if (open) return "may sleep while this thread holds an open invalidation";
      if (held) return "may sleep while this thread holds a driver lock";
      return std::nullopt;
    case Contract::kInsert:
      if ((open || held) && !target_->HasItree()) {
        return "the first insert registers (waits for invalidations) while this thread holds "
               "an open invalidation or a driver lock";
      }
      return std::nullopt;
    case Contract::kWalk:
      if (op.blockable && held) {
        return "a blockable walk takes driver locks while this thread holds one";
      }
      return std::nullopt;
    case Contract::kEndsOpen:
      if (!open) return "no open inv_start in this thread";
      return std::nullopt;
    case Contract::kSlotLock:
      if (held && ts.held != op.slot) return "takes a second driver lock";
      return std::nullopt;
    case Contract::kTakesLock:
      if (held) return "this thread already holds a driver lock";
      return std::nullopt;
    case Contract::kDropsLock:
      if (ts.held != op.slot) return "this thread does not hold that lock";
      return std::nullopt;
    case Contract::kReleaseWalk:
      if (held) return "the RELEASE walk takes driver locks while this thread holds one";
      return std::nullopt;
    case Contract::kRmapCall:
      if (held) return "a secondary-MMU call takes the rmap locks while this thread holds a driver lock";
      return std::nullopt;
    case Contract::kFree:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string_view> ConcurrentWorld::ExecuteOp(int t, const Op& op,
                                                          std::string* result) {
  ThreadState& ts = threads_[t];
  const bool tracing = host_->Tracing();
  using Skip = std::optional<std::string_view>;
  auto skip = [](std::string_view why) { return Skip(why); };
  auto done = [&](std::string text) {
    if (tracing) *result = std::move(text);
    return Skip();
  };
  // What the target may not be asked (TargetSkipReason, world.h); a walk's is
  // decided in Invalidate, after its non-blockable bookkeeping.
  if (!IsInvalidation(op.code) && op.code != OpCode::kInvalidateMm) {
    if (Skip why = TargetSkipReason(target_->traits(), op)) return why;
  }
  switch (op.code) {
    case OpCode::kInsert:
    case OpCode::kInsertAt:
    case OpCode::kInsertLocked: {
      IntervalSub* sub;
      {
        BookLock l(&mu_);
        IntervalSlot& s = slots_[op.slot];
        if (s.state != SlotState::kEmpty) return skip("slot not empty");
        sub = target_->NewInterval(op.slot);
        s = IntervalSlot{};
        s.state = SlotState::kInserting;
        s.sub = sub;
        s.start = op.start();  // meaningful once the insert succeeds
        s.last = op.start() + op.length() - 1;
        s.maybe_pending = inv_in_progress_ > 0;
      }
      const bool got = target_->TryGetUser();
      if (!got && !target_->traits().accepts_ops_without_user) {
        BookLock l(&mu_);
        slots_[op.slot] = IntervalSlot{};
        target_->DeleteInterval(sub);
        return skip("no user (this target's callers must hold one)");
      }
      const absl::Status st(op.code == OpCode::kInsertLocked
                                ? target_->InsertLocked(sub, op.start(), op.length())
                                : target_->Insert(sub, op.start(), op.length()),
                            "");
      {
        BookLock l(&mu_);
        IntervalSlot& s = slots_[op.slot];
        if (st.ok()) {
          s.state = SlotState::kLive;
        } else {
          s.state = SlotState::kEmpty;
          s.sub = nullptr;
        }
      }
      if (!st.ok()) target_->DeleteInterval(sub);
      if (got) PutUser(t);
      return done(absl::StrCat(got ? "" : "no user; ", absl::StatusCodeToString(st.code())));
    }
    case OpCode::kRemove: {
      IntervalSub* sub;
      {
        BookLock l(&mu_);
        IntervalSlot& s = slots_[op.slot];
        if (s.state != SlotState::kLive) return skip("slot not live");
        if (s.pins > 0) return skip("another thread's op is using the subscription");
        s.state = SlotState::kRemoving;
        s.armed = {};
        sub = s.sub;
        for (ThreadState& other : threads_) {
          other.walk.expected &= static_cast<uint8_t>(~(1u << op.slot));
        }
      }
      target_->Remove(sub);
      {
        BookLock l(&mu_);
        slots_[op.slot].sub = nullptr;  // a callback from now on is a P5 report
      }
      target_->DeleteInterval(sub);  // at once: a later callback on it is a use after free
      drivers_[op.slot].ClearMirror(/*caller_holds_lock=*/false);
      {
        BookLock l(&mu_);
        slots_[op.slot].state = SlotState::kEmpty;
      }
      return done("removed");
    }
    case OpCode::kInvalidate:
    case OpCode::kInvStart:
    case OpCode::kInvalidateAt:
    case OpCode::kInvStartAt:
      return Invalidate(t, op, result);
    case OpCode::kInvEnd:
    case OpCode::kInvOnlyEnd:
      EndOpen(t, /*only_end=*/op.code == OpCode::kInvOnlyEnd);
      return done("ended");
    case OpCode::kInvalidateMm:
      return Invalidate(t, op, result);
    case OpCode::kClearFlushYoung:
    case OpCode::kClearYoung:
    case OpCode::kTestYoung:
    case OpCode::kChangePte:
    case OpCode::kSecondaryTlb:
      return SecondaryCall(t, op, result);
    case OpCode::kReadOnly: {
      const ReadOnlyReturned e{.range = RangeOfOp(op),
                               .result = target_->RangeUpdateToReadOnly(RangeOfOp(op))};
      if (Failure f = S10ReadOnlyReturned(e, target_->traits()); !f.empty()) Fail(f);
      return done(e.result ? "true" : "false");
    }
    case OpCode::kSynchronize: {
      target_->Synchronize();
      // §10.7 (fuzzers/oracles/s10_kernel_api.cc). Target::PendingFrees, not a
      // snapshot: safe from any logical thread. The count may yield: it holds
      // only if this thread was alone from the return until it ended (no op
      // begun meanwhile, or the frees a put queued then would be counted).
      const uint64_t begun = ops_begun_.load(std::memory_order_relaxed);
      SynchronizeReturned e{.alone = ops_running_.load(std::memory_order_relaxed) == 1};
      if (e.alone) {
        e.pending_frees = target_->PendingFrees();
        e.alone = ops_begun_.load(std::memory_order_relaxed) == begun;
      }
      if (Failure f = S10SynchronizeReturned(e); !f.empty()) Fail(f);
      return done(e.alone ? "synchronized (alone)" : "synchronized");
    }
    case OpCode::kReadBegin:
    case OpCode::kReadRetry:
    case OpCode::kCheckRetry:
    case OpCode::kFault:
    case OpCode::kFaultAt: {
      IntervalSub* sub;
      {
        BookLock l(&mu_);
        IntervalSlot& s = slots_[op.slot];
        if (s.state != SlotState::kLive) return skip("slot not live");
        ++s.pins;
        sub = s.sub;
      }
      std::string text;
      bool got = false;
      if (op.code == OpCode::kReadBegin) {
        ts.last_seq[op.slot] = sub->ReadBegin();
        if (tracing) text = absl::StrFormat("seq=%#x", ts.last_seq[op.slot]);
      } else if (op.code == OpCode::kReadRetry) {
        const bool retry =
            drivers_[op.slot].ReadRetry(sub, ts.last_seq[op.slot], ts.held == op.slot);
        text = retry ? "retry" : "no retry";
      } else if (op.code == OpCode::kCheckRetry) {
        text = sub->CheckRetry(ts.last_seq[op.slot]) ? "retry" : "no retry";
      } else if (!target_->TryGetUser()) {
        text = "no user";
      } else {
        got = true;
        const int attempts = drivers_[op.slot].Fault(sub, page_table_, PagesOfOp(op));
        if (tracing) text = absl::StrFormat("attempts=%d", attempts);
      }
      {
        BookLock l(&mu_);
        --slots_[op.slot].pins;
      }
      if (got) PutUser(t);
      return done(std::move(text));
    }
    case OpCode::kRegister:
    case OpCode::kRegisterSecondary: {
      ClassicSub* obj;
      {
        BookLock l(&mu_);
        ClassicSlot& cs = cslots_[op.slot];
        if (cs.state != SlotState::kEmpty) return skip("classic slot not empty");
        if (KeepFailingClassicsApart(op.behaviour)) {
          if (nonblock_starts_ > 0) {
            return skip("its start can fail while a non-blockable start runs (this target "
                        "leaves the walk open when it fails)");
          }
          failing_classic_seen_ = true;
        }
        obj = target_->NewClassic(op.slot, RegisteredBehaviour(op), /*get_kind=*/false);
        if (AddObject(obj, /*get_kind=*/false) == nullptr) {
          target_->DeleteClassic(obj);
          return skip("too many classic objects alive (harness budget)");
        }
        cs.state = SlotState::kInserting;
        cs.obj = obj;
      }
      const bool got = target_->TryGetUser();
      if (!got && !target_->traits().accepts_ops_without_user) {
        BookLock l(&mu_);
        if (ClassicObject* o = ObjectOf(obj)) o->obj = nullptr;
        cslots_[op.slot] = ClassicSlot{};
        target_->DeleteClassic(obj);
        return skip("no user (this target's callers must hold one)");
      }
      const absl::Status st(target_->Register(obj), "");
      {
        BookLock l(&mu_);
        ClassicSlot& cs = cslots_[op.slot];
        if (st.ok()) {
          cs.state = SlotState::kLive;
        } else {
          if (ClassicObject* o = ObjectOf(obj)) o->obj = nullptr;
          cs.state = SlotState::kEmpty;
          cs.obj = nullptr;
        }
      }
      if (!st.ok()) target_->DeleteClassic(obj);
      if (got) PutUser(t);
      return done(absl::StrCat(got ? "" : "no user; ", absl::StatusCodeToString(st.code())));
    }
    case OpCode::kUnregister: {
      ClassicSub* obj;
      {
        BookLock l(&mu_);
        ClassicSlot& cs = cslots_[op.slot];
        if (cs.state != SlotState::kLive) return skip("classic slot not live");
        cs.state = SlotState::kRemoving;
        cs.fail_start_armed = false;
        obj = cs.obj;
        ForgetClassicStarts(ObjectOf(obj));
      }
      target_->Unregister(obj);
      {
        BookLock l(&mu_);
        // A callback from now on is a P5 report.
        if (ClassicObject* o = ObjectOf(obj)) o->obj = nullptr;
        cslots_[op.slot].obj = nullptr;
        cslots_[op.slot].state = SlotState::kEmpty;
      }
      target_->DeleteClassic(obj);  // at once: a later callback on it is a use after free
      return done("unregistered");
    }
    case OpCode::kGet: {
      if (KeepFailingClassicsApart(op.behaviour)) {
        BookLock l(&mu_);
        if (nonblock_starts_ > 0) {
          return skip("its start can fail while a non-blockable start runs (this target "
                      "leaves the walk open when it fails)");
        }
        failing_classic_seen_ = true;
      }
      const bool got = target_->TryGetUser();
      if (!got && !target_->traits().accepts_ops_without_user) {
        return skip("no user (this target's callers must hold one)");
      }
      const absl::StatusOr<ClassicSub*> res = target_->Get(op.behaviour);
      Failure err;
      if (res.ok()) {
        BookLock l(&mu_);
        ClassicObject* o = ObjectOf(*res);
        if (o == nullptr || !o->get_kind || o->obj->behaviour() != op.behaviour) {
          err = NotAProperty(absl::StrFormat("GetClassic(get(%s)) returned a subscriber the world did not "
                                "allocate for these ops",
                                BehaviourText(op.behaviour)));
        } else {
          ++o->program_refs;
        }
      }
      if (!err.empty()) Fail(err);
      if (got) PutUser(t);
      return done(absl::StrCat(got ? "" : "no user; ",
                               absl::StatusCodeToString(res.status().code())));
    }
    case OpCode::kPut: {
      ClassicSub* obj = nullptr;
      {
        BookLock l(&mu_);
        for (int i = 0; i < num_objects_; ++i) {
          ClassicObject& o = objects_[i];
          if (o.obj != nullptr && o.get_kind && o.obj->behaviour() == op.behaviour &&
              o.program_refs > 0) {
            --o.program_refs;
            obj = o.obj;
            ForgetClassicStarts(&o);
            break;
          }
        }
      }
      if (obj == nullptr) return skip("the program holds no reference from get");
      target_->Put(obj);  // the last one frees it (OnFree) after a grace period
      return done("put");
    }
    case OpCode::kRelease: {
      {
        BookLock l(&mu_);
        if (program_user_ != UserState::kHeld) return skip("the program's user is gone");
        program_user_ = UserState::kReleasing;
      }
      DropUserNow(t);
      {
        BookLock l(&mu_);
        program_user_ = UserState::kGone;
      }
      return done("released");
    }
    case OpCode::kLock:
      drivers_[op.slot].HoldLock();
      ts.held = op.slot;
      return done("locked");
    case OpCode::kUnlock:
      drivers_[op.slot].DropLock();
      ts.held = -1;
      while (ts.owed_puts > 0) {
        --ts.owed_puts;
        DropUserNow(t);
      }
      return done("unlocked");
    case OpCode::kMisbehave: {
      BookLock l(&mu_);
      if (op.misbehaviour == Misbehaviour::kFailStart) {
        if (cslots_[op.slot].state != SlotState::kLive) return skip("classic slot not live");
        cslots_[op.slot].fail_start_armed = true;
      } else {
        IntervalSlot& s = slots_[op.slot];
        if (s.state != SlotState::kLive) return skip("slot not live");
        (op.misbehaviour == Misbehaviour::kEvenSeq ? s.armed.even_seq : s.armed.fail_blockable) =
            true;
      }
      return done("armed");
    }
  }
  return Skip();
}

std::optional<std::string_view> ConcurrentWorld::Invalidate(int t, const Op& op,
                                                            std::string* result) {
  ThreadState& ts = threads_[t];
  const bool tracing = host_->Tracing();
  const bool apart = !op.blockable && KeepFailingClassicsApart(kFailsNonblock);
  if (apart) {
    BookLock l(&mu_);
    if (failing_classic_seen_) {
      return "non-blockable, and a classic subscriber whose start can fail exists (this "
             "target leaves the walk open when it fails)";
    }
    ++nonblock_starts_;
  }
  if (std::optional<std::string_view> why = TargetSkipReason(target_->traits(), op)) {
    if (apart) {
      BookLock l(&mu_);
      --nonblock_starts_;
    }
    return why;
  }
  // invalidate_mm (§10.8) holds a reference to the space, not a user: it runs
  // after the last user has gone and against its release.
  const bool no_user = op.code == OpCode::kInvalidateMm;
  if (no_user) {
    target_->Grab();
  } else if (!target_->TryGetUser()) {
    if (tracing) *result = "no user";
    if (apart) {
      BookLock l(&mu_);
      --nonblock_starts_;
    }
    return std::nullopt;
  }
  // Drops what the op held: the reference, or the user.
  auto release_hold = [&] {
    if (no_user) {
      target_->Drop();
    } else {
      PutUser(t);
    }
  };
  ts.no_user = no_user;
  const Range r = RangeOfOp(op);
  const PageSpan span = PagesOfRange(r);
  {
    BookLock l(&mu_);
    ++inv_in_progress_;
    ++activity_begun_;
    for (int p = span.first; p < span.end; ++p) ++covered_[p];
    Walk& w = ts.walk;
    w = Walk{};
    w.active = true;
    w.range = r;
    for (int i = 0; i < kIntervalSlots; ++i) {
      IntervalSlot& s = slots_[i];
      if (s.state == SlotState::kInserting) s.maybe_pending = true;
      if (s.state == SlotState::kLive && !s.maybe_pending && r.end > r.start &&
          s.start <= r.end - 1 && r.start <= s.last) {
        w.expected |= static_cast<uint8_t>(1u << i);
      }
    }
  }
  target::Invalidation inv;
  const absl::Status st(target_->InvalidateStart(r, &inv), "");
  Failure err;
  bool quiescent = false;
  {
    BookLock l(&mu_);
    if (apart) --nonblock_starts_;
    const Walk w = ts.walk;
    ts.walk = Walk{};
    StartReturned e;
    e.range = r;
    e.code = st.code();
    e.walked_to_end = st.ok() || (w.classic_failed && !w.interval_failed);
    if (const uint8_t missed = w.expected & static_cast<uint8_t>(~w.called); missed != 0) {
      e.missed_slot = __builtin_ctz(missed);
      e.missed_start = slots_[e.missed_slot].start;
      e.missed_last = slots_[e.missed_slot].last;
    }
    e.classic_unended = w.classic_started & ~w.classic_ended;
    err = CheckStartReturned(e);
    if (!st.ok()) {
      EndInvalidationBookkeeping(span);
      quiescent = inv_in_progress_ == 0 && puts_in_progress_ == 0;
    }
  }
  if (!err.empty()) Fail(err);
  if (!st.ok()) {
    // P8 and P1: with nothing else in progress, the failed start must have closed
    // the epoch it opened.
    if constexpr (sync::kDeterministic) {
      if (quiescent) CheckQuiescentSeq();
    }
    if (tracing) *result = absl::StatusCodeToString(st.code());
    ts.no_user = false;
    release_hold();
    return std::nullopt;
  }
  const PageSpan changed = harness::WholePagesOfRange(r);  // the pages it changes
  page_table_.Change(changed);
  {
    BookLock l(&mu_);
    for (int p = changed.first; p < changed.end; ++p) ++shadow_[p];
  }
  if (IsInvStart(op.code)) {
    ts.open.push_back(inv);  // keeps its user until inv_end
    if (tracing) *result = "OK (open)";
    return std::nullopt;
  }
  target_->InvalidateEnd(inv);
  {
    BookLock l(&mu_);
    EndInvalidationBookkeeping(span);
    quiescent = inv_in_progress_ == 0 && puts_in_progress_ == 0;
  }
  if constexpr (sync::kDeterministic) {
    if (quiescent) CheckQuiescentSeq();
  }
  if (tracing) *result = "OK";
  ts.no_user = false;
  release_hold();
  return std::nullopt;
}

// §10: a young call, change_pte or the secondary-TLB invalidate, with a user.
// OnClassicSecondary records the callbacks it makes; the oracle
// (fuzzers/oracles/s10_kernel_api.cc) decides on them when it returns.
std::optional<std::string_view> ConcurrentWorld::SecondaryCall(int t, const Op& op,
                                                              std::string* result) {
  if (!target_->TryGetUser()) {
    if (host_->Tracing()) *result = "no user";
    return std::nullopt;
  }
  ThreadState& ts = threads_[t];
  const target::SecondaryCall want_call = static_cast<target::SecondaryCall>(
      static_cast<int>(op.code) - static_cast<int>(OpCode::kClearFlushYoung));
  {
    BookLock l(&mu_);
    ts.secondary = SecondaryCalls{};
    ts.secondary.active = true;
    ts.secondary.call = want_call;
  }
  const uint64_t start = op.start(), end = op.start() + op.length();
  bool young = false;
  switch (op.code) {
    case OpCode::kClearFlushYoung: young = target_->ClearFlushYoung(start, end); break;
    case OpCode::kClearYoung: young = target_->ClearYoung(start, end); break;
    case OpCode::kTestYoung: young = target_->TestYoung(start); break;
    case OpCode::kChangePte: target_->ChangePte(start); break;
    default: target_->InvalidateSecondaryTlbs(start, end); break;
  }
  SecondaryCalls calls;
  {
    BookLock l(&mu_);
    calls = ts.secondary;
    ts.secondary = SecondaryCalls{};
  }
  const SecondaryCallReturned e{.op = &op,
                                .call = want_call,
                                .start = start,
                                .end = end,
                                .young = young,
                                .n = calls.n,
                                .young_answers = calls.young,
                                .last_young = calls.last_young,
                                .called_start = calls.start,
                                .called_end = calls.end,
                                .other_call = calls.other_call,
                                .called_twice = calls.twice};
  if (Failure f = S10SecondaryCallReturned(e, target_->traits()); !f.empty()) Fail(f);
  PutUser(t);
  if (host_->Tracing()) {
    *result = absl::StrFormat("%d callback(s)%s", calls.n,
                              want_call <= target::SecondaryCall::kTestYoung
                                  ? (young ? ", young" : ", old")
                                  : "");
  }
  return std::nullopt;
}

bool ConcurrentWorld::OnClassicSecondary(ClassicSub* s, target::SecondaryCall call,
                                         uint64_t start, uint64_t end) {
  host_->CheckNotFailed();
  const int t = ThreadIndex();
  Failure failure;
  bool young = false;
  ClassicSub* obj = nullptr;
  {
    BookLock l(&mu_);
    ClassicObject* o = ObjectOf(s);
    SecondaryCalls& c = threads_[t].secondary;
    const SecondaryCallbackEntered e{
        .sub = o == nullptr ? nullptr : o->obj, .call = call, .in_secondary_op = c.active};
    failure = CheckSecondaryCallback(e, target_->traits());
    if (failure.empty()) obj = o->obj;
    if (failure.empty() && c.active) {
      const uint64_t bit = ClassicBit(obj);
      if ((c.seen & bit) != 0) c.twice = ClassicName(obj);
      c.seen |= bit;
      if (call != c.call) c.other_call = true;
      c.start = start;
      c.end = end;
      ++c.n;
      young = call <= target::SecondaryCall::kTestYoung && ClassicYoung(obj->id(), start);
      c.young += young;
      c.last_young = young;
    }
  }
  if (!failure.empty()) Fail(failure);
  if (host_->Tracing()) {
    host_->Note(absl::StrFormat("cb secondary %d %s [0x%x,0x%x)%s", static_cast<int>(call),
                                ClassicName(obj), start, end, young ? " -> young" : ""));
  }
  return young;
}

void ConcurrentWorld::EndOpen(int t, bool only_end) {
  ThreadState& ts = threads_[t];
  const target::Invalidation inv = ts.open.back();
  ts.open.pop_back();
  if (only_end) {
    target_->InvalidateOnlyEnd(inv);
  } else {
    target_->InvalidateEnd(inv);
  }
  const Range& r = inv.range;
  bool quiescent;
  {
    BookLock l(&mu_);
    EndInvalidationBookkeeping(PagesOfRange(r));
    quiescent = inv_in_progress_ == 0 && puts_in_progress_ == 0;
  }
  if constexpr (sync::kDeterministic) {
    if (quiescent) CheckQuiescentSeq();
  }
  PutUser(t);
}

// A subscriber that a put or an unregister may unlink while a start runs is not
// owed an end by that start's failure path: the core calls end on the list as
// it is then (as the kernel's hlist walk does), while a reader that had already
// loaded the pointer may still call its start (the grace period keeps it
// alive), and the subscriber is on its way to being freed.
void ConcurrentWorld::ForgetClassicStarts(ClassicObject* o) {
  if (o == nullptr) return;
  o->may_unlink = true;
  for (ThreadState& ts : threads_) ts.walk.classic_started &= ~ClassicBit(o->obj);
}

void ConcurrentWorld::EndInvalidationBookkeeping(PageSpan span) {
  for (int p = span.first; p < span.end; ++p) --covered_[p];
  if (--inv_in_progress_ > 0) return;
  ClearPendingIfNothingInProgress();
}

// Every invalidation has ended and no put is running (a put may be the last
// one, whose RELEASE walk holds the active count too, §10.8: an invalidation
// without a user can end while it runs): the last end drained the deferred
// list, so no subscription can be a pending deferred insert any more.
void ConcurrentWorld::ClearPendingIfNothingInProgress() {
  if (inv_in_progress_ > 0 || puts_in_progress_ > 0) return;
  for (IntervalSlot& s : slots_) s.maybe_pending = false;
}

void ConcurrentWorld::PutUser(int t) {
  if (threads_[t].held >= 0) {
    ++threads_[t].owed_puts;  // dropped at unlock (see the skip rule)
    return;
  }
  DropUserNow(t);
}

void ConcurrentWorld::DropUserNow(int t) {
  {
    BookLock l(&mu_);
    ++puts_in_progress_;
    ++activity_begun_;
    // If this put runs release, an open invalidation (one without a user,
    // §10.8) keeps a deferred insert out of the tree the RELEASE walk covers.
    if (inv_in_progress_ > 0) {
      for (IntervalSlot& s : slots_) {
        if (s.maybe_pending || s.state == SlotState::kInserting) s.may_miss_release = true;
      }
    }
    // ... and the release walk unlinks every classic subscriber under a start
    // without a user that is still walking (P8, ForgetClassicStarts).
    for (ThreadState& ts : threads_) {
      if (ts.walk.active && ts.no_user) {
        ts.walk.classic_started = 0;
        ts.walk.release_may_unlink = true;
      }
    }
  }
  target_->PutUser();  // the last one runs release (§5)
  BookLock l(&mu_);
  --puts_in_progress_;
  ClearPendingIfNothingInProgress();
  if (threads_[t].walk.release) threads_[t].walk = Walk{};
}

// --- Callbacks ---------------------------------------------------------------

bool ConcurrentWorld::OnInterval(IntervalSub* s, const Range& range, Seq cur_seq) {
  host_->CheckNotFailed();
  const int t = ThreadIndex();
  const Seq global = target_->GlobalSeq();
  const bool release_walk = IsReleaseWalk(range);
  Failure err;
  IntervalSub* sub = nullptr;
  int slot;
  bool even_seq = false;
  {
    BookLock l(&mu_);
    slot = SlotOf(s);
    Walk& w = threads_[t].walk;
    IntervalCallbackEntered e;
    e.slot = slot;
    e.range = range;
    e.cur_seq = cur_seq;
    e.global_seq = global;
    e.release_walk = release_walk;
    e.in_walk = w.active;
    const bool known = slot >= 0 && (w.active || release_walk);
    if (known) {
      IntervalSlot& is = slots_[slot];
      if (!w.active) {
        w = Walk{};
        w.active = true;
        w.release = true;
        w.range = range;
      }
      if (release_walk) ++is.releases;
      e.start = is.start;
      e.last = is.last;
      e.walk_range = w.range;
      e.walk_cur_seq = w.cur_seq;
      e.called_before = (w.called & (1u << slot)) != 0;
      e.releases = is.releases;
      e.after_release_walk = release_walk_seen_ && !threads_[t].no_user;
    }
    err = CheckIntervalCallback(e);
    if (known) {
      IntervalSlot& is = slots_[slot];
      sub = is.sub;
      const uint8_t bit = static_cast<uint8_t>(1u << slot);
      if (release_walk) release_walk_seen_ = true;
      w.cur_seq = cur_seq;
      w.called |= bit;
      if (is.armed.even_seq) {
        // The armed driver bug (misbehave even_seq): the core must warn, once.
        is.armed.even_seq = false;
        even_seq = true;
        ++owed_warnings_[static_cast<int>(Warning::kSetSeqEven)];
      }
    }
  }
  if (!err.empty()) Fail(err);
  if (Failure f = P2IntervalSeqRead({slot, sub->seq_for_testing()}); !f.empty()) Fail(f);
  bool ok = drivers_[slot].Invalidate(sub, range, cur_seq, even_seq);
  bool misbehaved = false;
  {
    BookLock l(&mu_);
    IntervalSlot& is = slots_[slot];
    if (!ok) {
      threads_[t].walk.interval_failed = true;
      if (even_seq) {
        // The driver was busy and never called set_seq: still armed.
        --owed_warnings_[static_cast<int>(Warning::kSetSeqEven)];
        is.armed.even_seq = true;
      }
    } else if (range.blockable && is.armed.fail_blockable) {
      // The armed driver bug (misbehave fail_blockable): it did its work and
      // reports a failure; the blockable walk must warn and go on.
      is.armed.fail_blockable = false;
      misbehaved = true;
      // The core names the warning by the range's event (any RELEASE range, not
      // only the RELEASE walk of the exit), as the sequential model does.
      ++owed_warnings_[static_cast<int>(range.event == Event::kRelease
                                            ? Warning::kReleaseCallbackFailed
                                            : Warning::kBlockableCallbackFailed)];
    }
  }
  if (host_->Tracing()) {
    host_->Note(absl::StrFormat("cb invalidate s%d %s cur_seq=%#x -> %s%s%s", slot,
                                RangeText(range), cur_seq, ok && !misbehaved ? "true" : "false",
                                even_seq && ok ? " (set_seq even first)" : "",
                                misbehaved ? " (misbehaving)" : ""));
  }
  return ok && !misbehaved;
}

void ConcurrentWorld::OnClassicRelease(ClassicSub* s) {
  host_->CheckNotFailed();
  Failure err;
  ClassicSub* obj = nullptr;
  int self_puts = 0;
  {
    BookLock l(&mu_);
    ClassicObject* o = ObjectOf(s);
    ClassicCallbackEntered e{.kind = ClassicCallbackEntered::Kind::kRelease};
    if (o != nullptr) {
      e.sub = o->obj;
      e.releases = ++o->releases;
      e.may_unlink = o->may_unlink;
    }
    err = CheckClassicCallback(e, target_->traits());
    if (err.empty()) {
      obj = o->obj;
      // A second release (Traits::release_once_against_unregister: the target's
      // unregister and the space's release each call it) does nothing more.
      if (o->releases == 1 && o->get_kind && (obj->behaviour() & kPutsSelfOnRelease)) {
        // The driver drops its handles on release (allowed inside release, as
        // the kernel's mmu_notifier_put): the free waits for the grace period.
        self_puts = o->program_refs;
        o->program_refs = 0;
        if (self_puts > 0) ForgetClassicStarts(o);
      }
    }
  }
  if (!err.empty()) Fail(err);
  if (host_->Tracing()) {
    host_->Note(absl::StrFormat("cb release %s%s", ClassicName(obj),
                                self_puts > 0 ? absl::StrCat(", puts ", self_puts) : ""));
  }
  for (int i = 0; i < self_puts; ++i) target_->Put(obj);
}

bool ConcurrentWorld::OnClassicStart(ClassicSub* s, const Range& range) {
  host_->CheckNotFailed();
  const int t = ThreadIndex();
  Failure err;
  bool result = true;
  ClassicSub* obj = nullptr;
  {
    BookLock l(&mu_);
    ClassicObject* o = ObjectOf(s);
    Walk& w = threads_[t].walk;
    err = CheckClassicCallback({.kind = ClassicCallbackEntered::Kind::kStart,
                                .sub = o != nullptr ? o->obj : nullptr,
                                .range = range,
                                .after_release_walk = release_walk_seen_ && !threads_[t].no_user},
                               target_->traits());
    if (err.empty() && !w.active) {
      err = NotAProperty(
          absl::StrFormat("classic start of %s for %s outside any start of this thread",
                          ClassicName(o->obj), RangeText(range)));
    } else if (err.empty()) {
      obj = o->obj;
      const uint8_t b = obj->behaviour();
      result = !((b & kFailsNonblock) && !range.blockable);
      if (result && (b & kHasEnd) && !o->may_unlink && !w.release_may_unlink) {
        w.classic_started |= ClassicBit(obj);
      }
      if (!result) w.classic_failed = true;
      if (range.blockable && !o->get_kind && cslots_[obj->id()].obj == obj &&
          cslots_[obj->id()].fail_start_armed) {
        // The armed driver bug (misbehave fail_start): a blockable start fails;
        // the core must warn and go on (the start succeeds).
        cslots_[obj->id()].fail_start_armed = false;
        result = false;
        ++owed_warnings_[static_cast<int>(Warning::kBlockableCallbackFailed)];
      }
    }
  }
  if (!err.empty()) Fail(err);
  if (host_->Tracing()) {
    host_->Note(absl::StrFormat("cb start %s %s -> %s", ClassicName(obj), RangeText(range),
                                result ? "ok" : "EAGAIN"));
  }
  return result;
}

void ConcurrentWorld::OnClassicEnd(ClassicSub* s, const Range& range) {
  host_->CheckNotFailed();
  const int t = ThreadIndex();
  Failure err;
  ClassicSub* obj = nullptr;
  {
    BookLock l(&mu_);
    ClassicObject* o = ObjectOf(s);
    err = CheckClassicCallback({.kind = ClassicCallbackEntered::Kind::kEnd,
                                .sub = o != nullptr ? o->obj : nullptr,
                                .range = range,
                                .after_release_walk = release_walk_seen_ && !threads_[t].no_user},
                               target_->traits());
    if (err.empty()) {
      obj = o->obj;
      Walk& w = threads_[t].walk;
      if (w.active) w.classic_ended |= ClassicBit(obj);
    }
  }
  if (!err.empty()) Fail(err);
  if (host_->Tracing()) {
    host_->Note(absl::StrFormat("cb end %s %s", ClassicName(obj), RangeText(range)));
  }
}

ClassicSub* ConcurrentWorld::OnAlloc(uint8_t behaviour) {
  host_->CheckNotFailed();
  ClassicSub* obj = target_->NewClassic(GetKindId(behaviour), behaviour, /*get_kind=*/true);
  bool added;
  {
    BookLock l(&mu_);
    added = AddObject(obj, /*get_kind=*/true) != nullptr;
  }
  if (!added) {
    target_->DeleteClassic(obj);
    Fail(NotAProperty("internal: too many classic subscriber objects alive (kMaxClassicObjects)"));
  }
  if (host_->Tracing()) host_->Note(absl::StrCat("cb alloc ", ClassicName(obj)));
  return obj;
}

void ConcurrentWorld::OnFree(ClassicSub* s) {
  host_->CheckNotFailed();
  Failure err;
  ClassicSub* obj = nullptr;
  {
    BookLock l(&mu_);
    ClassicObject* o = ObjectOf(s);
    err = P5ClassicCallback({.kind = ClassicCallbackEntered::Kind::kFree,
                             .sub = o != nullptr ? o->obj : nullptr});
    if (err.empty() && o->program_refs != 0) {
      err = NotAProperty(
          absl::StrFormat("free_notifier of %s while the program holds %d reference(s) from get",
                          ClassicName(o->obj), o->program_refs));
    } else if (err.empty()) {
      obj = o->obj;
      o->obj = nullptr;
    }
  }
  if (!err.empty()) Fail(err);
  if (host_->Tracing()) host_->Note(absl::StrCat("cb free ", ClassicName(obj)));
  target_->DeleteClassic(obj);
}

// --- Oracles -----------------------------------------------------------------

// P6 for every Live slot and every page no invalidation in progress covers.
// Reads the mirrors without their locks: only where no other thread can run
// meanwhile (the deterministic flavour, or the global cleanup).
void ConcurrentWorld::CheckMirrors(bool all_pages) {
  Failure err;
  {
    BookLock l(&mu_);
    for (int slot = 0; slot < kIntervalSlots && err.empty(); ++slot) {
      if (slots_[slot].state != SlotState::kLive) continue;
      err = P6MirrorRead({.slot = slot,
                          .mirror = &drivers_[slot].MirrorArrayForTesting(),
                          .table = &shadow_,
                          .covered = &covered_,
                          .all_pages = all_pages});
    }
  }
  if (!err.empty()) Fail(err);
}

// P1 at a quiescent point: no invalidation in progress and no PutUser running
// (so no RELEASE walk): the core's active count is zero, so the seq is even. The
// read has yield points before and after the value is read (the kernel target
// reads it under its spinlock, and its unlock yields): it counts only if the
// counters are zero after it and no invalidation or put began since before it,
// so they held when the value was read.
void ConcurrentWorld::CheckQuiescentSeq() {
  uint64_t begun;
  {
    BookLock l(&mu_);
    begun = activity_begun_;
  }
  const Seq seq = target_->GlobalSeq();
  bool quiescent;
  {
    BookLock l(&mu_);
    quiescent = inv_in_progress_ == 0 && puts_in_progress_ == 0 && activity_begun_ == begun;
  }
  if (!quiescent) return;
  if (Failure f = P1QuiescentPoint({seq}); !f.empty()) Fail(f);
}

void ConcurrentWorld::GlobalCleanup() {
  const int t = kCleanupThread;
  CheckMirrors(/*all_pages=*/true);
  bool user;
  {
    BookLock l(&mu_);
    user = program_user_ == UserState::kHeld;
  }
  if (user) Step(t, -1, BareOp(OpCode::kRelease));
  Failure err;
  {
    BookLock l(&mu_);
    for (int slot = 0; slot < kIntervalSlots && err.empty(); ++slot) {
      const IntervalSlot& is = slots_[slot];
      if (is.state != SlotState::kLive) continue;
      err = P9ReleaseDone({.slot = slot,
                           .start = is.start,
                           .last = is.last,
                           .releases = is.releases,
                           .may_miss = is.may_miss_release},
                          target_->traits());
    }
  }
  if (!err.empty()) Fail(err);
  for (int slot = 0; slot < kIntervalSlots; ++slot) {
    bool live;
    {
      BookLock l(&mu_);
      live = slots_[slot].state == SlotState::kLive;
    }
    if (live) Step(t, -1, SlotOp(OpCode::kRemove, slot));
  }
  for (int c = 0; c < kClassicSlots; ++c) {
    bool live;
    {
      BookLock l(&mu_);
      live = cslots_[c].state == SlotState::kLive;
    }
    if (live) Step(t, -1, SlotOp(OpCode::kUnregister, c));
  }
  for (;;) {
    int behaviour = -1;
    {
      BookLock l(&mu_);
      for (int i = 0; i < num_objects_ && behaviour < 0; ++i) {
        if (objects_[i].obj != nullptr && objects_[i].program_refs > 0) {
          behaviour = objects_[i].obj->behaviour();
        }
      }
    }
    if (behaviour < 0) break;
    Step(t, -1, BehaviourOp(OpCode::kPut, static_cast<uint8_t>(behaviour)));
  }
  FinalChecks();
}

void ConcurrentWorld::FinalChecks() {
  const Snapshot s = target_->Inspect();
  Failure err;
  {
    BookLock l(&mu_);
    FinalState e{.snapshot = &s,
                 .accepted_warnings = &accepted_warnings_,
                 .owed_warnings = &owed_warnings_,
                 .bookkeeping_open = inv_in_progress_ != 0 || puts_in_progress_ != 0};
    for (const IntervalSlot& slot : slots_) {
      if (slot.state != SlotState::kEmpty || slot.sub != nullptr) ++e.subscriptions_not_freed;
    }
    for (int i = 0; i < num_objects_; ++i) {
      if (objects_[i].obj != nullptr) ++e.classics_not_freed;
    }
    err = P7FinalState(e);
  }
  if (!err.empty()) Fail(err);
  target_->Finish();  // the world's reference: frees the address space
  finished_.store(true);
}

}  // namespace nf::fuzz
