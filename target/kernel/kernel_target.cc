// target/kernel/kernel_target.cc: the kernel's mm/mmu_notifier.c (kernel/,
// the flat API nf_kernel.h over the real file and nf's shim) as a target.
// Flavour-neutral: the executable links nf_kernel (real threads) or
// nf_kernel_sched (the deterministic scheduler), or a mutant of either.
#include <array>
#include <cerrno>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_format.h"
#include "kernel/nf_kernel.h"
#include "target/target.h"

namespace nf::target {
namespace {

class KInterval;
class KClassic;

bool IntervalCb(void* cookie, nfk_interval* sub, const nfk_range* r, unsigned long cur_seq);
void ReleaseCb(void* cookie, nfk_classic* sub);
int StartCb(void* cookie, nfk_classic* sub, const nfk_range* r);
void EndCb(void* cookie, nfk_classic* sub, const nfk_range* r);
void FreeCb(void* cookie, nfk_classic* sub);
void AllocCb(void* cookie, nfk_classic* sub);
int ClearFlushYoungCb(void* cookie, nfk_classic* sub, unsigned long start, unsigned long end);
int ClearYoungCb(void* cookie, nfk_classic* sub, unsigned long start, unsigned long end);
int TestYoungCb(void* cookie, nfk_classic* sub, unsigned long address);
void ChangePteCb(void* cookie, nfk_classic* sub, unsigned long address);
void SecondaryTlbCb(void* cookie, nfk_classic* sub, unsigned long start, unsigned long end);

Range FromKernel(const nfk_range& k) {
  return Range{.start = k.start, .end = k.end, .blockable = k.blockable,
               .event = static_cast<Event>(k.event), .owner = k.owner};
}

nfk_range ToKernel(const Range& r) {
  return nfk_range{r.start, r.end, r.blockable, static_cast<int>(r.event),
                   const_cast<void*>(r.owner)};
}

absl::StatusCode FromErrno(int err) {
  switch (err) {
    case 0: return absl::StatusCode::kOk;
    case -EAGAIN: return absl::StatusCode::kUnavailable;
    case -EOVERFLOW: return absl::StatusCode::kOutOfRange;
    case -EINVAL: return absl::StatusCode::kFailedPrecondition;
    case -ENOMEM: return absl::StatusCode::kResourceExhausted;
    case -EEXIST: return absl::StatusCode::kAlreadyExists;
    default: return absl::StatusCode::kInternal;
  }
}

class KInterval final : public IntervalSub {
 public:
  explicit KInterval(int slot) : IntervalSub(slot), k_(nfk_interval_alloc(&IntervalCb, this)) {}
  ~KInterval() override { nfk_interval_free(k_); }

  Seq ReadBegin() override { return nfk_interval_read_begin(k_); }
  bool ReadRetry(Seq seq) const override { return nfk_interval_read_retry(k_, seq); }
  bool CheckRetry(Seq seq) const override { return nfk_interval_check_retry(k_, seq); }
  void SetSeq(Seq cur_seq) override { nfk_interval_set_seq(k_, cur_seq); }
  uint64_t start() const override { return start_; }
  uint64_t last() const override { return last_; }
  Seq seq_for_testing() const override { return nfk_interval_seq(k_); }

  nfk_interval* k() const { return k_; }
  // Set before the insert publishes the subscription (callbacks read them).
  void SetInterval(uint64_t start, uint64_t length) {
    start_ = start;
    last_ = start + length - 1;
  }

 private:
  nfk_interval* const k_;
  uint64_t start_ = 0;
  uint64_t last_ = 0;
};

class KClassic final : public ClassicSub {
 public:
  // k: the kernel's subscriber (register: allocated here; get: by the kernel's
  // alloc_notifier, bound in AllocCb).
  KClassic(int id, uint8_t behaviour, nfk_classic* k, bool owned)
      : ClassicSub(id, behaviour), k_(k), owned_(owned) {
    if (k_ != nullptr) nfk_classic_set_user(k_, this);
  }
  ~KClassic() override {
    if (owned_) nfk_classic_free(k_);
  }
  nfk_classic* k() const { return k_; }

