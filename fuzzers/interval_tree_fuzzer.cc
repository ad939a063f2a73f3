// fuzzers/interval_tree_fuzzer.cc: nf::internal::IntervalTree against a vector.
//
// Input: a sequence of ops read with the codec's ByteReader
// (fuzzers/program/byte_reader.h). Opcodes are append-only; an unknown one skips
// its byte. The entry point only decodes (DecodeTreeOps, total: any bytes give a
// program) and then runs the typed program (RunTreeOps).
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

enum TreeOpCode : uint8_t { kInsert = 0, kRemove = 1, kQuery = 2, kCorrupt = 3, kNumTreeOps = 4 };
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

// A set of pool nodes as a bit mask (kNodes <= 64): the checks below compare
// sets without sorting or allocating, since they run after every op.
using NodeSet = uint64_t;
static_assert(kNodes <= 64, "NodeSet holds one bit per pool node");

// The pool index of n, or -1 if n is not a pool node.
int IndexOf(const std::array<IntervalNode, kNodes>& nodes, const IntervalNode* n) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(nodes.data());
  const uintptr_t p = reinterpret_cast<uintptr_t>(n);
  if (p < base || p - base >= sizeof(nodes) || (p - base) % sizeof(IntervalNode) != 0) return -1;
  return static_cast<int>((p - base) / sizeof(IntervalNode));
}

// The indices of the nodes in the tree, in insertion order (a remove keeps the
// others' order), and the same as a set.
struct Model {
  std::array<int, kNodes> order;
  int size = 0;
  NodeSet set = 0;
  void Insert(int i) {
    order[size++] = i;
    set |= NodeSet{1} << i;
  }
  void Remove(int i) {
    int* const end = order.data() + size;
    int* const at = std::find(order.data(), end, i);
    std::copy(at + 1, end, at);
    --size;
    set &= ~(NodeSet{1} << i);
  }
};

// The nodes an iteration (the in-order walk, an overlap query) returned, as a
// set, counting visits: equal to a model set of `size` nodes exactly when the
// visits were as many, all of pool nodes, and the sets are equal (so none twice).
class Visited {
 public:
  Visited(const std::array<IntervalNode, kNodes>& nodes, int limit)
      : nodes_(nodes), limit_(limit) {}
  // Adds n; false if it starts before the node added last.
  bool Add(const IntervalNode* n) {
    const bool ordered = prev_ == nullptr || prev_->start <= n->start;
    prev_ = n;
    const int i = IndexOf(nodes_, n);
    if (i < 0) {
      foreign_ = true;
    } else {
      set_ |= NodeSet{1} << i;
    }
    ++visits_;
    return ordered;
  }
  // More visits than the model has nodes (a cycle, or a node twice).
  bool too_many() const { return visits_ > limit_; }
  int visits() const { return visits_; }
  bool Is(NodeSet want, int want_size) const {
    return !foreign_ && visits_ == want_size && set_ == want;
  }

 private:
  const std::array<IntervalNode, kNodes>& nodes_;
  const int limit_;
  const IntervalNode* prev_ = nullptr;
  NodeSet set_ = 0;
  int visits_ = 0;
  bool foreign_ = false;
};

