// target/nf/nf_target.cc: nf's own core (core/notifier.h) as a target. The only
// file of the harnesses that names nf::AddressSpace. Compiled in the flavour of
// the core it is linked with (nf_target_nf: real threads; nf_target_nf_sched:
// the deterministic scheduler).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "core/notifier.h"
#include "target/target.h"

namespace nf::target {
namespace {

class NfInterval final : public IntervalSub, public IntervalSubscription {
 public:
  explicit NfInterval(int slot) : IntervalSub(slot) {}
  ~NfInterval() override = default;

  Seq ReadBegin() override { return IntervalSubscription::ReadBegin(); }
  bool ReadRetry(Seq seq) const override { return IntervalSubscription::ReadRetry(seq); }
  bool CheckRetry(Seq seq) const override { return IntervalSubscription::CheckRetry(seq); }
  void SetSeq(Seq cur_seq) override { IntervalSubscription::SetSeq(cur_seq); }
  uint64_t start() const override { return IntervalSubscription::start(); }
  uint64_t last() const override { return IntervalSubscription::last(); }
  Seq seq_for_testing() const override { return IntervalSubscription::seq_for_testing(); }
};

class NfClassic final : public ClassicSub, public ClassicSubscription {
 public:
  NfClassic(const ClassicOps* ops, int id, uint8_t behaviour)
      : ClassicSub(id, behaviour), ClassicSubscription(ops) {}
  ~NfClassic() override = default;
};

// Pointer conversions only: a callback on a freed handle reaches the sink as the
// same (dangling) pointer, which the sink recognizes without touching it.
IntervalSub* Handle(IntervalSubscription* s) { return static_cast<NfInterval*>(s); }
ClassicSub* Handle(ClassicSubscription* s) { return static_cast<NfClassic*>(s); }
NfInterval* Core(IntervalSub* s) { return static_cast<NfInterval*>(s); }
NfClassic* Core(ClassicSub* s) { return static_cast<NfClassic*>(s); }

// --- The static ops tables: every callback goes to the calling thread's sink ---

bool IntervalInvalidateCb(IntervalSubscription* sub, const Range& range, Seq cur_seq) {
  return CallbackSink::Current()->OnInterval(Handle(sub), range, cur_seq);
}
void ReleaseCb(ClassicSubscription* sub, AddressSpace*) {
  CallbackSink::Current()->OnClassicRelease(Handle(sub));
}
bool StartCb(ClassicSubscription* sub, const Range& range) {
  return CallbackSink::Current()->OnClassicStart(Handle(sub), range);
}
void EndCb(ClassicSubscription* sub, const Range& range) {
  CallbackSink::Current()->OnClassicEnd(Handle(sub), range);
}
template <uint8_t B>
ClassicSubscription* AllocCb(AddressSpace*) {
  return Core(CallbackSink::Current()->OnAlloc(B));
}
void FreeCb(ClassicSubscription* sub) { CallbackSink::Current()->OnFree(Handle(sub)); }

template <uint8_t B, bool kGet>
constexpr ClassicOps MakeOps() {
  ClassicOps o;
  if (B & kClassicHasRelease) o.release = &ReleaseCb;
  if (B & kClassicHasStart) o.invalidate_range_start = &StartCb;
  if (B & kClassicHasEnd) o.invalidate_range_end = &EndCb;
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

constexpr std::array<ClassicOps, kNumClassicBehaviours> kRegisterOps =
    MakeTable<false>(std::make_index_sequence<kNumClassicBehaviours>());
constexpr std::array<ClassicOps, kNumClassicBehaviours> kGetOps =
    MakeTable<true>(std::make_index_sequence<kNumClassicBehaviours>());
constexpr IntervalOps kIntervalOps = {&IntervalInvalidateCb};

constexpr Traits kNfTraits = {
    .name = "nf",
    .reports_misuse = true,
    .counts_open_invalidations = true,
    .accepts_ops_without_user = true,
    .tracks_released = true,
};

[[noreturn]] void OutOfContract(const char* verb) {
  std::fprintf(stderr, "nf target: %s is outside nf's contract (docs/contract.md §10); the "
                       "executors must not call it\n", verb);
  std::abort();
}

class NfTarget final : public Target {
 public:
  explicit NfTarget(const TargetOptions& options) {
    AddressSpaceOptions o;
    o.testing_only_initial_seq = options.initial_seq;
    // The sink of the thread that detected it (warnings are reported on it).
    o.warn = [](Warning w, std::string_view detail) {
      CallbackSink::Current()->OnWarning(w, detail);
    };
    space_ = AddressSpace::Create(std::move(o));
    space_->Grab();  // the harness's own reference: the space outlives release
  }

  const Traits& traits() const override { return kNfTraits; }

  bool TryGetUser() override { return space_->TryGetUser(); }
  void PutUser() override { space_->PutUser(); }

  IntervalSub* NewInterval(int slot) override { return new NfInterval(slot); }
  void DeleteInterval(IntervalSub* sub) override { delete Core(sub); }
  absl::StatusCode Insert(IntervalSub* sub, uint64_t start, uint64_t length) override {
    return space_->InsertInterval(Core(sub), start, length, &kIntervalOps).code();
  }
  void Remove(IntervalSub* sub) override { space_->RemoveInterval(Core(sub)); }
  // The core has no mmap lock: its registration exclusion is taken by the
  // insert itself, so insert_locked is insert (docs/contract.md §10.5).
  absl::StatusCode InsertLocked(IntervalSub* sub, uint64_t start, uint64_t length) override {
    return Insert(sub, start, length);
  }

  absl::StatusCode InvalidateStart(const Range& range, Invalidation* open) override {
    open->range = range;
    return space_->InvalidateRangeStart(range).code();
  }
  void InvalidateEnd(const Invalidation& open) override {
    space_->InvalidateRangeEnd(open.range);
  }

  // The core's ends call no secondary-TLB method (it has none): every end is
  // a range-only end.
  void InvalidateOnlyEnd(const Invalidation& open) override { InvalidateEnd(open); }
  void Grab() override { space_->Grab(); }
  void Drop() override { space_->Drop(); }

  // §10 is out of the core's contract (Traits::secondary_mmu_api is false): the
  // executors never call these.
  bool ClearFlushYoung(uint64_t, uint64_t) override { OutOfContract("clear_flush_young"); }
  bool ClearYoung(uint64_t, uint64_t) override { OutOfContract("clear_young"); }
  bool TestYoung(uint64_t) override { OutOfContract("test_young"); }
  void ChangePte(uint64_t) override { OutOfContract("change_pte"); }
  void InvalidateSecondaryTlbs(uint64_t, uint64_t) override { OutOfContract("secondary_tlb"); }
  bool RangeUpdateToReadOnly(const Range&) override { OutOfContract("read_only"); }
  void Synchronize() override { space_->Synchronize(); }

  ClassicSub* NewClassic(int id, uint8_t behaviour, bool get_kind) override {
    if (behaviour & kClassicSecondary) OutOfContract("register_secondary");
    return new NfClassic(get_kind ? &kGetOps[behaviour] : &kRegisterOps[behaviour], id, behaviour);
  }
  void DeleteClassic(ClassicSub* sub) override { delete Core(sub); }
  absl::StatusCode Register(ClassicSub* sub) override {
    return space_->RegisterClassic(Core(sub)).code();
  }
  void Unregister(ClassicSub* sub) override { space_->UnregisterClassic(Core(sub)); }
  absl::StatusOr<ClassicSub*> Get(uint8_t behaviour) override {
    absl::StatusOr<ClassicSubscription*> got = space_->GetClassic(&kGetOps[behaviour]);
    if (!got.ok()) return got.status();
    return Handle(*got);
  }
  void Put(ClassicSub* sub) override { space_->PutClassic(Core(sub)); }

  Seq GlobalSeq() override { return space_->invalidate_seq_for_testing(); }
  bool HasItree() override { return space_->has_itree(); }
  Snapshot Inspect() override {
    Snapshot s;
    InspectInto(&s);
    return s;
  }
  int PendingFrees() override {
    nf::Snapshot c;  // not InspectInto's buffer: any logical thread may call this
    space_->InspectInto(&c);
    return c.pending_frees;
  }
  // Through a core snapshot kept per OS thread for reuse (several threads may
  // inspect at once in a real-thread run): no allocation once both have grown.
  void InspectInto(Snapshot* out) override {
    static thread_local nf::Snapshot core_snap;
    const nf::Snapshot& c = core_snap;
    space_->InspectInto(&core_snap);  // the same, with the core's pointers
    Snapshot& s = *out;
    s.users = c.users;
    s.refs = c.refs;
    s.released = c.released;
    s.has_subscriptions = c.has_subscriptions;
    s.has_itree = c.has_itree;
    s.invalidate_seq = c.invalidate_seq;
    s.active_invalidate_ranges = c.active_invalidate_ranges;
    s.open_invalidations = c.open_invalidations;
    s.tree.clear();
    for (const nf::Snapshot::Interval& i : c.tree) {
      s.tree.push_back({Handle(const_cast<IntervalSubscription*>(i.sub)), i.start, i.last, i.seq});
    }
    s.deferred.clear();
    for (const nf::Snapshot::Deferred& d : c.deferred) {
      s.deferred.push_back({Handle(const_cast<IntervalSubscription*>(d.sub)), d.insert});
    }
    s.classic.clear();
    for (const ClassicSubscription* x : c.classic) {
      s.classic.push_back(Handle(const_cast<ClassicSubscription*>(x)));
    }
    s.pending_frees = c.pending_frees;
    s.warnings = c.warnings;
  }

  void Finish() override {
    space_->Drop();
    space_ = nullptr;
  }

 private:
  AddressSpace* space_ = nullptr;
};

}  // namespace

std::unique_ptr<Target> CreateTarget(const TargetOptions& options) {
  return std::make_unique<NfTarget>(options);
}

}  // namespace nf::target
