// Stress 5: nested and parallel invalidations (spec §3), P1, P2, P3, P7.
//
// Invalidating threads each open up to three nested starts over random,
// overlapping ranges, then end them innermost first; all threads run at once. A
// reader thread runs ReadBegin on the subscriptions throughout.
//
// Inside every interval callback (which holds no core lock, so Inspect() may take
// them): cur_seq is odd and equals the global seq, and the subscription is in the
// tree and overlaps the range (P3). After each start, on the starting thread: the
// walk called exactly the subscriptions that overlap the range, each once, all
// with one cur_seq (P3); and once a thread's open starts include an odd epoch,
// the global seq stays at that epoch until the thread ends them all (nested walks
// see the same cur_seq; no end but the last may close an epoch). ReadBegin
// returns a seq whose epoch is over (the global seq differs from it), and always
// returns (P7). At every quiescent point and at the end: active == 0, the seq
// even, no deferred work, every subscription's seq odd (P1, P2).
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

constexpr int kInvalidators = 3;
constexpr int kMaxDepth = 3;
constexpr int kRounds = 20000;
constexpr int kOpsPerRound = 10;
constexpr std::array<PageRange, 6> kSubPages = {
    {{0, 6}, {4, 12}, {10, 18}, {16, 24}, {22, kTablePages}, {8, 28}}};
constexpr int kSubs = kSubPages.size();

struct NestSub : IntervalSubscription {
  int id = 0;
  AddressSpace* space = nullptr;
  Violations* v = nullptr;
  std::mutex mu;  // the driver's user lock
};

// The calls of the walk running on this thread: (subscription, cur_seq).
thread_local std::vector<std::pair<int, Seq>>* tl_walk = nullptr;

bool NestInvalidate(IntervalSubscription* s, const Range& r, Seq cur_seq) {
  auto* sub = static_cast<NestSub*>(s);
  const Snapshot snap = sub->space->Inspect();
  if ((cur_seq & 1) == 0 || snap.invalidate_seq != cur_seq) {
    sub->v->Add(
        absl::StrFormat("P3: callback on subscription %d with cur_seq %#x while the "
                        "global seq is %#x",
                        sub->id, cur_seq, snap.invalidate_seq));
  }
  const bool in_tree = std::any_of(snap.tree.begin(), snap.tree.end(),
                                   [s](const Snapshot::Interval& i) { return i.sub == s; });
  if (!in_tree || !Overlaps(r, sub->start(), sub->last())) {
    sub->v->Add(
        absl::StrFormat("P3: callback on subscription %d (%s the tree) for range "
                        "[%#x,%#x), which it %s",
                        sub->id, in_tree ? "in" : "not in", r.start, r.end,
                        Overlaps(r, sub->start(), sub->last()) ? "overlaps" : "does not overlap"));
  }
  if (tl_walk != nullptr) tl_walk->emplace_back(sub->id, cur_seq);
  std::lock_guard<std::mutex> l(sub->mu);
  sub->SetSeq(cur_seq);
  return true;
}
constexpr IntervalOps kNestOps = {&NestInvalidate};

class StressNested : public SpaceTest {};