void CheckAll(const IntervalTree& tree, const std::array<IntervalNode, kNodes>& nodes,
              const Model& model, int step) {
  std::string why;
  if (!tree.CheckInvariants(&why)) Fail("CheckInvariants: " + why, step);
  if (tree.size() != static_cast<size_t>(model.size)) {
    Fail(absl::StrFormat("size %d, model %d", tree.size(), model.size), step);
  }
  // The walk, as a set: with as many visits as nodes in the model and the same
  // set, no node was visited twice and none was missed.
  Visited seen(nodes, model.size);
  for (const IntervalNode* n = tree.First(); n != nullptr; n = IntervalTree::Next(n)) {
    if (!seen.Add(n)) Fail("in-order walk not by start", step);
    if (seen.too_many()) Fail("in-order walk visits too many nodes", step);
  }
  if (!seen.Is(model.set, model.size)) {
    Fail("in-order walk differs from the inserted nodes", step);
  }
  const double bound = 2 * std::log2(static_cast<double>(model.size) + 1);
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

// One decoded op. An unknown opcode byte stays in the program as a step that
// does nothing (kNumTreeOps), so that steps are numbered as the bytes were read
// and the kMaxOps bound counts them as before.
struct TreeOp {
  uint8_t code = kNumTreeOps;
  int node = 0;         // insert, remove, corrupt
  uint64_t start = 0;   // insert, query
  uint64_t last = 0;    // insert, query
  uint8_t damage = 0;   // corrupt
};

// The program of an input: at most kMaxOps steps, operands in the order the
// bytes give them; running out of bytes yields the reader's defaults.
void DecodeTreeOps(ByteReader& in, std::vector<TreeOp>* ops) {
  ops->clear();
  for (int step = 0; step < kMaxOps && !in.empty(); ++step) {
    TreeOp op;
    op.code = in.Byte();
    switch (op.code) {
      case kInsert:
        op.node = in.Below(kNodes);
        op.start = Value(in);
        op.last = Last(op.start, in);
        break;
      case kRemove:
        op.node = in.Below(kNodes);
        break;
      case kQuery:
        op.start = Value(in);
        op.last = Last(op.start, in);
        break;
      case kCorrupt:
        op.node = in.Below(kNodes);
        op.damage = in.Below(kNumDamages);
        break;
      default:  // an unknown opcode: a step that does nothing
        op.code = kNumTreeOps;
        break;
    }
    ops->push_back(op);
  }
}

// Runs the ops on a tree of the pool's nodes, checking after each (see top).
void RunTreeOps(const std::vector<TreeOp>& ops) {
  std::array<IntervalNode, kNodes> nodes{};
  Model model;  // the nodes in the tree
  IntervalTree tree;
  for (int step = 0; step < static_cast<int>(ops.size()); ++step) {
    const TreeOp& op = ops[step];
    if (op.code == kNumTreeOps) continue;  // an unknown opcode's byte
    IntervalNode& n = nodes[op.node];
    switch (op.code) {
      case kInsert:
        if (n.in_tree) break;
        n.start = op.start;
        n.last = op.last;
        tree.Insert(&n);
        model.Insert(op.node);
        break;
      case kRemove:
        if (!n.in_tree) break;
        tree.Remove(&n);
        model.Remove(op.node);
        break;
      case kQuery: {
        Visited got(nodes, model.size);
        for (const IntervalNode* v = tree.FirstOverlap(op.start, op.last); v != nullptr;
             v = IntervalTree::NextOverlap(v, op.start, op.last)) {
          if (!got.Add(v)) Fail("overlap iteration not by ascending start", step);
          if (got.too_many()) Fail("overlap iteration returns too many nodes", step);
        }
        NodeSet want = 0;
        int want_size = 0;
        for (int k = 0; k < model.size; ++k) {
          const int i = model.order[k];
          if (nodes[i].start <= op.last && op.start <= nodes[i].last) {
            want |= NodeSet{1} << i;
            ++want_size;
          }
        }
        if (!got.Is(want, want_size)) {
          Fail(absl::StrFormat("overlap [%#x, %#x]: %d nodes, brute force %d", op.start, op.last,
                               got.visits(), want_size),
               step);
        }
        break;
      }
      case kCorrupt:
        if (!n.in_tree) break;
        CorruptAndCheck(tree, n, op.damage, step);
        break;
    }
    CheckAll(tree, nodes, model, step);
  }
  for (int k = 0; k < model.size; ++k) tree.Remove(&nodes[model.order[k]]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One buffer for every input: no allocation per run once it has grown.
  static std::vector<TreeOp>* const ops = new std::vector<TreeOp>();
  ByteReader in({data, size});
  DecodeTreeOps(in, ops);
  RunTreeOps(*ops);
  return 0;
}
