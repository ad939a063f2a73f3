#include "fuzzers/world/world.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_format.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {

PageSpan PagesOf(uint64_t start, uint64_t last) {
  if (last < start) return {};
  const uint64_t first = start / kPageSize;
  const uint64_t end = last / kPageSize + 1;  // no overflow: last / kPageSize < 2^52
  PageSpan s;
  s.first = static_cast<int>(std::min<uint64_t>(first, kTablePages));
  s.end = static_cast<int>(std::min<uint64_t>(end, kTablePages));
  return s;
}

PageSpan PagesOfRange(const Range& r) {
  if (r.end <= r.start) return {};
  return PagesOf(r.start, r.end - 1);
}

// --- PageTable ---------------------------------------------------------------

PageTable::PageTable() {
  for (auto& p : pages_) p.Store(1, std::memory_order_relaxed);
}

void PageTable::Change(PageSpan span) {
  // One read-modify-write per page: parallel invalidations over the same page
  // (the concurrent fuzzer) each bump it, as the kernel's page table lock orders
  // their changes.
  for (int p = span.first; p < span.end; ++p) pages_[p].FetchAdd(1);
}

// --- Driver ------------------------------------------------------------------

Driver::Driver() { mirror_.fill(0); }

bool Driver::Invalidate(IntervalSubscription* sub, const Range& range, Seq cur_seq) {
  if (range.blockable) {
    mu_.Lock();
  } else {
    if (held_by_op_.Load()) return false;  // busy: see HoldLock
    if (!mu_.TryLock()) return false;
  }
  sub->SetSeq(cur_seq);
  const PageSpan r = PagesOfRange(range);
  const PageSpan s = PagesOf(sub->start(), sub->last());
  for (int p = std::max(r.first, s.first); p < std::min(r.end, s.end); ++p) mirror_[p] = 0;
  mu_.Unlock();
  return true;
}

int Driver::Fault(IntervalSubscription* sub, const PageTable& pt, PageSpan pages) {
  const PageSpan s = PagesOf(sub->start(), sub->last());
  const int first = std::max(pages.first, s.first);
  const int end = std::min(pages.end, s.end);
  std::array<PageValue, kTablePages> values;
  for (int attempt = 1; attempt <= kMaxFaultAttempts; ++attempt) {
    const Seq seq = sub->ReadBegin();
    for (int p = first; p < end; ++p) values[p] = pt.Read(p);
    mu_.Lock();
    if (sub->ReadRetry(seq)) {
      mu_.Unlock();
      continue;
    }
    for (int p = first; p < end; ++p) mirror_[p] = values[p];
    mu_.Unlock();
    return attempt;
  }
  return -kMaxFaultAttempts;
}

bool Driver::ReadRetry(IntervalSubscription* sub, Seq seq, bool caller_holds_lock) {
  if (caller_holds_lock) return sub->ReadRetry(seq);
  sync::MutexLock l(&mu_);
  return sub->ReadRetry(seq);
}

void Driver::HoldLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  mu_.Lock();
  held_by_op_.Store(true);
}

void Driver::DropLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  held_by_op_.Store(false);
  mu_.Unlock();
}

void Driver::ClearMirror(bool caller_holds_lock) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (caller_holds_lock) {
    mirror_.fill(0);
    return;
  }
  sync::MutexLock l(&mu_);
  mirror_.fill(0);
}

// --- Static ops tables ---------------------------------------------------------

namespace {

thread_local CallbackSink* current_sink = nullptr;

CallbackSink* CurrentOrDie() {
  CallbackSink* w = CallbackSink::Current();
  if (w == nullptr) {
    std::fprintf(stderr, "nf fuzz: a notifier callback ran outside any CallbackSink::Scope\n");
    std::abort();
  }
  return w;
}

bool IntervalInvalidateCb(IntervalSubscription* sub, const Range& range, Seq cur_seq) {
  return CurrentOrDie()->OnInterval(sub, range, cur_seq);
}
void ReleaseCb(ClassicSubscription* sub, AddressSpace*) {
  CurrentOrDie()->OnClassicRelease(sub);
}
bool StartCb(ClassicSubscription* sub, const Range& range) {
  return CurrentOrDie()->OnClassicStart(sub, range);
}
void EndCb(ClassicSubscription* sub, const Range& range) {
  CurrentOrDie()->OnClassicEnd(sub, range);
}
template <uint8_t B>
ClassicSubscription* AllocCb(AddressSpace*) {
  return CurrentOrDie()->OnAlloc(B);
}
void FreeCb(ClassicSubscription* sub) { CurrentOrDie()->OnFree(sub); }

template <uint8_t B, bool kGet>
constexpr ClassicOps MakeOps() {
  ClassicOps o;
  if (B & kHasRelease) o.release = &ReleaseCb;
  if (B & kHasStart) o.invalidate_range_start = &StartCb;
  if (B & kHasEnd) o.invalidate_range_end = &EndCb;
  if (kGet) {
    o.alloc_notifier = &AllocCb<B>;
    o.free_notifier = &FreeCb;
  }
  return o;
}

template <bool kGet, size_t... I>
constexpr std::array<ClassicOps, sizeof...(I)> MakeTable(std::index_sequence<I...>) {
  return {MakeOps<static_cast<uint8_t>(I), kGet>()...};
}

constexpr std::array<ClassicOps, kNumBehaviours> kRegisterOps =
    MakeTable<false>(std::make_index_sequence<kNumBehaviours>());
constexpr std::array<ClassicOps, kNumBehaviours> kGetOps =
    MakeTable<true>(std::make_index_sequence<kNumBehaviours>());
constexpr IntervalOps kIntervalOps = {&IntervalInvalidateCb};

}  // namespace

