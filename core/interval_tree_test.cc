// core/interval_tree_test.cc: unit and differential tests of IntervalTree.
//
// The randomized tests print their seed; set NF_SEED=<n> to replay one.

#include "core/interval_tree.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace nf::internal {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// Gives n the interval [start, last] and inserts it into t.
void InsertAt(IntervalTree& t, IntervalNode* n, uint64_t start, uint64_t last) {
  n->start = start;
  n->last = last;
  t.Insert(n);
}

bool Overlaps(const IntervalNode& n, uint64_t start, uint64_t last) {
  return n.start <= last && start <= n.last;
}

std::vector<IntervalNode*> InOrder(const IntervalTree& t) {
  std::vector<IntervalNode*> out;
  for (IntervalNode* n = t.First(); n != nullptr; n = IntervalTree::Next(n)) {
    out.push_back(n);
    if (out.size() > t.size()) break;  // a broken tree must not loop forever
  }
  return out;
}

std::vector<IntervalNode*> OverlapWalk(const IntervalTree& t, uint64_t start,
                                       uint64_t last) {
  std::vector<IntervalNode*> out;
  for (IntervalNode* n = t.FirstOverlap(start, last); n != nullptr;
       n = IntervalTree::NextOverlap(n, start, last)) {
    out.push_back(n);
    if (out.size() > t.size()) break;
  }
  return out;
}

// The overlap walk must be exactly the in-order sequence filtered by overlap:
// right set, ascending start, and ties in the same (stable) order.
void ExpectOverlapWalk(const IntervalTree& t, uint64_t start, uint64_t last) {
  std::vector<IntervalNode*> want;
  if (start <= last) {
    for (IntervalNode* n : InOrder(t)) {
      if (Overlaps(*n, start, last)) want.push_back(n);
    }
  }
  EXPECT_EQ(OverlapWalk(t, start, last), want)
      << "query [" << start << ", " << last << "]";
}

void ExpectValid(const IntervalTree& t) {
  std::string why;
  EXPECT_TRUE(t.CheckInvariants(&why)) << why;
}

// The red-black bound: height <= 2 * log2(n + 1).
void ExpectBalanced(const IntervalTree& t) {
  const double bound = 2.0 * std::log2(static_cast<double>(t.size()) + 1.0);
  EXPECT_LE(t.HeightForTesting(), bound) << "size " << t.size();
}

uint64_t SeedFromEnv(uint64_t fallback) {
  const char* env = std::getenv("NF_SEED");
  uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 0) : fallback;
  std::printf("%s: NF_SEED=%llu (set NF_SEED to replay)\n",
              ::testing::UnitTest::GetInstance()->current_test_info()->name(),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  return seed;
}

TEST(IntervalTreeTest, EmptyTree) {
  IntervalTree t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.First(), nullptr);
  EXPECT_EQ(t.FirstOverlap(0, kMax), nullptr);
  EXPECT_EQ(t.FirstOverlap(0, 0), nullptr);
  EXPECT_EQ(t.FirstOverlap(kMax, kMax), nullptr);
  EXPECT_EQ(t.HeightForTesting(), 0);
  ExpectValid(t);
}

TEST(IntervalTreeTest, SingleNode) {
  IntervalTree t;
  IntervalNode n;
  InsertAt(t, &n, 10, 20);
  EXPECT_TRUE(n.in_tree);
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.First(), &n);
  EXPECT_EQ(IntervalTree::Next(&n), nullptr);
  EXPECT_EQ(n.subtree_last, 20u);
  ExpectValid(t);

  EXPECT_EQ(t.FirstOverlap(0, 9), nullptr);
  EXPECT_EQ(t.FirstOverlap(21, 30), nullptr);
  EXPECT_EQ(t.FirstOverlap(0, 10), &n);
  EXPECT_EQ(t.FirstOverlap(20, 30), &n);
  EXPECT_EQ(t.FirstOverlap(15, 15), &n);
  EXPECT_EQ(t.FirstOverlap(12, 18), &n);  // query inside the node
  EXPECT_EQ(t.FirstOverlap(0, kMax), &n);
  EXPECT_EQ(IntervalTree::NextOverlap(&n, 0, kMax), nullptr);

  t.Remove(&n);
  EXPECT_FALSE(n.in_tree);
  EXPECT_EQ(n.parent, nullptr);
  EXPECT_EQ(n.left, nullptr);
  EXPECT_EQ(n.right, nullptr);
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.FirstOverlap(0, kMax), nullptr);
  ExpectValid(t);

  // A removed node can be inserted again, with another interval.
  InsertAt(t, &n, 30, 30);
  EXPECT_EQ(t.FirstOverlap(30, 30), &n);
  EXPECT_EQ(t.FirstOverlap(10, 20), nullptr);
  ExpectValid(t);
  t.Remove(&n);
}