 private:
  nfk_classic* const k_;
  const bool owned_;  // register kind; a get kind's is freed by the adapter
};

ClassicSub* Handle(nfk_classic* k) { return static_cast<KClassic*>(nfk_classic_user(k)); }

// The subscriber the kernel's alloc_notifier is making (AllocCb -> OnAlloc ->
// NewClassic), per OS thread: get runs alloc_notifier on the calling thread.
thread_local nfk_classic* t_allocating = nullptr;

// NF_KERNEL_CONTRACT_TRAITS (nf_target_kernel_contract, the *_kernel_contract
// executables): the contract's expectations where the kernel diverges, so that
// the findings' reproducers (corpus/regress/kernel/) still show the divergence.
#ifdef NF_KERNEL_CONTRACT_TRAITS
constexpr bool kContract = true;
#else
constexpr bool kContract = false;
#endif

constexpr Traits kKernelTraits = {
    .name = kContract ? "kernel-contract" : "kernel",
    .reports_misuse = false,
    .counts_open_invalidations = false,
    .accepts_ops_without_user = false,
    .tracks_released = false,
    // 6.1 leaves the walk open (finding A); the adapter checks and ends it
    // (nfk_set_close_leaked_walk above); 6.12 and the fixed variant end it.
    .failed_classic_start_closes_interval_walk = true,
    .release_once_against_unregister = kContract,
    .empty_range_walks_nothing = kContract,
    .release_walk_covers_top_address = kContract,
    .failed_insert_leaves_no_tree = false,
    .secondary_mmu_api = true,
};

// The version's API (this library links with either version's nf_kernel):
// 6.1 has all three; 6.6 removed change_pte, invalidate_range (and with it
// the secondary-TLB call of the end) and update_to_read_only's definition.
const Traits& KernelTraits() {
  static const Traits t = [] {
    Traits k = kKernelTraits;
    k.has_change_pte = nfk_has_change_pte();
    k.end_calls_secondary_tlb = nfk_end_calls_secondary_tlb();
    k.has_range_update_to_read_only = nfk_has_range_update_to_read_only();
    return k;
  }();
  return t;
}

void ReportCb(void*, const nfk_report* r) {
  CallbackSink::Current()->OnTargetReport(absl::StrFormat(
      "kernel %s at %s:%d: %s", nfk_report_kind_name(r->kind), r->file, r->line, r->what));
}

class KernelTarget final : public Target {
 public:
  explicit KernelTarget(const TargetOptions& options)
      // The kernel's subscriptions start at seq 2 lazily; another seq needs
      // them created at once (FUZZING_ONLY, nf_kernel.h).
      : mm_(nfk_mm_create(options.initial_seq == 2 ? 0 : options.initial_seq)) {
    nfk_set_report_handler(&ReportCb, nullptr);
    // Finding A, where the file has it: the adapter checks that a failed
    // non-blockable start left its walk open as classified and ends it, so the
    // programs around it run (Traits::failed_classic_start_closes_interval_walk).
    // Under the contract's traits the walk stays open: the reproducer fails.
    nfk_set_close_leaked_walk(mm_, !kContract);
  }
  ~KernelTarget() override {
    for (nfk_ops* o : ops_) {
      if (o != nullptr) nfk_ops_destroy(o);
    }
  }

  const Traits& traits() const override { return KernelTraits(); }

  bool TryGetUser() override { return nfk_mm_try_get_user(mm_); }
  void PutUser() override { nfk_mm_put_user(mm_); }

  IntervalSub* NewInterval(int slot) override { return new KInterval(slot); }
  void DeleteInterval(IntervalSub* sub) override { delete static_cast<KInterval*>(sub); }
  absl::StatusCode Insert(IntervalSub* sub, uint64_t start, uint64_t length) override {
    auto* k = static_cast<KInterval*>(sub);
    k->SetInterval(start, length);
    return FromErrno(nfk_interval_insert(mm_, k->k(), start, length));
  }
  void Remove(IntervalSub* sub) override { nfk_interval_remove(static_cast<KInterval*>(sub)->k()); }
  absl::StatusCode InsertLocked(IntervalSub* sub, uint64_t start, uint64_t length) override {
    auto* k = static_cast<KInterval*>(sub);
    k->SetInterval(start, length);
    return FromErrno(nfk_interval_insert_locked(mm_, k->k(), start, length));
  }
  void InvalidateOnlyEnd(const Invalidation& open) override {
    nfk_invalidate_only_end(static_cast<nfk_invalidation*>(open.state));
  }
  void Grab() override { nfk_mm_grab(mm_); }
  void Drop() override { nfk_mm_drop(mm_); }
  bool ClearFlushYoung(uint64_t start, uint64_t end) override {
    return nfk_clear_flush_young(mm_, start, end) != 0;
  }
  bool ClearYoung(uint64_t start, uint64_t end) override {
    return nfk_clear_young(mm_, start, end) != 0;
  }
  bool TestYoung(uint64_t address) override { return nfk_test_young(mm_, address) != 0; }
  void ChangePte(uint64_t address) override { nfk_change_pte(mm_, address); }
  void InvalidateSecondaryTlbs(uint64_t start, uint64_t end) override {
    nfk_invalidate_secondary_tlbs(mm_, start, end);
  }
  bool RangeUpdateToReadOnly(const Range& r) override {
    return nfk_range_update_to_read_only(mm_, r.start, r.end, static_cast<int>(r.event));
  }
  void Synchronize() override { nfk_synchronize(); }

