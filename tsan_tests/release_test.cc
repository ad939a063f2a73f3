// Stress 4: release racing unregister and put (spec §4, §5), P9 and lifetimes.
//
// Each iteration builds a fresh address space with interval subscriptions,
// registered classic subscribers and get/put classic subscribers (whose
// free_notifier deletes them), and takes one extra reference of its own. Then, on
// four threads at once:
//   exit        drops the original user (the last user runs release);
//   unregister  unregisters every registered subscriber, deleting each right after
//               UnregisterClassic returns, and removes some interval
//               subscriptions, deleting each right after RemoveInterval returns;
//   put         drops every reference get returned (the last frees the subscriber
//               after a grace period);
//   invalidate  runs start/end while it holds its own user, then drops it (so the
//               last user may be either thread).
// Afterwards (at a barrier) the remaining interval subscriptions are removed and
// the iteration checks:
//   - every interval subscription still inserted at release got exactly one
//     RELEASE invalidate, and a removed one at most one (P9);
//   - every registered subscriber's release ran exactly once (by the space's
//     release or by unregister, never both), every get/put subscriber's at most
//     once (P9);
//   - every get/put subscriber was allocated once and freed exactly once;
//   - no callback ran after release, on an unregistered subscriber, on a freed
//     one, or on a removed interval subscription (callbacks also write into the
//     objects: a late one is a use after free under the sanitizers);
//   - nothing holds the space but our reference (refs == 1, no pending frees):
//     our Drop is the last and frees it.
#include <algorithm>
#include <array>
#include <atomic>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tsan_tests/stress.h"