TEST(IntervalTreeTest, EmptyQueryOverlapsNothing) {
  IntervalTree t;
  IntervalNode n;
  InsertAt(t, &n, 0, 100);
  EXPECT_EQ(t.FirstOverlap(50, 49), nullptr);
  EXPECT_EQ(t.FirstOverlap(kMax, 0), nullptr);
  t.Remove(&n);
}

TEST(IntervalTreeTest, TouchingEndsOverlap) {
  IntervalTree t;
  IntervalNode a, b;
  InsertAt(t, &a, 100, 200);
  InsertAt(t, &b, 201, 300);  // adjacent to a, not overlapping it
  ExpectValid(t);

  EXPECT_EQ(OverlapWalk(t, 200, 250), (std::vector<IntervalNode*>{&a, &b}));
  EXPECT_EQ(OverlapWalk(t, 200, 200), (std::vector<IntervalNode*>{&a}));
  EXPECT_EQ(OverlapWalk(t, 201, 250), (std::vector<IntervalNode*>{&b}));
  EXPECT_EQ(OverlapWalk(t, 50, 100), (std::vector<IntervalNode*>{&a}));
  EXPECT_EQ(OverlapWalk(t, 50, 99), (std::vector<IntervalNode*>{}));
  EXPECT_EQ(OverlapWalk(t, 300, 400), (std::vector<IntervalNode*>{&b}));
  EXPECT_EQ(OverlapWalk(t, 301, 400), (std::vector<IntervalNode*>{}));
  EXPECT_EQ(OverlapWalk(t, 100, 300), (std::vector<IntervalNode*>{&a, &b}));
  t.Remove(&a);
  t.Remove(&b);
}

TEST(IntervalTreeTest, ExtremeCoordinates) {
  IntervalTree t;
  IntervalNode zero, top, all, near_top;
  zero.start = 0;
  zero.last = 0;
  top.start = kMax;
  top.last = kMax;
  all.start = 0;
  all.last = kMax;
  near_top.start = kMax - 1;
  near_top.last = kMax - 1;
  for (IntervalNode* n : {&top, &zero, &near_top, &all}) t.Insert(n);
  ExpectValid(t);

  auto as_set = [](std::vector<IntervalNode*> v) {
    return std::set<IntervalNode*>(v.begin(), v.end());
  };
  using Set = std::set<IntervalNode*>;
  EXPECT_EQ(as_set(OverlapWalk(t, 0, 0)), (Set{&zero, &all}));
  EXPECT_EQ(as_set(OverlapWalk(t, kMax, kMax)), (Set{&top, &all}));
  EXPECT_EQ(as_set(OverlapWalk(t, kMax - 1, kMax - 1)), (Set{&near_top, &all}));
  EXPECT_EQ(as_set(OverlapWalk(t, 1, kMax - 2)), (Set{&all}));
  EXPECT_EQ(OverlapWalk(t, 0, kMax).size(), 4u);
  for (uint64_t s : {uint64_t{0}, uint64_t{1}, kMax - 1, kMax}) {
    for (uint64_t l : {uint64_t{0}, uint64_t{1}, kMax - 1, kMax}) {
      ExpectOverlapWalk(t, s, l);
    }
  }

  std::vector<IntervalNode*> order = InOrder(t);
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[2], &near_top);
  EXPECT_EQ(order[3], &top);

  t.Remove(&all);
  EXPECT_EQ(as_set(OverlapWalk(t, 1, kMax - 2)), Set{});
  ExpectValid(t);
  for (IntervalNode* n : {&top, &zero, &near_top}) t.Remove(n);
  EXPECT_TRUE(t.empty());
}

