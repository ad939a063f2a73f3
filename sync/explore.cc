// sync/explore.cc: the bounded systematic explorer (explore.h).
#include "sync/explore.h"

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "sync/scheduler.h"

namespace nf::sched {
namespace {

// SplitMix64's finalizer: a good 64-bit mix.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
uint64_t Mix(uint64_t a, uint64_t b) { return Mix(a * 0x9e3779b97f4a7c15ULL + Mix(b)); }

// The index of thread t among the set bits of `runnable` (its choice byte).
int IndexOf(uint32_t runnable, int t) {
  return std::popcount(runnable & ((1u << t) - 1));
}
// The thread the scheduler runs at a decision when the bytes have run out.
int DefaultChoice(int current, uint32_t runnable) {
  if (current >= 0 && (runnable >> current & 1) != 0) return current;
  return std::countr_zero(runnable);
}
// True if running `t` at this decision is a preemption.
bool Preempts(int current, uint32_t runnable, int t) {
  return current >= 0 && (runnable >> current & 1) != 0 && t != current;
}

class Explorer final : public RunObserver {
 public:
  explicit Explorer(const ExploreOptions& options) : options_(options) {}

  ExploreResult Run(const RunOnce& run);

  void OnRunStart() override {
    nodes_.clear();
    spent_ = 0;
    covered_ = false;
    mismatch_.clear();
    path_hash_ = 0;
    running_ = -1;
    for (uint32_t& c : steps_) c = 0;
    objects_.clear();
    object_sum_ = 0;
    new_in_step_ = 0;
  }

  void OnDecision(int current, uint32_t runnable, int chosen) override {
    if (std::popcount(runnable) >= 2) ChoicePoint(current, runnable, chosen);
    // A flush of the weak-memory mode (chosen >= kMaxThreads): `current`
    // decides again; no step begins.
    if (chosen >= kMaxThreads) return;
    // A new step of `chosen` begins.
    running_ = chosen;
    ++steps_[chosen];
    new_in_step_ = 0;
  }

  void OnObject(const void* object) override {
    if (running_ < 0) return;
    const uint64_t step = StepId();
    auto [it, inserted] = objects_.try_emplace(object);
    Object& o = it->second;
    if (inserted) {
      // Named by the step that first touched it: the same in every run of the
      // same trace, whatever the address.
      o.id = Mix(step, ++new_in_step_);
      o.hash = 0;
    } else if (o.last_step == step) {
      return;  // a step counts once per object
    } else {
      object_sum_ -= Mix(o.id, o.hash);
    }
    o.hash = Mix(o.hash, step);
    o.last_step = step;
    object_sum_ += Mix(o.id, o.hash);
  }

 private:
  // A choice point of the current run.
  struct Node {
    int current = -1;
    uint32_t runnable = 0;
    int chosen = 0;
    int spent = 0;          // preemptions before this decision
    uint64_t where = 0;     // hash of the choice points before it and its own
                            // current and runnable set (replay check)
    bool covered = false;   // the reduction found it explored: no alternatives
  };
  // A schedule to run: the choice bytes of an earlier run up to choice point
  // `at`, then `choice` there (the defaults after it).
  struct Item {
    std::shared_ptr<const std::vector<uint8_t>> bytes;  // strategy byte, then choices
    uint32_t at = 0;
    uint8_t choice = 0;
    uint64_t where = 0;  // what choice point `at` must look like
  };
  struct Object {
    uint64_t id = 0;
    uint64_t hash = 0;
    uint64_t last_step = ~uint64_t{0};
  };

  uint64_t StepId() const {
    return (static_cast<uint64_t>(running_) << 32) | steps_[running_];
  }

  // The trace so far: every object's sequence of steps, and each thread's step
  // count.
  uint64_t Fingerprint() const {
    uint64_t h = object_sum_;
    for (int t = 0; t < kMaxThreads; ++t) h = Mix(h, steps_[t]);
    return h;
  }

  void ChoicePoint(int current, uint32_t runnable, int chosen) {
    Node n;
    n.current = current;
    n.runnable = runnable;
    n.chosen = chosen;
    n.spent = spent_;
    n.where = Mix(Mix(path_hash_, static_cast<uint64_t>(current + 1)), runnable);
    path_hash_ = Mix(n.where, static_cast<uint64_t>(chosen));
    spent_ += Preempts(current, runnable, chosen) ? 1 : 0;
    const size_t i = nodes_.size();
    if (i < item_.at) {
      // Replayed from the bytes; checked at item_.at.
    } else if (i == item_.at && has_item_) {
      if (n.where != item_.where && mismatch_.empty()) {
        mismatch_ = absl::StrCat("choice point ", i, " did not replay (now t", current,
                                 " running, runnable set 0x", absl::Hex(runnable), ")");
      }
    } else if (options_.reduction && !covered_) {
      const uint64_t key =
          Mix(Mix(Fingerprint(), static_cast<uint64_t>(current + 1)), runnable);
      auto [it, inserted] = visited_.try_emplace(key, n.spent);
      if (!inserted) {
        if (it->second <= n.spent) {
          covered_ = true;
          ++stats_.pruned;
        } else {
          it->second = n.spent;
        }
      }
    }
    n.covered = covered_;
    nodes_.push_back(n);
  }