TEST_F(StressNested, NestedParallelInvalidationsKeepTheSeqProtocol) {
  auto subs_owner = std::make_unique<std::array<NestSub, kSubs>>();
  std::array<NestSub, kSubs>& subs = *subs_owner;
  for (int i = 0; i < kSubs; ++i) {
    subs[i].id = i;
    subs[i].space = space;
    subs[i].v = &v;
    ASSERT_TRUE(
        space->InsertInterval(&subs[i], kSubPages[i].start(), kSubPages[i].length(), &kNestOps)
            .ok());
  }

  std::atomic<long> starts{0}, nested_starts{0}, callbacks{0}, read_begins{0};
  Rounds rounds(Scaled(kRounds), &v);
  auto at_quiescence = [&] { CheckQuiet(space, &v, absl::StrFormat("round %d", rounds.done())); };
  rounds.Run(kInvalidators + 1, seed, at_quiescence, [&](int t, Rng& rng) {
    if (t == kInvalidators) {  // the reader
      for (int op = 0; op < kOpsPerRound * kMaxDepth; ++op) {
        NestSub& sub = subs[rng.Uniform(0, kSubs - 1)];
        const Seq seq = sub.ReadBegin();
        read_begins.fetch_add(1, std::memory_order_relaxed);
        const Seq global = space->Inspect().invalidate_seq;
        if ((seq & 1) == 0 || seq == global) {
          v.Add(
              absl::StrFormat("ReadBegin on subscription %d returned %#x with the global seq "
                              "at %#x (want odd, and an epoch that is over)",
                              sub.id, seq, global));
        }
        Yields(rng, 2);
      }
    } else {
      std::vector<std::pair<int, Seq>> calls;
      for (int op = 0; op < kOpsPerRound; ++op) {
        std::vector<Range> open;
        Seq held = 0;  // the odd epoch this thread's open starts keep alive, once known
        const int depth = rng.Uniform(1, kMaxDepth);
        for (int level = 0; level < depth; ++level) {
          const Range r = MakeRange(RandomPages(rng), /*blockable=*/true);
          calls.clear();
          tl_walk = &calls;
          const absl::Status st = space->InvalidateRangeStart(r);
          tl_walk = nullptr;
          if (!st.ok()) {
            v.Add("blockable InvalidateRangeStart failed: " + st.ToString());
            continue;
          }
          open.push_back(r);
          starts.fetch_add(1, std::memory_order_relaxed);
          if (level > 0) nested_starts.fetch_add(1, std::memory_order_relaxed);
          callbacks.fetch_add(calls.size(), std::memory_order_relaxed);
          // Exactly the overlapping subscriptions, each once, one cur_seq.
          std::vector<int> want, got;
          for (int i = 0; i < kSubs; ++i) {
            if (Overlaps(r, subs[i].start(), subs[i].last())) want.push_back(i);
          }
          for (const auto& c : calls) got.push_back(c.first);
          std::sort(got.begin(), got.end());
          if (got != want) {
            v.Add(
                absl::StrFormat("P3: a walk over [%#x,%#x) called %d subscription(s), %d "
                                "overlap it (or not the same ones, or one twice)",
                                r.start, r.end, got.size(), want.size()));
          }
          for (const auto& c : calls) {
            if (c.second != calls.front().second) {
              v.Add(absl::StrFormat("P3: one walk called with cur_seq %#x and %#x",
                                    calls.front().second, c.second));
            }
          }
          if (!calls.empty()) {
            if (held != 0 && calls.front().second != held) {
              v.Add(
                  absl::StrFormat("P3: a nested walk got cur_seq %#x while this thread "
                                  "holds epoch %#x open",
                                  calls.front().second, held));
            }
            held = calls.front().second;
          }
          const Snapshot snap = space->Inspect();
          if (held != 0 && snap.invalidate_seq != held) {
            v.Add(
                absl::StrFormat("this thread holds %d start(s) of epoch %#x open, but the "
                                "global seq is %#x",
                                open.size(), held, snap.invalidate_seq));
          } else if (held == 0 && (snap.invalidate_seq & 1) != 0) {
            held = snap.invalidate_seq;  // another thread's epoch, kept alive by ours
          }
          if (snap.active_invalidate_ranges < long(open.size())) {
            v.Add(absl::StrFormat("this thread holds %d start(s) open, active is %d", open.size(),
                                  snap.active_invalidate_ranges));
          }
          Yields(rng, 2);
        }
        while (!open.empty()) {
          space->InvalidateRangeEnd(open.back());
          open.pop_back();
          if (!open.empty() && held != 0) {
            const Seq global = space->Inspect().invalidate_seq;
            if (global != held) {
              v.Add(
                  absl::StrFormat("an end that was not the last closed epoch %#x (the "
                                  "global seq is %#x with %d start(s) of it still open)",
                                  held, global, open.size()));
            }
          }
          Yields(rng, 2);
        }
      }
    }
  });

  std::printf(
      "[   info   ] %ld rounds: %ld starts (%ld nested), %ld callbacks, %ld "
      "read_begin\n",
      rounds.done(), starts.load(), nested_starts.load(), callbacks.load(), read_begins.load());
  CheckQuiet(space, &v, "end");
  EXPECT_GT(nested_starts.load(), 0);
  EXPECT_GT(callbacks.load(), 0);
  if (!ExpectNoViolations(v, seed)) return Leak(std::move(subs_owner));
  for (NestSub& s : subs) space->RemoveInterval(&s);
  space->PutUser();
}

}  // namespace
}  // namespace nf::stress