// Identical intervals: every copy is found, and Remove takes out exactly the
// node it is given, never another copy.
TEST(IntervalTreeTest, IdenticalIntervalsRemovedOneByOne) {
  constexpr int kCopies = 300;
  std::vector<IntervalNode> nodes(kCopies);
  IntervalTree t;
  for (IntervalNode& n : nodes) {
    n.start = 5;
    n.last = 9;
    t.Insert(&n);
  }
  ExpectValid(t);
  ExpectBalanced(t);
  EXPECT_EQ(t.size(), static_cast<size_t>(kCopies));

  std::mt19937_64 rng(SeedFromEnv(0x1de471ca1));
  std::vector<IntervalNode*> live;
  for (IntervalNode& n : nodes) live.push_back(&n);
  std::shuffle(live.begin(), live.end(), rng);
  // The root first (a node with two children), then a random order.
  IntervalNode* root = InOrder(t)[0];
  while (root->parent != nullptr) root = root->parent;
  std::iter_swap(live.begin(), std::find(live.begin(), live.end(), root));

  while (!live.empty()) {
    IntervalNode* victim = live.back();
    live.pop_back();
    t.Remove(victim);
    EXPECT_FALSE(victim->in_tree);
    ExpectValid(t);
    ExpectBalanced(t);
    std::vector<IntervalNode*> order = InOrder(t);
    ASSERT_EQ(std::set<IntervalNode*>(order.begin(), order.end()),
              std::set<IntervalNode*>(live.begin(), live.end()));
    ASSERT_EQ(order.size(), live.size());
    for (IntervalNode* n : live) ASSERT_TRUE(n->in_tree);
    ExpectOverlapWalk(t, 9, 20);
    ExpectOverlapWalk(t, 0, 5);
    EXPECT_EQ(t.FirstOverlap(10, 20), nullptr);
    EXPECT_EQ(t.FirstOverlap(0, 4), nullptr);
  }
  EXPECT_TRUE(t.empty());
}

// A long interval starting early must be found by queries far to its right,
// even when it hangs deep in a left subtree under many short intervals.
TEST(IntervalTreeTest, LongIntervalDeepInLeftSubtree) {
  std::vector<IntervalNode> nodes(1000);
  IntervalTree t;
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].start = 10 * i;
    nodes[i].last = 10 * i + 1;
  }
  nodes[3].last = 9000;  // [30, 9000]
  for (IntervalNode& n : nodes) t.Insert(&n);
  ExpectValid(t);
  EXPECT_EQ(OverlapWalk(t, 8995, 8995), (std::vector<IntervalNode*>{&nodes[3]}));
  EXPECT_EQ(OverlapWalk(t, 9000, 9010),
            (std::vector<IntervalNode*>{&nodes[3], &nodes[900], &nodes[901]}));
  EXPECT_EQ(OverlapWalk(t, 9002, 9009), (std::vector<IntervalNode*>{}));
  ExpectOverlapWalk(t, 2, 29);
  ExpectOverlapWalk(t, 31, 5000);
  for (IntervalNode& n : nodes) t.Remove(&n);
}

// The O(log n + k) bound rests on the height: check it on the inputs that
// make an unbalanced tree a list (sorted, reverse sorted, all equal) and after
// removals.
TEST(IntervalTreeTest, HeightStaysLogarithmic) {
  constexpr size_t kN = 4096;
  for (int pattern = 0; pattern < 3; ++pattern) {
    SCOPED_TRACE(pattern);
    std::vector<IntervalNode> nodes(kN);
    IntervalTree t;
    for (size_t i = 0; i < kN; ++i) {
      const uint64_t key = pattern == 0 ? i : pattern == 1 ? kN - i : 7;
      nodes[i].start = key;
      nodes[i].last = key + 3;
      t.Insert(&nodes[i]);
      if ((i & (i + 1)) == 0) ExpectBalanced(t);  // at sizes 2^k - 1
    }
    ExpectValid(t);
    ExpectBalanced(t);
    // log2(4097) = 12.0...: the bound allows height 24.
    EXPECT_LE(t.HeightForTesting(), 24);
    for (size_t i = 0; i < kN; i += 2) t.Remove(&nodes[i]);
    ExpectValid(t);
    ExpectBalanced(t);
    for (size_t i = 1; i < kN; i += 2) t.Remove(&nodes[i]);
    EXPECT_TRUE(t.empty());
  }
}

