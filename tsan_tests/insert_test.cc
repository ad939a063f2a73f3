// Stress 3: InsertInterval while invalidations are open (spec §2 insert,
// read_begin), P3, P4, P7.
//
// InsertWhileOpenIsDeferredAndReadBeginWaits runs a protocol, many times with
// random ranges: one or two invalidators open a start over ranges that overlap
// a base subscription (the seq goes odd) or overlap none (the seq stays even);
// then a thread inserts Y and checks the spec's case:
//   seq odd:  Y is on the deferred list as an insert, not in the tree, and
//             Y's seq equals the global seq;
//   seq even: the insert makes the global seq odd, puts Y in the tree, and Y's
//             seq equals the new global seq.
// It then calls Y.ReadBegin(), which must wait for the epoch: each invalidator,
// just before its end, records the global seq it sees and checks that ReadBegin
// has not returned; after ReadBegin returns, every invalidator must have
// recorded (ReadBegin waited for the last end), each recorded seq equals Y's, and
// the global seq is one more. After the first of two ends the deferred insert is
// still pending; after the last it is in the tree and the list is empty.
//
// ReadBeginWaitsWhileInsertsRace runs inserts, read_begin and removes freely
// against invalidations: ReadBegin's postcondition is that the global seq differs
// from the seq it returns (the epoch it returned is over), and at each quiescent
// point the tree holds exactly the live subscriptions.
#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tsan_tests/stress.h"

