// core/interval_tree.h: an intrusive, augmented, balanced tree of closed intervals.
//
// The tree of interval subscriptions (spec section 1, `itree`). Nodes are embedded
// in the caller's objects; the tree never allocates. Intervals are closed,
// [start, last], and identical intervals may appear any number of times.
//
// Structure: a red-black tree keyed by `start` (a node whose start equals an
// existing one's goes to its right). Each node is augmented with
// `subtree_last`, the largest `last` in its subtree; rotations, insertion and
// removal keep it exact. Overlap iteration uses it to skip every subtree whose
// `subtree_last` is below the query's start, and stops at the first node whose
// `start` is above the query's last.
//
// Complexity: Insert and Remove are O(log n). The height is at most
// 2*log2(n + 1). Overlap iteration visits the k nodes overlapping a query in
// O(log n + k) (amortised over a full iteration; one NextOverlap is O(log n)).
//
// Order: in-order traversal and overlap iteration visit nodes by ascending
// `start`; nodes with equal `start` come in an unspecified but stable order
// (stable: it changes only when the tree changes).
//
// Thread safety: none. The owner serializes every call. Iteration reads only, so
// any number of iterations may run at once while nothing modifies the tree (the
// notifier relies on this: the tree is frozen while the seq is odd).
#ifndef NF_CORE_INTERVAL_TREE_H_
#define NF_CORE_INTERVAL_TREE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace nf::internal {

struct IntervalNode {
  uint64_t start = 0;  // first address covered
  uint64_t last = 0;   // last address covered (closed interval), >= start
  // Below this line: owned by the tree. Meaningful only while in_tree, except
  // in_tree itself; Remove resets parent/left/right/red.
  uint64_t subtree_last = 0;  // max `last` over this node's subtree
  IntervalNode* parent = nullptr;
  IntervalNode* left = nullptr;
  IntervalNode* right = nullptr;
  bool red = false;      // red-black colour; the root and null leaves are black
  bool in_tree = false;  // set by Insert, cleared by Remove
};
// Embedded in every subscription (core/notifier.h): keep it small.
static_assert(sizeof(IntervalNode) <= 56, "IntervalNode grew");

class IntervalTree {
 public:
  IntervalTree() = default;
  IntervalTree(const IntervalTree&) = delete;
  IntervalTree& operator=(const IntervalTree&) = delete;

  // Requires: !n->in_tree, n->start <= n->last.
  void Insert(IntervalNode* n);
  // Requires: n is in this tree.
  void Remove(IntervalNode* n);

  bool empty() const { return root_ == nullptr; }
  size_t size() const { return size_; }

  // The first node (in start order) overlapping [start, last], or nullptr.
  // Node [s, l] overlaps [start, last] iff s <= last && start <= l (touching
  // ends overlap). An empty query (start > last) overlaps nothing.
  IntervalNode* FirstOverlap(uint64_t start, uint64_t last) const;
  // The node after n (in start order) overlapping [start, last], or nullptr.
  // n must have been returned by FirstOverlap/NextOverlap with the same bounds.
  static IntervalNode* NextOverlap(const IntervalNode* n, uint64_t start,
                                   uint64_t last);

  // In-order traversal.
  IntervalNode* First() const;
  static IntervalNode* Next(const IntervalNode* n);

  // Checks, in O(n): start order, start <= last, parent links, subtree_last of
  // every node, the red-black rules (black root, no red node with a red child,
  // the same number of black nodes on every root-to-leaf path), in_tree set on
  // every node, and size(). On failure returns false and, if why is not null,
  // says which node broke which rule. For tests and fuzzers.
  bool CheckInvariants(std::string* why) const;

  // The number of nodes on the longest root-to-leaf path (0 when empty). O(n).
  // For tests of the balance bound only.
  int HeightForTesting() const;

 private:
  // Rotations keep subtree_last exact for the two nodes whose subtrees change.
  void RotateLeft(IntervalNode* x);
  void RotateRight(IntervalNode* x);
  // Puts v (possibly null) where u hangs from u's parent (or the root).
  void Replace(IntervalNode* u, IntervalNode* v);
  void InsertFixup(IntervalNode* n);
  void RemoveFixup(IntervalNode* x, IntervalNode* parent);

  IntervalNode* root_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nf::internal

#endif  // NF_CORE_INTERVAL_TREE_H_