// CheckInvariants must notice each kind of damage, or the differential test
// below would prove little.
TEST(IntervalTreeTest, CheckInvariantsCatchesCorruption) {
  std::vector<IntervalNode> nodes(15);
  IntervalTree t;
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].start = i;
    nodes[i].last = i + (i % 4);
    t.Insert(&nodes[i]);
  }
  ExpectValid(t);
  IntervalNode* root = &nodes[0];
  while (root->parent != nullptr) root = root->parent;
  ASSERT_NE(root->left, nullptr);
  IntervalNode* inner = root->left;
  std::string why;

  auto expect_caught = [&](const char* what) {
    why.clear();
    EXPECT_FALSE(t.CheckInvariants(&why)) << what;
    EXPECT_FALSE(why.empty()) << what;
    EXPECT_FALSE(t.CheckInvariants(nullptr)) << what;
  };

  const uint64_t saved_last = inner->subtree_last;
  inner->subtree_last = saved_last + 1;
  expect_caught("subtree_last too large");
  inner->subtree_last = saved_last;
  ExpectValid(t);

  root->red = true;
  expect_caught("red root");
  root->red = false;

  inner->in_tree = false;
  expect_caught("in_tree cleared");
  inner->in_tree = true;

  IntervalNode* leaf = InOrder(t)[0];
  ASSERT_EQ(leaf->left, nullptr);
  IntervalNode* saved_parent = leaf->parent;
  leaf->parent = nullptr;
  expect_caught("wrong parent");
  leaf->parent = saved_parent;

  const uint64_t saved_start = leaf->start;
  leaf->start = 1000;
  leaf->last = 1000;
  expect_caught("out of order");
  leaf->start = saved_start;
  leaf->last = saved_start;  // node 0 was [0, 0]
  ExpectValid(t);

  // Flipping a black node's colour breaks either the red rule or the
  // black heights.
  bool flipped = false;
  for (IntervalNode& n : nodes) {
    if (!n.red && &n != root) {
      n.red = true;
      expect_caught("colour flipped");
      n.red = false;
      flipped = true;
      break;
    }
  }
  EXPECT_TRUE(flipped);
  ExpectValid(t);
  for (IntervalNode& n : nodes) t.Remove(&n);
}

struct Space {
  const char* name;
  bool small;  // small: coordinates in [0, 63], so collisions are frequent
};

class IntervalTreeRandomizedTest : public ::testing::TestWithParam<Space> {};