namespace nf::stress {
namespace {

using harness::kTablePages;

// A subscription whose callback behaves as a driver: user lock, set_seq.
struct LockedSub : IntervalSubscription {
  std::mutex mu;
};
bool LockedInvalidate(IntervalSubscription* s, const Range& r, Seq cur_seq) {
  auto* sub = static_cast<LockedSub*>(s);
  if (!LockForRange(sub->mu, r)) return false;
  sub->SetSeq(cur_seq);
  sub->mu.unlock();
  return true;
}
constexpr IntervalOps kLockedOps = {&LockedInvalidate};

// Base subscriptions cover pages [0, kCovered); pages above are uncovered, so a
// range there leaves the seq even.
constexpr std::array<PageRange, 3> kBase = {{{0, 8}, {6, 16}, {14, 22}}};
constexpr int kCovered = 22;

bool Odd(Seq s) { return (s & 1) != 0; }

const Snapshot::Deferred* FindDeferred(const Snapshot& s, const IntervalSubscription* sub) {
  for (const Snapshot::Deferred& d : s.deferred) {
    if (d.sub == sub) return &d;
  }
  return nullptr;
}
bool InTree(const Snapshot& s, const IntervalSubscription* sub) {
  return std::any_of(s.tree.begin(), s.tree.end(),
                     [sub](const Snapshot::Interval& i) { return i.sub == sub; });
}

class StressInsert : public SpaceTest {};

TEST_F(StressInsert, InsertWhileOpenIsDeferredAndReadBeginWaits) {
  auto base_owner = std::make_unique<std::array<LockedSub, kBase.size()>>();
  std::array<LockedSub, kBase.size()>& base = *base_owner;
  for (size_t i = 0; i < base.size(); ++i) {
    ASSERT_TRUE(
        space->InsertInterval(&base[i], kBase[i].start(), kBase[i].length(), &kLockedOps).ok());
  }

  // The iteration's parameters, chosen at the quiescent point.
  struct Params {
    int invalidators = 1;
    std::array<Range, 2> ranges;
    PageRange y;
    int first_ender = 0;
    bool expect_odd = false;  // some open range overlaps a base subscription
  } params;
  // The protocol's shared state, reset at the quiescent point.
  Signal opened, ready, ended;
  std::atomic<Seq> y_seq{0};
  std::atomic<bool> read_begin_returned{false};
  std::atomic<int> ends_recorded{0};
  std::array<std::atomic<Seq>, 2> end_seq{};
  LockedSub* y = nullptr;
  std::atomic<bool> y_deferred{false};  // the odd case: Y went to the deferred list

  long odd_cases = 0;
  Rounds iterations(Scaled(300000), &v);
  Rng prng(SubSeed(seed, 0));

  auto choose = [&] {
    params.invalidators = prng.Uniform(1, 2);
    params.expect_odd = false;
    for (int i = 0; i < params.invalidators; ++i) {
      PageRange p;
      if (prng.Chance(1, 2)) {  // over the base subscriptions
        p.first = prng.Uniform(0, kCovered - 1);
        p.end = p.first + prng.Uniform(1, kTablePages - p.first);
      } else {  // over the uncovered pages only
        p.first = prng.Uniform(kCovered, kTablePages - 1);
        p.end = p.first + prng.Uniform(1, kTablePages - p.first);
      }
      params.ranges[i] = MakeRange(p, /*blockable=*/true);
      params.expect_odd = params.expect_odd || p.first < kCovered;
    }
    params.y = RandomPages(prng);
    params.first_ender = prng.Uniform(0, params.invalidators - 1);
    opened.Reset();
    ready.Reset();
    ended.Reset();
    y_seq = 0;
    read_begin_returned = false;
    ends_recorded = 0;
    end_seq[0] = 0;
    end_seq[1] = 0;
  };
  choose();
  auto at_quiescence = [&] {
    const long iteration = iterations.done();
    CheckQuiet(space, &v, absl::StrFormat("iteration %d", iteration));
    if (space->Inspect().tree.size() != base.size()) {
      v.Add(
          absl::StrFormat("iteration %d: the tree does not hold exactly the base "
                          "subscriptions",
                          iteration));
    }
    if (y_deferred) ++odd_cases;
    choose();
  };

  // Threads 0 and 1: invalidators (1 idles when params.invalidators == 1);
  // thread 2: the inserter.
  iterations.Run(3, seed, at_quiescence, [&](int t, Rng& rng) {
    const long iteration = iterations.done();
    const Params p = params;
    if (t < p.invalidators) {
      const Range& r = p.ranges[t];
      const absl::Status st = space->InvalidateRangeStart(r);
      if (!st.ok()) v.Add("blockable InvalidateRangeStart failed: " + st.ToString());
      opened.Add();
      ready.WaitFor(1);
      const bool last = p.invalidators == 1 || t != p.first_ender;
      if (last && p.invalidators == 2) ended.WaitFor(1);
      Yields(rng, 30);  // give ReadBegin time to return early, if it would
      const Snapshot before = space->Inspect();
      const Seq s = y_seq.load();
      end_seq[t] = before.invalidate_seq;
      ends_recorded.fetch_add(1);
      if (read_begin_returned.load()) {
        v.Add(
            absl::StrFormat("iteration %d: ReadBegin returned while an invalidation of its "
                            "epoch %#x was still open",
                            iteration, s));
      }
      if (before.invalidate_seq != s) {
        v.Add(absl::StrFormat("iteration %d: before end %d the global seq is %#x, Y's is %#x",
                              iteration, t, before.invalidate_seq, s));
      }
      space->InvalidateRangeEnd(r);
      const Snapshot after = space->Inspect();
      if (!last) {
        // One invalidation still open: the epoch goes on, the insert still waits.
        if (after.active_invalidate_ranges != 1 || after.invalidate_seq != s ||
            (y_deferred && !FindDeferred(after, y)) || (!y_deferred && !InTree(after, y)) ||
            read_begin_returned.load()) {
          v.Add(
              absl::StrFormat("iteration %d: after the first of two ends: active=%d "
                              "seq=%#x (want 1, %#x), Y %s, ReadBegin %s",
                              iteration, after.active_invalidate_ranges, after.invalidate_seq, s,
                              FindDeferred(after, y) ? "deferred"
                              : InTree(after, y)     ? "in the tree"
                                                     : "nowhere",
                              read_begin_returned.load() ? "returned" : "waiting"));
        }
      } else {
        // The last end: the epoch is over and the deferred insert applied.
        if (after.active_invalidate_ranges != 0 || after.invalidate_seq != s + 1 ||
            !after.deferred.empty() || !InTree(after, y)) {
          v.Add(absl::StrFormat(
              "iteration %d: after the last end: active=%d seq=%#x (want "
              "0, %#x), deferred=%d, Y %s",
              iteration, after.active_invalidate_ranges, after.invalidate_seq, s + 1,
              after.deferred.size(), InTree(after, y) ? "in the tree" : "not in the tree"));
        }
      }
      ended.Add();
    } else if (t == 2) {
      opened.WaitFor(p.invalidators);
      const Snapshot s0 = space->Inspect();
      if (Odd(s0.invalidate_seq) != p.expect_odd || s0.active_invalidate_ranges != p.invalidators) {
        v.Add(absl::StrFormat(
            "iteration %d: with %d open start(s) %s a subscription the "
            "seq is %#x, active=%d",
            iteration, p.invalidators, p.expect_odd ? "overlapping" : "overlapping no",
            s0.invalidate_seq, s0.active_invalidate_ranges));
      }
      y = new LockedSub;
      const absl::Status st = space->InsertInterval(y, p.y.start(), p.y.length(), &kLockedOps);
      if (!st.ok()) v.Add("InsertInterval failed: " + st.ToString());
      const Snapshot s1 = space->Inspect();
      const Seq ys = y->seq_for_testing();
      y_deferred = Odd(s0.invalidate_seq);
      if (Odd(s0.invalidate_seq)) {
        const Snapshot::Deferred* d = FindDeferred(s1, y);
        if (d == nullptr || !d->insert || InTree(s1, y) || ys != s0.invalidate_seq ||
            s1.invalidate_seq != s0.invalidate_seq) {
          v.Add(
              absl::StrFormat("iteration %d: insert during odd epoch %#x: Y %s, Y seq %#x, "
                              "global %#x (want a deferred insert, both %#x)",
                              iteration, s0.invalidate_seq,
                              d               ? (d->insert ? "deferred insert" : "deferred remove")
                              : InTree(s1, y) ? "in the tree"
                                              : "nowhere",
                              ys, s1.invalidate_seq, s0.invalidate_seq));
        }
      } else {
        const Seq want = s0.invalidate_seq | 1;
        if (!InTree(s1, y) || FindDeferred(s1, y) || s1.invalidate_seq != want || ys != want) {
          v.Add(absl::StrFormat(
              "iteration %d: insert during even epoch %#x: Y %s, Y seq "
              "%#x, global %#x (want in the tree, both %#x)",
              iteration, s0.invalidate_seq, InTree(s1, y) ? "in the tree" : "not in the tree", ys,
              s1.invalidate_seq, want));
        }
      }
      y_seq = ys;
      ready.Add();
      const Seq got = y->ReadBegin();
      read_begin_returned = true;
      const int recorded = ends_recorded.load();
      const Seq global = space->Inspect().invalidate_seq;
      if (recorded != p.invalidators) {
        v.Add(
            absl::StrFormat("iteration %d: ReadBegin returned after %d of %d invalidators "
                            "reached their end",
                            iteration, recorded, p.invalidators));
      }
      for (int i = 0; i < p.invalidators && recorded == p.invalidators; ++i) {
        if (end_seq[i].load() != ys) {
          v.Add(
              absl::StrFormat("iteration %d: invalidator %d ended in epoch %#x, Y's seq is "
                              "%#x",
                              iteration, i, end_seq[i].load(), ys));
        }
      }
      if (got != ys || global != ys + 1) {
        v.Add(
            absl::StrFormat("iteration %d: ReadBegin returned %#x (want %#x) with the global "
                            "seq at %#x (want %#x)",
                            iteration, got, ys, global, ys + 1));
      }
      ended.WaitFor(p.invalidators);  // the invalidators' checks of Y are done
      space->RemoveInterval(y);
      delete y;
      y = nullptr;
    }
  });

  const long iteration = iterations.done();
  std::printf("[   info   ] %ld iterations, %ld with the insert deferred (odd epoch)\n", iteration,
              odd_cases);
  CheckQuiet(space, &v, "end");
  // Not vacuous: both cases of the spec ran.
  EXPECT_GT(odd_cases, 0);
  EXPECT_LT(odd_cases, iteration);
  if (!ExpectNoViolations(v, seed)) return Leak(std::move(base_owner));
  for (LockedSub& b : base) space->RemoveInterval(&b);
  space->PutUser();
}

TEST_F(StressInsert, ReadBeginWaitsWhileInsertsRace) {
  constexpr int kInvalidators = 2, kInserters = 2, kOpsPerRound = 30, kMaxLive = 3;
  std::array<std::vector<LockedSub*>, kInserters> live;
  std::atomic<long> read_begins{0}, inserts_while_invalidating{0};
  std::atomic<int> open{0};
  Rounds rounds(Scaled(45000), &v);
  auto at_quiescence = [&] {
    const std::string where = absl::StrFormat("round %d", rounds.done());
    CheckQuiet(space, &v, where);
    CheckTreeHoldsLive(space, live, &v, where);
  };

  rounds.Run(kInvalidators + kInserters, seed, at_quiescence, [&](int t, Rng& rng) {
    for (int op = 0; op < kOpsPerRound; ++op) {
      if (t < kInvalidators) {
        const Range r = MakeRange(RandomPages(rng), /*blockable=*/rng.Chance(3, 4));
        const absl::Status st = space->InvalidateRangeStart(r);
        if (!st.ok()) {
          if (r.blockable || !absl::IsUnavailable(st)) {
            v.Add("InvalidateRangeStart failed: " + st.ToString());
          }
          continue;
        }
        open.fetch_add(1);
        Yields(rng, 4);
        open.fetch_sub(1);
        space->InvalidateRangeEnd(r);
        continue;
      }
      std::vector<LockedSub*>& mine = live[t - kInvalidators];
      if (mine.size() < kMaxLive && (mine.empty() || rng.Chance(1, 2))) {
        auto* sub = new LockedSub;
        if (open.load() > 0) inserts_while_invalidating.fetch_add(1);
        if (!InsertAtRandom(space, sub, rng, &kLockedOps, &v)) continue;
        mine.push_back(sub);
      }
      // read_begin on a live subscription, often the one just inserted.
      LockedSub* sub = rng.Chance(1, 2) ? mine.back() : mine[rng.Uniform(0, int(mine.size()) - 1)];
      const Seq seq = sub->ReadBegin();
      read_begins.fetch_add(1, std::memory_order_relaxed);
      const Seq global = space->Inspect().invalidate_seq;
      if (!Odd(seq) || global == seq) {
        v.Add(absl::StrFormat("ReadBegin returned %#x with the global seq at %#x: %s", seq, global,
                              Odd(seq) ? "its epoch is still open" : "even (P2)"));
      }
      if (rng.Chance(1, 3)) {
        const int i = rng.Uniform(0, int(mine.size()) - 1);
        LockedSub* gone = mine[i];
        mine.erase(mine.begin() + i);
        space->RemoveInterval(gone);
        delete gone;
      }
    }
  });

  std::printf("[   info   ] %ld rounds: %ld read_begin, %ld inserts while invalidating\n",
              rounds.done(), read_begins.load(), inserts_while_invalidating.load());
  CheckQuiet(space, &v, "end");
  EXPECT_GT(inserts_while_invalidating.load(), 0);
  if (!ExpectNoViolations(v, seed)) return;
  for (auto& l : live) {
    for (LockedSub* sub : l) {
      space->RemoveInterval(sub);
      delete sub;
    }
  }
  space->PutUser();
}

}  // namespace
}  // namespace nf::stress