  absl::StatusCode InvalidateStart(const Range& range, Invalidation* open) override {
    const nfk_range k = ToKernel(range);
    nfk_invalidation* inv = nullptr;
    const int err = nfk_invalidate_start(mm_, &k, &inv);
    open->range = range;
    open->state = inv;
    return FromErrno(err);
  }
  void InvalidateEnd(const Invalidation& open) override {
    nfk_invalidate_end(static_cast<nfk_invalidation*>(open.state));
  }

  ClassicSub* NewClassic(int id, uint8_t behaviour, bool get_kind) override {
    if (get_kind) {
      // Only from OnAlloc, inside the kernel's alloc_notifier (AllocCb).
      nfk_classic* k = t_allocating;
      t_allocating = nullptr;
      return new KClassic(id, behaviour, k, /*owned=*/false);
    }
    return new KClassic(id, behaviour, nfk_classic_alloc(Ops(behaviour, false)), /*owned=*/true);
  }
  void DeleteClassic(ClassicSub* sub) override { delete static_cast<KClassic*>(sub); }
  absl::StatusCode Register(ClassicSub* sub) override {
    return FromErrno(nfk_classic_register(mm_, static_cast<KClassic*>(sub)->k()));
  }
  void Unregister(ClassicSub* sub) override {
    nfk_classic_unregister(mm_, static_cast<KClassic*>(sub)->k());
  }
  absl::StatusOr<ClassicSub*> Get(uint8_t behaviour) override {
    int err = 0;
    nfk_classic* k = nfk_classic_get(mm_, Ops(behaviour, true), &err);
    if (k == nullptr) return absl::Status(FromErrno(err), "mmu_notifier_get");
    return Handle(k);
  }
  void Put(ClassicSub* sub) override { nfk_classic_put(static_cast<KClassic*>(sub)->k()); }

  Seq GlobalSeq() override { return Take(/*lists=*/false).invalidate_seq; }
  bool HasItree() override { return Take(false).has_itree; }
  int PendingFrees() override { return static_cast<int>(Take(false).num_pending_frees); }
  Snapshot Inspect() override {
    const nfk_snapshot k = Take(/*lists=*/true);
    Snapshot s;
    s.users = k.mm_users;
    s.refs = k.mm_count;
    s.released = k.mm_users == 0;
    s.has_subscriptions = k.has_subscriptions;
    s.has_itree = k.has_itree;
    s.invalidate_seq = k.invalidate_seq;
    s.active_invalidate_ranges = static_cast<long>(k.active_invalidate_ranges);
    for (size_t i = 0; i < k.num_tree && i < tree_.size(); ++i) {
      s.tree.push_back({static_cast<KInterval*>(nfk_interval_cookie(tree_[i].sub)),
                        tree_[i].start, tree_[i].last, tree_[i].seq});
    }
    for (size_t i = 0; i < k.num_deferred && i < deferred_.size(); ++i) {
      s.deferred.push_back({static_cast<KInterval*>(nfk_interval_cookie(deferred_[i].sub)),
                            deferred_[i].insert});
    }
    for (size_t i = 0; i < k.num_classic && i < classic_.size(); ++i) {
      s.classic.push_back(Handle(classic_[i].sub));
    }
    s.pending_frees = static_cast<int>(k.num_pending_frees);
    return s;
  }

  void Finish() override {
    nfk_mm_destroy(mm_);
    mm_ = nullptr;
  }

 private:
  nfk_snapshot Take(bool lists) {
    nfk_snapshot s{};
    if (lists) {
      s.tree = tree_.data();
      s.tree_cap = tree_.size();
      s.deferred = deferred_.data();
      s.deferred_cap = deferred_.size();
      s.classic = classic_.data();
      s.classic_cap = classic_.size();
    }
    nfk_snapshot_take(mm_, &s);
    return s;
  }