// Random inserts, removes and queries against a brute-force list, checking
// the whole tree after every step.
TEST_P(IntervalTreeRandomizedTest, MatchesBruteForce) {
  const Space space = GetParam();
  const uint64_t seed = SeedFromEnv(space.small ? 0xa11ce : 0xb0b5eed);
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(testing::Message() << "NF_SEED=" << seed);

  constexpr size_t kPool = 160;
  constexpr int kSteps = 4000;
  std::vector<IntervalNode> pool(kPool);
  std::vector<IntervalNode*> model;  // the nodes that should be in the tree
  IntervalTree t;

  auto uniform = [&](uint64_t lo, uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  // A coordinate: in the small space anywhere in [0, 63]; in the large one,
  // often an extreme, otherwise anywhere.
  auto coordinate = [&]() -> uint64_t {
    if (space.small) return uniform(0, 63);
    switch (uniform(0, 7)) {
      case 0: return uniform(0, 2);
      case 1: return kMax - uniform(0, 2);
      default: return rng();
    }
  };
  auto random_interval = [&](uint64_t* start, uint64_t* last) {
    uint64_t a = coordinate();
    uint64_t b;
    if (uniform(0, 3) == 0) {
      b = a;  // a single point
    } else if (space.small || uniform(0, 1) == 0) {
      b = coordinate();
    } else {  // short relative to the space, clamped at the top
      const uint64_t len = uint64_t{1} << uniform(0, 40);
      b = a > kMax - len ? kMax : a + len;
    }
    *start = std::min(a, b);
    *last = std::max(a, b);
  };
  // Query ends often sit on, or just beside, an existing node's ends.
  auto query_end = [&]() -> uint64_t {
    if (model.empty() || uniform(0, 2) == 0) return coordinate();
    const IntervalNode* n = model[uniform(0, model.size() - 1)];
    uint64_t v = uniform(0, 1) == 0 ? n->start : n->last;
    switch (uniform(0, 2)) {
      case 0: return v == 0 ? v : v - 1;
      case 1: return v == kMax ? v : v + 1;
      default: return v;
    }
  };

  size_t max_size = 0;
  for (int step = 0; step < kSteps && !HasFailure(); ++step) {
    // Alternate growing and shrinking phases so sizes sweep the pool.
    const bool growing = (step / 500) % 2 == 0;
    const uint64_t op = uniform(0, 9);
    if (op < (growing ? 6u : 3u) && model.size() < kPool) {
      IntervalNode* n = nullptr;
      for (IntervalNode& candidate : pool) {
        if (!candidate.in_tree) {
          n = &candidate;
          if (uniform(0, 3) == 0) break;  // vary which free node is reused
        }
      }
      ASSERT_NE(n, nullptr);
      random_interval(&n->start, &n->last);
      t.Insert(n);
      ASSERT_TRUE(n->in_tree);
      model.push_back(n);
    } else if (op < 7 && !model.empty()) {
      const size_t i = uniform(0, model.size() - 1);
      IntervalNode* n = model[i];
      model[i] = model.back();
      model.pop_back();
      t.Remove(n);
      ASSERT_FALSE(n->in_tree);
      ASSERT_EQ(n->parent, nullptr);
      ASSERT_EQ(n->left, nullptr);
      ASSERT_EQ(n->right, nullptr);
    }
    max_size = std::max(max_size, model.size());

    std::string why;
    ASSERT_TRUE(t.CheckInvariants(&why)) << "step " << step << ": " << why;
    ASSERT_EQ(t.size(), model.size());
    ASSERT_EQ(t.empty(), model.empty());

    // In-order: exactly the model's nodes, by ascending start.
    std::vector<IntervalNode*> order = InOrder(t);
    ASSERT_EQ(order.size(), model.size()) << "step " << step;
    ASSERT_EQ(std::set<IntervalNode*>(order.begin(), order.end()),
              std::set<IntervalNode*>(model.begin(), model.end()))
        << "step " << step;
    ASSERT_TRUE(std::is_sorted(order.begin(), order.end(),
                               [](const IntervalNode* a, const IntervalNode* b) {
                                 return a->start < b->start;
                               }))
        << "step " << step;

    // Overlap queries against brute force: the same set, in in-order order.
    for (int q = 0; q < 4; ++q) {
      uint64_t qs = query_end();
      uint64_t ql = query_end();
      if (qs > ql) std::swap(qs, ql);
      std::vector<IntervalNode*> want;
      for (IntervalNode* n : order) {
        if (Overlaps(*n, qs, ql)) want.push_back(n);
      }
      size_t brute = 0;
      for (const IntervalNode* n : model) brute += Overlaps(*n, qs, ql);
      ASSERT_EQ(want.size(), brute);
      ASSERT_EQ(OverlapWalk(t, qs, ql), want)
          << "step " << step << ", query [" << qs << ", " << ql << "]";
    }
  }
  ExpectBalanced(t);
  EXPECT_GE(max_size, kPool / 2) << "the sizes never grew: weak test";
  for (IntervalNode* n : model) t.Remove(n);
  EXPECT_TRUE(t.empty());
}

INSTANTIATE_TEST_SUITE_P(Spaces, IntervalTreeRandomizedTest,
                         ::testing::Values(Space{"Small", true},
                                           Space{"Large", false}),
                         [](const ::testing::TestParamInfo<Space>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace nf::internal
