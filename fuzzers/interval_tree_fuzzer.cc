// fuzzers/interval_tree_fuzzer.cc: nf::internal::IntervalTree against a vector.
//
// Input: a sequence of ops read with the codec's ByteReader (fuzzers/
// byte_reader.h). Opcodes are append-only; an unknown one skips its byte.
//
//   0 insert  node, start, length   node n of a pool of kNodes (skipped if in the tree)
//   1 remove  node                  (skipped if not in the tree)
//   2 query   start, length         FirstOverlap/NextOverlap vs brute force
//   3 corrupt node, field           (skipped if not in the tree) break one field of
//                                   an inserted node: CheckInvariants must fail
//                                   and say why; then the field is put back
//
// Values come from a tiny range (so identical intervals are common) or from the
// top of the 64-bit space (so `last` reaches UINT64_MAX): a value byte below 0xf0
// is byte % 32, from 0xf0 it is UINT64_MAX - (byte & 0xf). A length byte is
// byte % 8; last = start + length, saturating at UINT64_MAX.
//
// After every op: CheckInvariants(); the in-order walk visits exactly the
// inserted nodes by ascending start; size(); the height bound 2*log2(n + 1).
// After a query: the overlap iteration returns exactly the overlapping nodes,
// each once, by ascending start. A corruption checks the checker: the oracle of
// every op above is CheckInvariants, so it must see each kind of damage (a wrong
// subtree_last, a flipped colour, a wrong parent, a cleared in_tree flag), at
// whatever node and depth the input picks.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/interval_tree.h"
#include "fuzzers/program/byte_reader.h"

namespace {

using nf::fuzz::ByteReader;
using nf::internal::IntervalNode;
using nf::internal::IntervalTree;

// Enough nodes for rotations at every depth of a small tree; more slows exec/s.
constexpr int kNodes = 48;
// Each op costs O(n) in checks; inputs past this many ops add little.
constexpr int kMaxOps = 1024;

enum TreeOp : uint8_t { kInsert = 0, kRemove = 1, kQuery = 2, kCorrupt = 3, kNumTreeOps = 4 };
uint64_t Value(ByteReader& in) {
  const uint8_t b = in.Byte();
  if (b >= 0xf0) return std::numeric_limits<uint64_t>::max() - (b & 0xf);
  return b % 32;
}

uint64_t Last(uint64_t start, ByteReader& in) {
  const uint64_t len = in.Below(8);
  return start > std::numeric_limits<uint64_t>::max() - len
             ? std::numeric_limits<uint64_t>::max()
             : start + len;
}

[[noreturn]] void Fail(const std::string& what, int step) {
  std::fprintf(stderr, "interval_tree_fuzzer: op %d: %s\n", step, what.c_str());
  std::abort();
}

void CheckAll(const IntervalTree& tree, const std::array<IntervalNode, kNodes>& nodes,
              const std::vector<int>& model, int step) {
  std::string why;
  if (!tree.CheckInvariants(&why)) Fail("CheckInvariants: " + why, step);
  if (tree.size() != model.size()) {
    Fail(absl::StrFormat("size %d, model %d", tree.size(), model.size()), step);
  }
  std::vector<const IntervalNode*> seen;
  for (const IntervalNode* n = tree.First(); n != nullptr; n = IntervalTree::Next(n)) {
    if (!seen.empty() && seen.back()->start > n->start) Fail("in-order walk not by start", step);
    seen.push_back(n);
    if (seen.size() > model.size()) Fail("in-order walk visits too many nodes", step);
  }
  std::vector<const IntervalNode*> want;
  for (int i : model) want.push_back(&nodes[i]);
  std::sort(seen.begin(), seen.end());
  std::sort(want.begin(), want.end());
  if (seen != want) Fail("in-order walk differs from the inserted nodes", step);
  const double bound = 2 * std::log2(static_cast<double>(model.size()) + 1);
  if (tree.HeightForTesting() > bound + 1e-9) {
    Fail(absl::StrFormat("height %d exceeds 2*log2(n+1) = %.2f", tree.HeightForTesting(), bound),
         step);
  }
}

enum Damage : uint8_t { kSubtreeLast = 0, kColour = 1, kParent = 2, kInTree = 3, kNumDamages = 4 };

// Breaks one field of `n` (in the tree), checks that CheckInvariants fails, with
// a reason and without one, then repairs the field.
void CorruptAndCheck(IntervalTree& tree, IntervalNode& n, uint8_t damage, int step) {
  const IntervalNode saved = n;
  switch (damage) {
    case kSubtreeLast:  // any other value is wrong
      n.subtree_last += n.subtree_last == std::numeric_limits<uint64_t>::max() ? -1 : 1;
      break;
    case kColour:  // a red root; or a black height off by one; or red under red
      n.red = !n.red;
      break;
    case kParent:  // the root gets a parent; any other node loses its own
      n.parent = n.parent == nullptr ? &n : nullptr;
      break;
    case kInTree:
      n.in_tree = false;
      break;
  }
  std::string why;
  const bool with_reason = tree.CheckInvariants(&why);
  const bool without = tree.CheckInvariants(nullptr);
  n = saved;
  if (with_reason || without) {
    Fail(absl::StrFormat("CheckInvariants missed damage %d to node [%#x, %#x]", damage, n.start,
                         n.last),
         step);
  }
  if (why.empty()) Fail("CheckInvariants failed without saying why", step);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader in({data, size});
  std::array<IntervalNode, kNodes> nodes{};
  std::vector<int> model;  // indices of the nodes in the tree
  IntervalTree tree;
  for (int step = 0; step < kMaxOps && !in.empty(); ++step) {
    const uint8_t op = in.Byte();
    if (op >= kNumTreeOps) continue;  // unknown opcode: skip it
    switch (op) {
      case kInsert: {
        const int i = in.Below(kNodes);
        const uint64_t start = Value(in);
        const uint64_t last = Last(start, in);
        if (nodes[i].in_tree) break;
        nodes[i].start = start;
        nodes[i].last = last;
        tree.Insert(&nodes[i]);
        model.push_back(i);
        break;
      }
      case kRemove: {
        const int i = in.Below(kNodes);
        if (!nodes[i].in_tree) break;
        tree.Remove(&nodes[i]);
        model.erase(std::find(model.begin(), model.end(), i));
        break;
      }
      case kQuery: {
        const uint64_t start = Value(in);
        const uint64_t last = Last(start, in);
        std::vector<const IntervalNode*> got;
        for (const IntervalNode* n = tree.FirstOverlap(start, last); n != nullptr;
             n = IntervalTree::NextOverlap(n, start, last)) {
          if (!got.empty() && got.back()->start > n->start) {
            Fail("overlap iteration not by ascending start", step);
          }
          got.push_back(n);
          if (got.size() > model.size()) Fail("overlap iteration returns too many nodes", step);
        }
        std::vector<const IntervalNode*> want;
        for (int i : model) {
          if (nodes[i].start <= last && start <= nodes[i].last) want.push_back(&nodes[i]);
        }
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        if (got != want) {
          Fail(absl::StrFormat("overlap [%#x, %#x]: %d nodes, brute force %d", start, last,
                               got.size(), want.size()),
               step);
        }
        break;
      }
      case kCorrupt: {
        const int i = in.Below(kNodes);
        const uint8_t damage = in.Below(kNumDamages);
        if (!nodes[i].in_tree) break;
        CorruptAndCheck(tree, nodes[i], damage, step);
        break;
      }
    }
    CheckAll(tree, nodes, model, step);
  }
  for (int i : model) tree.Remove(&nodes[i]);
  return 0;
}