const ClassicOps* RegisterOpsFor(uint8_t behaviour) { return &kRegisterOps[behaviour]; }
const ClassicOps* GetOpsFor(uint8_t behaviour) { return &kGetOps[behaviour]; }
const IntervalOps* TestIntervalOps() { return &kIntervalOps; }

std::string DescribeRecord(const CallbackRecord& r) {
  using K = CallbackRecord::Kind;
  auto classic_name = [](int id) {
    return id < kClassicSlots
               ? absl::StrFormat("c%d", id)
               : absl::StrFormat("get(%s)", BehaviourText(static_cast<uint8_t>(id - kClassicSlots)));
  };
  auto range = [&r] {
    return absl::StrFormat("[0x%x,0x%x) %s %s", r.start, r.end, r.blockable ? "block" : "nonblock",
                           EventTextName(r.event));
  };
  switch (r.kind) {
    case K::kInterval:
      return absl::StrFormat("invalidate s%d %s cur_seq=%#x -> %s", r.id, range(), r.cur_seq,
                             r.result ? "true" : "false");
    case K::kStart:
      return absl::StrFormat("start %s %s -> %s", classic_name(r.id), range(),
                             r.result ? "ok" : "EAGAIN");
    case K::kEnd:
      return absl::StrFormat("end %s %s", classic_name(r.id), range());
    case K::kRelease:
      return absl::StrFormat("release %s", classic_name(r.id));
    case K::kFree:
      return absl::StrFormat("free %s", classic_name(r.id));
  }
  return "?";
}

std::string DescribeResult(OpCode code, const OpResult& r) {
  std::string out;
  if (!r.got_user) out = "no user; ";
  switch (code) {
    case OpCode::kReadBegin:
      return out + absl::StrFormat("seq=%#x", r.seq);
    case OpCode::kReadRetry:
    case OpCode::kCheckRetry:
      return out + (r.retry ? "retry" : "no retry");
    case OpCode::kFault:
      return out + (r.got_user ? absl::StrFormat("attempts=%d", r.attempts) : "");
    default:
      return out + absl::StatusCodeToString(r.code);
  }
}

// --- World ---------------------------------------------------------------------

CallbackSink::Scope::Scope(CallbackSink* sink) : prev_(current_sink) { current_sink = sink; }
CallbackSink::Scope::~Scope() { current_sink = prev_; }
CallbackSink* CallbackSink::Current() { return current_sink; }

World::World(InitialSeq initial_seq, int num_threads, WorldObserver* observer)
    : observer_(observer), threads_(num_threads) {
  lock_holder_.fill(-1);
  log_.reserve(64);
  AddressSpaceOptions options;
  options.testing_only_initial_seq = InitialSeqValue(initial_seq);
  options.warn = [this](Warning w, std::string_view) { ++warnings_[static_cast<int>(w)]; };
  space_ = AddressSpace::Create(std::move(options));
  space_->Grab();  // the world's own reference: the space outlives release
}

World::~World() {
  if (!finished_) {
    std::fprintf(stderr, "nf fuzz: World destroyed without Finish()\n");
    std::abort();
  }
}

void World::Finish() {
  finished_ = true;
  space_->Drop();
  space_ = nullptr;
}

int World::SlotOf(const IntervalSubscription* sub) const {
  for (int i = 0; i < kIntervalSlots; ++i) {
    if (subs_[i] != nullptr && subs_[i] == sub) return i;
  }
  return -1;
}

int World::ClassicIdOf(const ClassicSubscription* sub) const {
  for (int i = 0; i < kNumClassicIds; ++i) {
    if (classics_[i] != nullptr && classics_[i] == sub) return i;
  }
  return -1;
}