  // One kernel ops per behaviour and kind: get matches a subscriber by its ops.
  // Created at first use, under ops_mu_: on real threads (tsan_replay_kernel)
  // two gets of one behaviour may race here. No yield point inside, so under
  // the scheduler the lock is never contended.
  nfk_ops* Ops(uint8_t behaviour, bool get_kind) {
    std::lock_guard<std::mutex> l(ops_mu_);
    nfk_ops*& o = ops_[static_cast<size_t>(behaviour) * 2 + (get_kind ? 1 : 0)];
    if (o == nullptr) {
      nfk_classic_callbacks cb{};
      if (behaviour & kClassicHasRelease) cb.release = &ReleaseCb;
      if (behaviour & kClassicHasStart) cb.invalidate_range_start = &StartCb;
      if (behaviour & kClassicHasEnd) cb.invalidate_range_end = &EndCb;
      if (behaviour & kClassicSecondary) {
        cb.clear_flush_young = &ClearFlushYoungCb;
        cb.clear_young = &ClearYoungCb;
        cb.test_young = &TestYoungCb;
        cb.change_pte = &ChangePteCb;
        if (HasSecondaryTlb(behaviour)) cb.secondary_tlb = &SecondaryTlbCb;
      }
      if (get_kind) {
        cb.free_notifier = &FreeCb;
        cb.alloc = &AllocCb;
      }
      o = nfk_ops_create(&cb, reinterpret_cast<void*>(uintptr_t{behaviour}));
    }
    return o;
  }

  nfk_mm* mm_;
  std::mutex ops_mu_;
  std::array<nfk_ops*, kNumRegisterBehaviours * 2> ops_{};  // guarded by ops_mu_
  // Snapshot buffers: at most the harness's slots (a few) of each.
  std::array<nfk_tree_entry, 64> tree_{};
  std::array<nfk_deferred_entry, 64> deferred_{};
  std::array<nfk_classic_entry, 128> classic_{};
};

// --- Callbacks: to the calling thread's sink, handles passed as they are ---

bool IntervalCb(void* cookie, nfk_interval*, const nfk_range* r, unsigned long cur_seq) {
  return CallbackSink::Current()->OnInterval(static_cast<KInterval*>(cookie), FromKernel(*r),
                                             cur_seq);
}
void ReleaseCb(void*, nfk_classic* sub) { CallbackSink::Current()->OnClassicRelease(Handle(sub)); }
int StartCb(void*, nfk_classic* sub, const nfk_range* r) {
  return CallbackSink::Current()->OnClassicStart(Handle(sub), FromKernel(*r)) ? 0 : -EAGAIN;
}
void EndCb(void*, nfk_classic* sub, const nfk_range* r) {
  CallbackSink::Current()->OnClassicEnd(Handle(sub), FromKernel(*r));
}
void FreeCb(void*, nfk_classic* sub) { CallbackSink::Current()->OnFree(Handle(sub)); }
int ClearFlushYoungCb(void*, nfk_classic* sub, unsigned long start, unsigned long end) {
  return CallbackSink::Current()->OnClassicSecondary(Handle(sub), SecondaryCall::kClearFlushYoung,
                                                     start, end);
}
int ClearYoungCb(void*, nfk_classic* sub, unsigned long start, unsigned long end) {
  return CallbackSink::Current()->OnClassicSecondary(Handle(sub), SecondaryCall::kClearYoung,
                                                     start, end);
}
int TestYoungCb(void*, nfk_classic* sub, unsigned long address) {
  return CallbackSink::Current()->OnClassicSecondary(Handle(sub), SecondaryCall::kTestYoung,
                                                     address, address);
}
void ChangePteCb(void*, nfk_classic* sub, unsigned long address) {
  CallbackSink::Current()->OnClassicSecondary(Handle(sub), SecondaryCall::kChangePte, address,
                                              address);
}
void SecondaryTlbCb(void*, nfk_classic* sub, unsigned long start, unsigned long end) {
  CallbackSink::Current()->OnClassicSecondary(Handle(sub), SecondaryCall::kSecondaryTlb, start,
                                              end);
}
void AllocCb(void* cookie, nfk_classic* sub) {
  t_allocating = sub;
  ClassicSub* h = CallbackSink::Current()->OnAlloc(
      static_cast<uint8_t>(reinterpret_cast<uintptr_t>(cookie)));
  nfk_classic_set_user(sub, h);
}

}  // namespace

std::unique_ptr<Target> CreateTarget(const TargetOptions& options) {
  return std::make_unique<KernelTarget>(options);
}

}  // namespace nf::target