  // Queues the alternatives of the choice points after the prefix of the run
  // just made (item_.at, or all of them for the first run).
  void Expand() {
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    bytes->reserve(nodes_.size() + 1);
    bytes->push_back(0);
    for (const Node& n : nodes_) {
      bytes->push_back(static_cast<uint8_t>(IndexOf(n.runnable, n.chosen)));
    }
    const size_t first = has_item_ ? item_.at + 1 : 0;
    for (size_t i = first; i < nodes_.size(); ++i) {
      const Node& n = nodes_[i];
      if (n.covered) break;  // and every later one
      for (uint32_t m = n.runnable; m != 0; m &= m - 1) {
        const int t = std::countr_zero(m);
        if (t == n.chosen) continue;
        const int level = n.spent + (Preempts(n.current, n.runnable, t) ? 1 : 0);
        if (level > options_.preemptions) continue;
        // More pending than runs left: the bound of schedules comes first, and
        // the deepest level would run last, so an item of it is the one
        // dropped (its schedules are never run: not a pass).
        if (pending_ + stats_.schedules >= options_.max_schedules) {
          dropped_ = true;
          int deepest = options_.preemptions;
          while (deepest > level && queues_[deepest].empty()) --deepest;
          if (deepest <= level) continue;  // the new item is the deepest
          queues_[deepest].pop_back();
          --pending_;
        }
        ++pending_;
        queues_[level].push_back(Item{bytes, static_cast<uint32_t>(i),
                                      static_cast<uint8_t>(IndexOf(n.runnable, t)), n.where});
      }
    }
  }

  // The schedule bytes of the run just made, up to its last choice that is
  // not the default.
  std::vector<uint8_t> TrimmedBytes() const {
    size_t last = 0;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].chosen != DefaultChoice(nodes_[i].current, nodes_[i].runnable)) last = i + 1;
    }
    std::vector<uint8_t> bytes{0};
    for (size_t i = 0; i < last; ++i) {
      bytes.push_back(static_cast<uint8_t>(IndexOf(nodes_[i].runnable, nodes_[i].chosen)));
    }
    return bytes;
  }

  const ExploreOptions options_;
  ExploreStats stats_;
  // Schedules to run, by the preemptions they spend: every schedule of level
  // l runs before any of level l + 1, so a choice point is first reached with
  // the fewest preemptions it can be reached with, and every later arrival
  // is covered by the first (the reduction's condition).
  std::vector<std::vector<Item>> queues_;
  uint64_t pending_ = 0;  // items in queues_
  bool dropped_ = false;  // an item was dropped (beyond max_schedules)
  absl::flat_hash_map<uint64_t, int> visited_;  // choice point key -> least spent
  absl::flat_hash_set<uint64_t> terminals_;

  // The current run.
  Item item_;
  bool has_item_ = false;  // false for the first run (no prefix)
  std::vector<Node> nodes_;
  int spent_ = 0;
  bool covered_ = false;
  std::string mismatch_;
  uint64_t path_hash_ = 0;
  int running_ = -1;
  uint32_t steps_[kMaxThreads] = {};
  absl::flat_hash_map<const void*, Object> objects_;
  uint64_t object_sum_ = 0;
  uint64_t new_in_step_ = 0;
};

ExploreResult Explorer::Run(const RunOnce& run) {
  ExploreResult result;
  ScopedRunObserver observe(this);
  queues_.assign(static_cast<size_t>(options_.preemptions) + 1, {});
  int level = 0;
  has_item_ = false;
  for (;;) {
    std::vector<uint8_t> bytes{0};
    if (has_item_) {
      bytes.assign(item_.bytes->begin(), item_.bytes->begin() + 1 + item_.at);
      bytes.push_back(item_.choice);
    }
    const std::string failure = run(bytes);
    ++stats_.schedules;
    if (nodes_.size() > stats_.max_choice_points) stats_.max_choice_points = nodes_.size();
    if (mismatch_.empty() && has_item_ && nodes_.size() <= item_.at) {
      mismatch_ = absl::StrCat("the run ended after ", nodes_.size(),
                               " choice points, before its prefix of ", item_.at + 1);
    }
    if (!mismatch_.empty()) {
      result.verdict = ExploreResult::Verdict::kError;
      result.error = mismatch_;
      break;
    }
    terminals_.insert(Mix(Fingerprint(), failure.empty() ? 0 : 1));
    stats_.terminal_states = terminals_.size();
    if (options_.progress && stats_.schedules % options_.progress_every == 0) {
      options_.progress(stats_);
    }
    if (!failure.empty()) {
      result.verdict = ExploreResult::Verdict::kFailed;
      result.failure = failure;
      result.failing_schedule = TrimmedBytes();
      result.failing_preemptions = spent_;
      break;
    }
    Expand();
    while (level <= options_.preemptions && queues_[level].empty()) ++level;
    if (level > options_.preemptions) {
      result.verdict = dropped_ ? ExploreResult::Verdict::kBoundReached
                                : ExploreResult::Verdict::kAllPassed;
      break;
    }
    if (stats_.schedules >= options_.max_schedules) {
      result.verdict = ExploreResult::Verdict::kBoundReached;
      break;
    }
    // Depth first within a level: the newest item.
    item_ = std::move(queues_[level].back());
    queues_[level].pop_back();
    --pending_;
    has_item_ = true;
  }
  result.stats = stats_;
  return result;
}

}  // namespace

ExploreResult Explore(const RunOnce& run, const ExploreOptions& options) {
  Explorer explorer(options);
  return explorer.Run(run);
}

}  // namespace nf::sched