OpResult World::Execute(int thread, const Op& op) {
  OpResult res;
  ThreadState& ts = threads_[thread];
  AddressSpace* const sp = space_;
  switch (op.code) {
    case OpCode::kInsert: {
      res.got_user = sp->TryGetUser();
      TestSub* sub = subs_[op.slot];
      const bool fresh = sub == nullptr;
      if (fresh) sub = new TestSub(op.slot);
      const absl::Status st = sp->InsertInterval(sub, op.start(), op.length(), TestIntervalOps());
      res.code = st.code();
      if (fresh && st.ok()) {
        subs_[op.slot] = sub;
        ++live_subs_;
      } else if (fresh) {
        delete sub;
      }
      if (res.got_user) sp->PutUser();
      break;
    }
    case OpCode::kRemove: {
      TestSub* sub = subs_[op.slot];
      if (sub == nullptr) {
        TestSub probe(op.slot);  // never inserted: the core must only warn
        sp->RemoveInterval(&probe);
        break;
      }
      sp->RemoveInterval(sub);
      subs_[op.slot] = nullptr;
      delete sub;  // at once: a later callback on it is a use after free
      --live_subs_;
      drivers_[op.slot].ClearMirror(lock_holder_[op.slot] == thread);
      break;
    }
    case OpCode::kInvalidate:
    case OpCode::kInvStart: {
      res.got_user = sp->TryGetUser();
      if (!res.got_user) break;
      Range r;
      r.start = op.start();
      r.end = op.start() + op.length();
      r.blockable = op.blockable;
      r.event = op.event;
      const absl::Status st = sp->InvalidateRangeStart(r);
      res.code = st.code();
      if (!st.ok()) {
        sp->PutUser();
        break;
      }
      page_table_.Change(PagesOfRange(r));
      if (op.code == OpCode::kInvStart) {
        ts.open.push_back(r);  // keeps the user until inv_end
        break;
      }
      sp->InvalidateRangeEnd(r);
      sp->PutUser();
      break;
    }
    case OpCode::kInvEnd: {
      if (ts.open.empty()) {
        sp->InvalidateRangeEnd(Range{});  // no start anywhere: the core must warn
        break;
      }
      const Range r = ts.open.back();
      ts.open.pop_back();
      sp->InvalidateRangeEnd(r);
      sp->PutUser();  // the last one runs release
      break;
    }
    case OpCode::kReadBegin:
      res.seq = subs_[op.slot]->ReadBegin();
      ts.last_seq[op.slot] = res.seq;
      break;
    case OpCode::kReadRetry:
      res.retry = drivers_[op.slot].ReadRetry(subs_[op.slot], ts.last_seq[op.slot],
                                              lock_holder_[op.slot] == thread);
      break;
    case OpCode::kCheckRetry:
      res.retry = subs_[op.slot]->CheckRetry(ts.last_seq[op.slot]);
      break;
    case OpCode::kFault: {
      res.got_user = sp->TryGetUser();
      if (!res.got_user) break;
      res.attempts = drivers_[op.slot].Fault(
          subs_[op.slot], page_table_, PagesOf(op.start(), op.start() + op.length() - 1));
      sp->PutUser();
      break;
    }
    case OpCode::kRegister: {
      res.got_user = sp->TryGetUser();
      TestClassic* sub = classics_[op.slot];
      const bool fresh = sub == nullptr;
      if (fresh) sub = new TestClassic(RegisterOpsFor(op.behaviour), op.slot, op.behaviour);
      const absl::Status st = sp->RegisterClassic(sub);
      res.code = st.code();
      if (fresh && st.ok()) {
        classics_[op.slot] = sub;
        ++live_classics_;
      } else if (fresh) {
        delete sub;
      }
      if (res.got_user) sp->PutUser();
      break;
    }
    case OpCode::kUnregister: {
      TestClassic* sub = classics_[op.slot];
      if (sub == nullptr) {
        TestClassic probe(RegisterOpsFor(0), op.slot, 0);  // never registered
        sp->UnregisterClassic(&probe);
        break;
      }
      sp->UnregisterClassic(sub);
      classics_[op.slot] = nullptr;
      delete sub;  // at once: a later callback on it is a use after free
      --live_classics_;
      break;
    }
    case OpCode::kGet: {
      res.got_user = sp->TryGetUser();
      const absl::StatusOr<ClassicSubscription*> got = sp->GetClassic(GetOpsFor(op.behaviour));
      res.code = got.status().code();
      if (got.ok()) {
        const int id = GetKindId(op.behaviour);
        if (classics_[id] != *got) {
          observer_->Violation(absl::StrFormat(
              "GetClassic returned %p, but the live subscriber with these ops is %p",
              static_cast<const void*>(*got), static_cast<const void*>(classics_[id])));
        }
        ++get_refs_[op.behaviour];
      }
      if (res.got_user) sp->PutUser();
      break;
    }
    case OpCode::kPut: {
      TestClassic* sub = classics_[GetKindId(op.behaviour)];
      if (get_refs_[op.behaviour] == 0 || sub == nullptr) {
        TestClassic probe(GetOpsFor(op.behaviour), GetKindId(op.behaviour), op.behaviour);
        sp->PutClassic(&probe);  // holds no reference: the core must only warn
        break;
      }
      --get_refs_[op.behaviour];
      sp->PutClassic(sub);  // the last one frees it (OnFree) after a grace period
      break;
    }
    case OpCode::kRelease:
      program_user_ = false;
      sp->PutUser();
      break;
    case OpCode::kLock:
      drivers_[op.slot].HoldLock();
      lock_holder_[op.slot] = thread;
      break;
    case OpCode::kUnlock:
      lock_holder_[op.slot] = -1;
      drivers_[op.slot].DropLock();
      break;
  }
  return res;
}