namespace nf::stress {
namespace {

constexpr int kIntervals = 4;
constexpr int kKept = 2;  // intervals [0, kKept) stay inserted through release
constexpr int kRegistered = 2;
constexpr int kGetKinds = 2;
constexpr int kWorkers = 4;
constexpr long kIterations = 200000;

struct Iteration;

struct RelInterval : IntervalSubscription {
  RelInterval(Iteration* i, int n) : it(i), id(n) {}
  Iteration* const it;
  const int id;
  std::atomic<long> calls{0};
};

struct RelClassic : ClassicSubscription {
  RelClassic(const ClassicOps* ops, Iteration* i, int n, bool g)
      : ClassicSubscription(ops), it(i), id(n), got(g) {}
  Iteration* const it;
  const int id;
  const bool got;  // a get/put subscriber (id = kind), else registered (id = slot)
  std::atomic<long> calls{0};
};

// One iteration's objects and what its callbacks saw.
struct Iteration {
  Violations* v = nullptr;
  long index = 0;
  AddressSpace* space = nullptr;
  std::array<RelInterval*, kIntervals> intervals{};
  std::array<RelClassic*, kRegistered> registered{};
  std::array<RelClassic*, kGetKinds> got{};
  std::array<int, kGetKinds> got_refs{};
  std::atomic<bool> released{false};  // a RELEASE invalidate ran
  std::array<std::atomic<int>, kIntervals> release_invalidates{};
  std::array<std::atomic<bool>, kIntervals> interval_removed{};
  std::array<std::atomic<int>, kRegistered> registered_releases{};
  std::array<std::atomic<bool>, kRegistered> unregistered{};
  std::array<std::atomic<int>, kGetKinds> allocs{}, frees{}, got_releases{};
  std::atomic<int> releases_by_space{0}, releases_by_unregister{0};
};

// alloc_notifier gets only the space: it finds the iteration here.
std::atomic<Iteration*> g_iteration{nullptr};

bool IntervalCb(IntervalSubscription* s, const Range& r, Seq cur_seq) {
  auto* sub = static_cast<RelInterval*>(s);
  Iteration* const it = sub->it;  // reads the subscription: freed memory if removed
  sub->calls.fetch_add(1);
  if (it->interval_removed[sub->id].load()) {
    it->v->Add(
        absl::StrFormat("iteration %d: P5: invalidate on interval %d after its "
                        "RemoveInterval returned",
                        it->index, sub->id));
  }
  if (r.event == Event::kRelease) {
    it->release_invalidates[sub->id].fetch_add(1);
    it->released = true;
  } else if (it->released.load()) {
    it->v->Add(
        absl::StrFormat("iteration %d: P9: %s invalidate on interval %d after the "
                        "RELEASE walk",
                        it->index, EventName(r.event), sub->id));
  }
  sub->SetSeq(cur_seq);
  return true;
}
constexpr IntervalOps kIntervalOps = {&IntervalCb};

// Checks that a classic subscriber may still be called.
RelClassic* Alive(ClassicSubscription* s, const char* callback) {
  auto* c = static_cast<RelClassic*>(s);
  Iteration* const it = c->it;  // reads the subscriber: freed memory if freed
  c->calls.fetch_add(1);
  if (c->got && it->frees[c->id].load() != 0) {
    it->v->Add(absl::StrFormat("iteration %d: %s of get/put subscriber %d after its free",
                               it->index, callback, c->id));
  }
  if (!c->got && it->unregistered[c->id].load()) {
    it->v->Add(
        absl::StrFormat("iteration %d: %s of registered subscriber %d after "
                        "UnregisterClassic returned",
                        it->index, callback, c->id));
  }
  return c;
}

void ReleaseCb(ClassicSubscription* s, AddressSpace*) {
  RelClassic* c = Alive(s, "release");
  Iteration* const it = c->it;
  // The RELEASE walk precedes the classic release of the space: a release after it
  // is the space's; before it, unregister's.
  (it->released.load() ? it->releases_by_space : it->releases_by_unregister).fetch_add(1);
  (c->got ? it->got_releases[c->id] : it->registered_releases[c->id]).fetch_add(1);
}

void CheckNotReleased(RelClassic* c, const char* callback) {
  if (c->it->released.load()) {
    c->it->v->Add(absl::StrFormat("iteration %d: P9: classic %s after the space's release",
                                  c->it->index, callback));
  }
}
bool StartCb(ClassicSubscription* s, const Range&) {
  CheckNotReleased(Alive(s, "invalidate_range_start"), "invalidate_range_start");
  return true;
}
void EndCb(ClassicSubscription* s, const Range&) {
  CheckNotReleased(Alive(s, "invalidate_range_end"), "invalidate_range_end");
}

template <int kKind>
ClassicSubscription* AllocCb(AddressSpace*);
void FreeCb(ClassicSubscription* s) {
  auto* c = static_cast<RelClassic*>(s);
  Iteration* const it = c->it;
  if (it->frees[c->id].fetch_add(1) != 0) {
    it->v->Add(
        absl::StrFormat("iteration %d: get/put subscriber %d freed twice", it->index, c->id));
  }
  delete c;
}

constexpr ClassicOps kRegisteredOps = {&ReleaseCb, &StartCb, &EndCb, nullptr, nullptr};
constexpr std::array<ClassicOps, kGetKinds> kGetOps = {{
    {&ReleaseCb, &StartCb, &EndCb, &AllocCb<0>, &FreeCb},
    {&ReleaseCb, &StartCb, &EndCb, &AllocCb<1>, &FreeCb},
}};

template <int kKind>
ClassicSubscription* AllocCb(AddressSpace*) {
  Iteration* const it = g_iteration.load();
  it->allocs[kKind].fetch_add(1);
  return new RelClassic(&kGetOps[kKind], it, kKind, /*g=*/true);
}

void BuildIteration(Iteration* it, Rng& rng) {
  Violations* const v = it->v;
  g_iteration = it;
  it->space = AddressSpace::Create(ReportingTo(v));
  AddressSpace* const sp = it->space;
  sp->Grab();     // ours: the space outlives its release until our checks
  sp->GetUser();  // the invalidator's
  for (int i = 0; i < kIntervals; ++i) {
    it->intervals[i] = new RelInterval(it, i);
    const PageRange p = RandomPages(rng);
    const absl::Status st =
        sp->InsertInterval(it->intervals[i], p.start(), p.length(), &kIntervalOps);
    if (!st.ok()) v->Add("InsertInterval failed: " + st.ToString());
  }
  for (int i = 0; i < kRegistered; ++i) {
    it->registered[i] = new RelClassic(&kRegisteredOps, it, i, /*g=*/false);
    const absl::Status st = sp->RegisterClassic(it->registered[i]);
    if (!st.ok()) v->Add("RegisterClassic failed: " + st.ToString());
  }
  for (int k = 0; k < kGetKinds; ++k) {
    it->got_refs[k] = rng.Uniform(1, 3);
    for (int j = 0; j < it->got_refs[k]; ++j) {
      const absl::StatusOr<ClassicSubscription*> got = sp->GetClassic(&kGetOps[k]);
      if (!got.ok()) {
        v->Add("GetClassic failed: " + got.status().ToString());
        it->got_refs[k] = j;
        break;
      }
      if (j == 0) it->got[k] = static_cast<RelClassic*>(*got);
      if (*got != it->got[k]) v->Add("GetClassic returned a second subscriber for one ops");
    }
  }
}

void CheckAndTearDown(Iteration* it) {
  Violations* const v = it->v;
  AddressSpace* const sp = it->space;
  for (int i = 0; i < kIntervals; ++i) {
    if (it->intervals[i] == nullptr) continue;  // removed by the racing thread
    sp->RemoveInterval(it->intervals[i]);
    it->interval_removed[i] = true;
    delete it->intervals[i];
    it->intervals[i] = nullptr;
  }
  const Snapshot s = sp->Inspect();
  if (s.users != 0 || !s.released || s.refs != 1 || s.pending_frees != 0 || !s.classic.empty() ||
      !s.tree.empty() || !s.deferred.empty() || s.active_invalidate_ranges != 0 ||
      s.open_invalidations != 0) {
    v->Add(absl::StrFormat(
        "iteration %d: after release and cleanup: users=%d released=%d "
        "refs=%d (want 1: ours) pending_frees=%d classic=%d tree=%d "
        "deferred=%d active=%d open=%d",
        it->index, s.users, s.released, s.refs, s.pending_frees, s.classic.size(), s.tree.size(),
        s.deferred.size(), s.active_invalidate_ranges, s.open_invalidations));
  }
  for (int i = 0; i < kIntervals; ++i) {
    const int n = it->release_invalidates[i].load();
    if (i < kKept ? n != 1 : n > 1) {
      v->Add(absl::StrFormat("iteration %d: P9: interval %d (%s) got %d RELEASE invalidates",
                             it->index, i, i < kKept ? "inserted at release" : "removed racing",
                             n));
    }
  }
  for (int i = 0; i < kRegistered; ++i) {
    if (it->registered_releases[i].load() != 1) {
      v->Add(
          absl::StrFormat("iteration %d: P9: registered subscriber %d released %d times "
                          "(want exactly once)",
                          it->index, i, it->registered_releases[i].load()));
    }
  }
  for (int k = 0; k < kGetKinds; ++k) {
    if (it->allocs[k].load() != 1 || it->frees[k].load() != 1 || it->got_releases[k].load() > 1) {
      v->Add(absl::StrFormat(
          "iteration %d: get/put kind %d: %d alloc(s), %d free(s), %d "
          "release(s) (want 1, 1, at most 1)",
          it->index, k, it->allocs[k].load(), it->frees[k].load(), it->got_releases[k].load()));
    }
  }
  sp->Drop();  // the last reference: frees the space
  it->space = nullptr;
}

TEST(StressRelease, ReleaseRacingUnregisterAndPut) {
  const uint64_t seed = TestSeed();
  Violations v;
  const long iterations = Scaled(kIterations);
  Rng setup_rng(SubSeed(seed, 0));
  Iteration* it = nullptr;
  long done = 0, by_space = 0, by_unregister = 0;
  bool stop = false;

  auto step = [&] {
    if (it != nullptr) {
      CheckAndTearDown(it);
      by_space += it->releases_by_space.load();
      by_unregister += it->releases_by_unregister.load();
      delete it;
      it = nullptr;
      ++done;
    }
    stop = Enough(done, iterations) || v.count() > 0;
    if (stop) return;
    it = new Iteration;
    it->v = &v;
    it->index = done;
    BuildIteration(it, setup_rng);
  };

  Barrier barrier(kWorkers);
  RunThreads(kWorkers, [&](int t) {
    Rng rng(SubSeed(seed, t + 1));
    for (;;) {
      barrier.ArriveAndWait(step);
      if (stop) break;
      AddressSpace* const sp = it->space;
      switch (t) {
        case 0:  // exit
          Yields(rng, 40);
          sp->PutUser();
          break;
        case 1: {                    // unregister, and remove some interval subscriptions
          std::vector<int> actions;  // >= 0: registered slot; < 0: -1 - interval
          for (int i = 0; i < kRegistered; ++i) actions.push_back(i);
          for (int i = kKept; i < kIntervals; ++i) actions.push_back(-1 - i);
          std::shuffle(actions.begin(), actions.end(), rng.gen());
          for (const int a : actions) {
            Yields(rng, 8);
            if (a >= 0) {
              sp->UnregisterClassic(it->registered[a]);
              it->unregistered[a] = true;
              delete it->registered[a];  // at once: a later callback is a use after free
              it->registered[a] = nullptr;
            } else {
              const int i = -1 - a;
              sp->RemoveInterval(it->intervals[i]);
              it->interval_removed[i] = true;
              delete it->intervals[i];
              it->intervals[i] = nullptr;
            }
          }
          break;
        }
        case 2: {  // put every reference get returned
          std::vector<int> puts;
          for (int k = 0; k < kGetKinds; ++k) puts.insert(puts.end(), it->got_refs[k], k);
          std::shuffle(puts.begin(), puts.end(), rng.gen());
          for (const int k : puts) {
            Yields(rng, 8);
            sp->PutClassic(it->got[k]);
          }
          break;
        }
        case 3: {  // invalidate while holding a user, then drop it
          for (int n = rng.Uniform(0, 12); n > 0; --n) {
            const Range r = MakeRange(RandomPages(rng), /*blockable=*/true);
            const absl::Status st = sp->InvalidateRangeStart(r);
            if (!st.ok()) {
              v.Add("blockable InvalidateRangeStart failed: " + st.ToString());
              continue;
            }
            Yields(rng, 2);
            sp->InvalidateRangeEnd(r);
          }
          sp->PutUser();
          break;
        }
      }
    }
  });

  std::printf(
      "[   info   ] %ld iterations; registered/get releases: %ld by the space's "
      "release, %ld by unregister\n",
      done, by_space, by_unregister);
  ExpectNoViolations(v, seed);
  // Not vacuous: release won some races and unregister others.
  EXPECT_GT(by_space, 0);
  EXPECT_GT(by_unregister, 0);
}

}  // namespace
}  // namespace nf::stress
