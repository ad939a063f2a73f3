// Stress 2: RemoveInterval during invalidations, P5 and P4.
//
// Invalidating threads run start/end over random ranges, blockable and not, and
// keep their epochs open a little; insert/remove threads insert heap-allocated
// subscriptions and remove them, deleting each one right after RemoveInterval
// returns. The invalidate callback takes the subscription's own lock and writes
// into the subscription, so a core that calls it after remove (or touches it while
// draining the deferred list) is a use after free under ASan and a race with the
// delete under TSan. Independently of the sanitizers, every subscription has a
// generation number, and a side table marks a generation once RemoveInterval has
// returned for it: a callback that finds its generation marked is a P5 violation.
//
// At each quiescent point the tree holds exactly the subscriptions inserted and
// not removed (P4), and the space is idle (P1, P2).
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tsan_tests/stress.h"

namespace nf::stress {
namespace {

constexpr int kInvalidators = 2;
constexpr int kRemovers = 3;
constexpr int kRounds = 45000;
constexpr int kOpsPerRound = 30;
constexpr int kMaxLivePerThread = 4;

struct RemoveWorld;

// A driver's subscription: a lock and fields the callback writes.
struct GenSub : IntervalSubscription {
  GenSub(RemoveWorld* w, uint64_t g) : world(w), gen(g) {}
  RemoveWorld* const world;
  const uint64_t gen;
  std::mutex mu;         // the driver's user lock
  long calls = 0;        // guarded by mu
  Seq last_cur_seq = 0;  // guarded by mu
};

struct RemoveWorld {
  RemoveWorld(Violations* v, uint64_t generations)
      : v(v), removed(new std::atomic<uint8_t>[generations]()) {}
  Violations* const v;
  // removed[gen] != 0 once RemoveInterval returned for the subscription `gen`.
  const std::unique_ptr<std::atomic<uint8_t>[]> removed;
  std::atomic<long> callbacks{0};
  std::atomic<int> open_invalidations{0};  // successful starts not yet ended
  std::atomic<long> removes_while_invalidating{0};

  void CheckNotRemoved(uint64_t gen, const char* when) {
    if (removed[gen].load(std::memory_order_acquire) != 0) {
      v->Add(
          absl::StrFormat("P5: invalidate callback (%s) on subscription generation %d after "
                          "its RemoveInterval returned",
                          when, gen));
    }
  }
};

bool GenInvalidate(IntervalSubscription* s, const Range& r, Seq cur_seq) {
  auto* sub = static_cast<GenSub*>(s);
  RemoveWorld* const w = sub->world;  // reads the subscription: freed memory after remove
  const uint64_t gen = sub->gen;
  w->CheckNotRemoved(gen, "entry");
  if (!LockForRange(sub->mu, r)) return false;
  sub->SetSeq(cur_seq);
  ++sub->calls;
  sub->last_cur_seq = cur_seq;
  sub->mu.unlock();
  w->CheckNotRemoved(gen, "exit");
  w->callbacks.fetch_add(1, std::memory_order_relaxed);
  return true;
}
constexpr IntervalOps kGenOps = {&GenInvalidate};

class StressRemove : public SpaceTest {};

TEST_F(StressRemove, NoCallbackAfterRemoveReturns) {
  const long planned = Scaled(kRounds);
  // Each remover thread inserts at most once per op.
  const uint64_t per_thread = uint64_t(planned) * kOpsPerRound;
  RemoveWorld world(&v, per_thread * kRemovers);

  // Each owned by its thread: the subscriptions it inserted and has not removed,
  // and the generation of its next one.
  std::array<std::vector<GenSub*>, kRemovers> live;
  std::array<uint64_t, kRemovers> next_gens;
  for (int me = 0; me < kRemovers; ++me) next_gens[me] = per_thread * me;
  std::atomic<long> inserts{0}, eagain{0};

  Rounds rounds(planned, &v);
  auto at_quiescence = [&] {
    const std::string where = absl::StrFormat("round %d", rounds.done());
    CheckQuiet(space, &v, where);
    CheckTreeHoldsLive(space, live, &v, where);
  };

  rounds.Run(kInvalidators + kRemovers, seed, at_quiescence, [&](int t, Rng& rng) {
    if (t < kInvalidators) {
      for (int op = 0; op < kOpsPerRound; ++op) {
        const Range r = MakeRange(RandomPages(rng), /*blockable=*/rng.Chance(4, 5));
        const absl::Status st = space->InvalidateRangeStart(r);
        if (!st.ok()) {
          if (r.blockable || !absl::IsUnavailable(st)) {
            v.Add("InvalidateRangeStart failed: " + st.ToString());
          }
          eagain.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        world.open_invalidations.fetch_add(1);
        Yields(rng, 4);  // keep the epoch open: removes get deferred
        world.open_invalidations.fetch_sub(1);
        space->InvalidateRangeEnd(r);
      }
      return;
    }
    const int me = t - kInvalidators;
    std::vector<GenSub*>& mine = live[me];
    uint64_t& next_gen = next_gens[me];
    for (int op = 0; op < kOpsPerRound; ++op) {
      if (mine.size() < kMaxLivePerThread && (mine.empty() || rng.Chance(1, 2))) {
        auto* sub = new GenSub(&world, next_gen++);
        if (!InsertAtRandom(space, sub, rng, &kGenOps, &v)) continue;
        mine.push_back(sub);
        inserts.fetch_add(1, std::memory_order_relaxed);
      } else {
        const int i = rng.Uniform(0, int(mine.size()) - 1);
        GenSub* sub = mine[i];
        mine.erase(mine.begin() + i);
        if (world.open_invalidations.load() > 0) {
          world.removes_while_invalidating.fetch_add(1, std::memory_order_relaxed);
        }
        space->RemoveInterval(sub);
        world.removed[sub->gen].store(1, std::memory_order_release);
        delete sub;  // at once: a later callback on it is a use after free
      }
      Yields(rng, 1);
    }
  });

  std::printf(
      "[   info   ] %ld rounds: %ld inserts, %ld removes while invalidating, %ld "
      "callbacks, %ld EAGAIN\n",
      rounds.done(), inserts.load(), world.removes_while_invalidating.load(),
      world.callbacks.load(), eagain.load());
  CheckQuiet(space, &v, "end");
  // Not vacuous: callbacks ran, and removes raced open invalidations.
  EXPECT_GT(world.callbacks.load(), 0);
  EXPECT_GT(world.removes_while_invalidating.load(), 0);
  if (!ExpectNoViolations(v, seed)) return;
  for (auto& l : live) {
    for (GenSub* sub : l) {
      space->RemoveInterval(sub);
      delete sub;
    }
  }
  const Snapshot snap = space->Inspect();
  EXPECT_TRUE(snap.tree.empty());
  EXPECT_EQ(snap.refs, 1) << "every removed subscription dropped its reference";
  space->PutUser();
}

}  // namespace
}  // namespace nf::stress