bool World::OnInterval(IntervalSubscription* sub, const Range& range, Seq cur_seq) {
  const int slot = SlotOf(sub);
  if (slot < 0) {
    observer_->Violation(absl::StrFormat(
        "P5: interval callback on %p, which is not a live subscription (removed and "
        "freed, or never inserted); range [0x%x,0x%x) cur_seq=%#x",
        static_cast<const void*>(sub), range.start, range.end, cur_seq));
  }
  TestSub* ts = subs_[slot];
  observer_->AtIntervalCallback(*ts, range, cur_seq);
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kInterval;
  r.id = slot;
  r.start = range.start;
  r.end = range.end;
  r.blockable = range.blockable;
  r.event = range.event;
  r.cur_seq = cur_seq;
  r.result = drivers_[slot].Invalidate(ts, range, cur_seq);
  Record(r);
  return r.result;
}

TestClassic* World::CheckedClassic(ClassicSubscription* sub, const char* callback) {
  const int id = ClassicIdOf(sub);
  if (id < 0) {
    observer_->Violation(absl::StrFormat(
        "classic %s callback on %p, which is not a live subscriber (unregistered or freed)",
        callback, static_cast<const void*>(sub)));
  }
  return classics_[id];
}

void World::OnClassicRelease(ClassicSubscription* sub) {
  TestClassic* c = CheckedClassic(sub, "release");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kRelease;
  r.id = c->id();
  Record(r);
  if ((c->behaviour() & kPutsSelfOnRelease) && c->id() >= kClassicSlots) {
    // The driver drops its handles on release (allowed inside release, as the
    // kernel's mmu_notifier_put): the free waits for the grace period.
    const uint8_t b = c->behaviour();
    while (get_refs_[b] > 0) {
      --get_refs_[b];
      space_->PutClassic(c);
    }
  }
}

bool World::OnClassicStart(ClassicSubscription* sub, const Range& range) {
  TestClassic* c = CheckedClassic(sub, "invalidate_range_start");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kStart;
  r.id = c->id();
  r.start = range.start;
  r.end = range.end;
  r.blockable = range.blockable;
  r.event = range.event;
  r.result = !((c->behaviour() & kFailsNonblock) && !range.blockable);
  Record(r);
  return r.result;
}

void World::OnClassicEnd(ClassicSubscription* sub, const Range& range) {
  TestClassic* c = CheckedClassic(sub, "invalidate_range_end");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kEnd;
  r.id = c->id();
  r.start = range.start;
  r.end = range.end;
  r.blockable = range.blockable;
  r.event = range.event;
  Record(r);
}

ClassicSubscription* World::OnAlloc(uint8_t behaviour) {
  const int id = GetKindId(behaviour);
  if (classics_[id] != nullptr) {
    observer_->Violation(absl::StrFormat(
        "alloc_notifier for get(%s) while a subscriber with these ops is still live",
        BehaviourText(behaviour)));
  }
  classics_[id] = new TestClassic(GetOpsFor(behaviour), id, behaviour);
  ++live_classics_;
  return classics_[id];
}

void World::OnFree(ClassicSubscription* sub) {
  TestClassic* c = CheckedClassic(sub, "free_notifier");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kFree;
  r.id = c->id();
  Record(r);
  if (get_refs_[c->behaviour()] != 0) {
    observer_->Violation(absl::StrFormat("free_notifier of %s while the program holds %d "
                                         "reference(s) from get",
                                         DescribeRecord(r), get_refs_[c->behaviour()]));
  }
  classics_[c->id()] = nullptr;
  --live_classics_;
  delete c;
}

}  // namespace nf::fuzz
