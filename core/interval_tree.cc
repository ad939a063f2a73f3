// core/interval_tree.cc: the red-black interval tree of core/interval_tree.h.
//
// Augmentation: every node's subtree_last is max(last, left->subtree_last,
// right->subtree_last). Insert raises it along the descent path before linking;
// a rotation moves the old top's value to the new top (same node set) and
// recomputes the old top; Remove recomputes the path from the lowest changed
// node to the root before rebalancing. Colours never affect it.
//
// Overlap walk. With nodes in start order, an overlapping node is one with
// start <= q.last (a prefix of the order) and last >= q.start. The leftmost
// node with last >= q.start in a subtree is found by descending: go left while
// the left subtree's subtree_last reaches q.start; otherwise the node itself
// if its last does; otherwise right if the right subtree's does. If that
// leftmost node starts after q.last, so does every node after it, and the
// walk ends. NextOverlap continues from a node: the candidates after it are
// its right subtree, then each ancestor reached from a left child followed by
// that ancestor's right subtree, in that order.

#include "core/interval_tree.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"

namespace nf::internal {
namespace {

bool IsRed(const IntervalNode* n) { return n != nullptr && n->red; }

// max(n->last, children's subtree_last): the value n->subtree_last must have.
uint64_t ComputeSubtreeLast(const IntervalNode* n) {
  uint64_t m = n->last;
  if (n->left != nullptr) m = std::max(m, n->left->subtree_last);
  if (n->right != nullptr) m = std::max(m, n->right->subtree_last);
  return m;
}

IntervalNode* Leftmost(IntervalNode* n) {
  while (n->left != nullptr) n = n->left;
  return n;
}

// The leftmost node of the subtree at n overlapping [start, last], or nullptr.
// Requires: n->subtree_last >= start (something below n ends late enough).
IntervalNode* SubtreeFirstOverlap(IntervalNode* n, uint64_t start,
                                  uint64_t last) {
  while (true) {
    // Invariant: n->subtree_last >= start.
    if (n->left != nullptr && n->left->subtree_last >= start) {
      n = n->left;
      continue;
    }
    // Nothing on the left ends at or after start: n is the next candidate.
    if (n->start > last) return nullptr;  // n and all after it start too late
    if (n->last >= start) return n;
    // n ends too early, so the right subtree holds what reaches start.
    n = n->right;
    if (n == nullptr || n->subtree_last < start) return nullptr;
  }
}

// Recomputes subtree_last from n up to the root.
void RecomputeToRoot(IntervalNode* n) {
  for (; n != nullptr; n = n->parent) n->subtree_last = ComputeSubtreeLast(n);
}

struct CheckResult {
  int black_height = 0;  // black nodes on each path to a null leaf, nulls excluded
  uint64_t min_start = 0;
  uint64_t max_start = 0;
};

// The invariant checker runs after every op of the tree fuzzer: like the
// fuzzers' own checkers (fuzzers/CMakeLists.txt), it stays out of libFuzzer's
// coverage and comparison feedback, which cost more than the check itself.
#if defined(__clang__)
#define NF_CHECKER_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NF_CHECKER_NO_COVERAGE
#endif

// Checks the subtree at n (not null); counts its nodes into *count. Returns
// false and fills *why on the first broken rule.
NF_CHECKER_NO_COVERAGE bool CheckSubtree(const IntervalNode* n, int depth, size_t limit, size_t* count,
                  CheckResult* out, std::string* why) {
  auto fail = [&](const std::string& what) {
    if (why != nullptr) {
      *why = absl::StrFormat("node %p [%u, %u] at depth %d: %s",
                             static_cast<const void*>(n), n->start, n->last,
                             depth, what);
    }
    return false;
  };
  if (++*count > limit) return fail("more nodes than size() (a cycle?)");
  if (depth > 128) return fail("deeper than any balanced tree can be");
  if (!n->in_tree) return fail("in_tree is false");
  if (n->start > n->last) return fail("start > last");
  if (n->red && (IsRed(n->left) || IsRed(n->right))) {
    return fail("red node with a red child");
  }
  CheckResult left, right;
  if (n->left != nullptr) {
    if (n->left->parent != n) return fail("left child's parent is not the node");
    if (!CheckSubtree(n->left, depth + 1, limit, count, &left, why)) return false;
    if (left.max_start > n->start) return fail("a left descendant starts later");
  }
  if (n->right != nullptr) {
    if (n->right->parent != n) {
      return fail("right child's parent is not the node");
    }
    if (!CheckSubtree(n->right, depth + 1, limit, count, &right, why)) {
      return false;
    }
    if (right.min_start < n->start) {
      return fail("a right descendant starts earlier");
    }
  }
  if (left.black_height != right.black_height) {
    return fail(absl::StrFormat("black heights differ: left %d, right %d",
                                left.black_height, right.black_height));
  }
  const uint64_t want = ComputeSubtreeLast(n);
  if (n->subtree_last != want) {
    return fail(absl::StrFormat("subtree_last is %u, should be %u",
                                n->subtree_last, want));
  }
  out->black_height = left.black_height + (n->red ? 0 : 1);
  out->min_start = n->left != nullptr ? left.min_start : n->start;
  out->max_start = n->right != nullptr ? right.max_start : n->start;
  return true;
}

NF_CHECKER_NO_COVERAGE int Height(const IntervalNode* n) {
  if (n == nullptr) return 0;
  return 1 + std::max(Height(n->left), Height(n->right));
}

}  // namespace

void IntervalTree::Replace(IntervalNode* u, IntervalNode* v) {
  IntervalNode* p = u->parent;
  if (p == nullptr) {
    root_ = v;
  } else if (p->left == u) {
    p->left = v;
  } else {
    p->right = v;
  }
  if (v != nullptr) v->parent = p;
}

//     x               y
//    / \             / \    a, b, c: subtrees
//   a   y    ==>    x   c
//      / \         / \      in-order a x b y c is unchanged
//     b   c       a   b
void IntervalTree::RotateLeft(IntervalNode* x) {
  IntervalNode* y = x->right;
  x->right = y->left;
  if (y->left != nullptr) y->left->parent = x;
  Replace(x, y);
  y->left = x;
  x->parent = y;
  y->subtree_last = x->subtree_last;  // y now covers exactly what x covered
  x->subtree_last = ComputeSubtreeLast(x);
}

// The mirror image of RotateLeft.
void IntervalTree::RotateRight(IntervalNode* x) {
  IntervalNode* y = x->left;
  x->left = y->right;
  if (y->right != nullptr) y->right->parent = x;
  Replace(x, y);
  y->right = x;
  x->parent = y;
  y->subtree_last = x->subtree_last;
  x->subtree_last = ComputeSubtreeLast(x);
}

void IntervalTree::Insert(IntervalNode* n) {
  IntervalNode* parent = nullptr;
  IntervalNode** link = &root_;
  while (*link != nullptr) {
    parent = *link;
    // n will be below parent: raise its subtree_last now.
    parent->subtree_last = std::max(parent->subtree_last, n->last);
    link = n->start < parent->start ? &parent->left : &parent->right;
  }
  n->parent = parent;
  n->left = nullptr;
  n->right = nullptr;
  n->subtree_last = n->last;
  n->red = true;
  n->in_tree = true;
  *link = n;
  ++size_;
  InsertFixup(n);
}

// Restores "no red node has a red child"; n is red and may have a red parent.
void IntervalTree::InsertFixup(IntervalNode* n) {
  while (IsRed(n->parent)) {
    IntervalNode* p = n->parent;
    IntervalNode* g = p->parent;  // exists: a red node is never the root
    const bool p_is_left = g->left == p;
    IntervalNode* uncle = p_is_left ? g->right : g->left;
    if (IsRed(uncle)) {
      // Push g's blackness down to both children; the problem moves to g.
      p->red = false;
      uncle->red = false;
      g->red = true;
      n = g;
      continue;
    }
    if (p_is_left) {
      if (n == p->right) {  // bend the zig-zag into a straight line
        RotateLeft(p);
        p = n;
      }
      RotateRight(g);
    } else {
      if (n == p->left) {
        RotateRight(p);
        p = n;
      }
      RotateLeft(g);
    }
    // p now sits where g was, with g as a child: recolour; done.
    p->red = false;
    g->red = true;
    break;
  }
  root_->red = false;
}

void IntervalTree::Remove(IntervalNode* n) {
  // x takes the place of the node unlinked from the structure (n itself or
  // n's successor); x may be null, so its parent is tracked separately.
  IntervalNode* x;
  IntervalNode* x_parent;
  bool removed_black;
  if (n->left == nullptr || n->right == nullptr) {
    x = n->left != nullptr ? n->left : n->right;
    x_parent = n->parent;
    removed_black = !n->red;
    Replace(n, x);
  } else {
    // Two children: n's successor s (leftmost on the right, no left child)
    // leaves its own spot to x = s->right and takes n's place and colour.
    IntervalNode* s = Leftmost(n->right);
    x = s->right;
    removed_black = !s->red;
    if (s->parent == n) {
      x_parent = s;
    } else {
      x_parent = s->parent;
      Replace(s, x);
      s->right = n->right;
      s->right->parent = s;
    }
    Replace(n, s);
    s->left = n->left;
    s->left->parent = s;
    s->red = n->red;
  }
  // Every node whose subtree lost a member is on the path from x_parent up
  // (s, if it moved, is on it too).
  RecomputeToRoot(x_parent);
  if (removed_black) RemoveFixup(x, x_parent);

  n->parent = nullptr;
  n->left = nullptr;
  n->right = nullptr;
  n->red = false;
  n->in_tree = false;
  --size_;
}

// The subtree at x (possibly null, child of parent) has one black node fewer
// on its paths than its sibling's: restore equal black heights.
void IntervalTree::RemoveFixup(IntervalNode* x, IntervalNode* parent) {
  while (x != root_ && !IsRed(x)) {
    // x carries one extra black; its sibling w is not null, since w's side
    // has at least one black node more.
    if (x == parent->left) {
      IntervalNode* w = parent->right;
      if (w->red) {  // make the sibling black, keeping heights
        w->red = false;
        parent->red = true;
        RotateLeft(parent);
        w = parent->right;
      }
      if (!IsRed(w->left) && !IsRed(w->right)) {
        // Take one black off both sides; the deficit moves up to parent.
        w->red = true;
        x = parent;
        parent = x->parent;
        continue;
      }
      if (!IsRed(w->right)) {  // make the far nephew the red one
        w->left->red = false;
        w->red = true;
        RotateRight(w);
        w = parent->right;
      }
      // Rotate a black node into x's side; the far nephew repays w's side.
      w->red = parent->red;
      parent->red = false;
      w->right->red = false;
      RotateLeft(parent);
      x = root_;
    } else {
      IntervalNode* w = parent->left;
      if (w->red) {
        w->red = false;
        parent->red = true;
        RotateRight(parent);
        w = parent->left;
      }
      if (!IsRed(w->left) && !IsRed(w->right)) {
        w->red = true;
        x = parent;
        parent = x->parent;
        continue;
      }
      if (!IsRed(w->left)) {
        w->right->red = false;
        w->red = true;
        RotateLeft(w);
        w = parent->left;
      }
      w->red = parent->red;
      parent->red = false;
      w->left->red = false;
      RotateRight(parent);
      x = root_;
    }
  }
  if (x != nullptr) x->red = false;
}

IntervalNode* IntervalTree::FirstOverlap(uint64_t start, uint64_t last) const {
  if (start > last || root_ == nullptr || root_->subtree_last < start) {
    return nullptr;
  }
  return SubtreeFirstOverlap(root_, start, last);
}

IntervalNode* IntervalTree::NextOverlap(const IntervalNode* n, uint64_t start,
                                        uint64_t last) {
  // Everything before n, and n's left subtree, is done.
  IntervalNode* right = n->right;
  IntervalNode* up = n->parent;
  const IntervalNode* from = n;
  while (true) {
    if (right != nullptr && right->subtree_last >= start) {
      // The leftmost match there is the answer, or there is none at all.
      return SubtreeFirstOverlap(right, start, last);
    }
    // Climb past ancestors reached from their right (already visited).
    while (up != nullptr && up->right == from) {
      from = up;
      up = up->parent;
    }
    if (up == nullptr) return nullptr;
    // up follows everything below `from` in order.
    if (up->start > last) return nullptr;
    if (up->last >= start) return up;
    right = up->right;
    from = up;
    up = up->parent;
  }
}

IntervalNode* IntervalTree::First() const {
  return root_ == nullptr ? nullptr : Leftmost(root_);
}

IntervalNode* IntervalTree::Next(const IntervalNode* n) {
  if (n->right != nullptr) return Leftmost(n->right);
  IntervalNode* up = n->parent;
  while (up != nullptr && up->right == n) {
    n = up;
    up = up->parent;
  }
  return up;
}

bool IntervalTree::CheckInvariants(std::string* why) const {
  if (root_ == nullptr) {
    if (size_ != 0) {
      if (why != nullptr) *why = absl::StrFormat("empty tree, size() %u", size_);
      return false;
    }
    return true;
  }
  if (root_->parent != nullptr) {
    if (why != nullptr) *why = "the root has a parent";
    return false;
  }
  if (root_->red) {
    if (why != nullptr) *why = "the root is red";
    return false;
  }
  size_t count = 0;
  CheckResult result;
  if (!CheckSubtree(root_, 0, size_, &count, &result, why)) return false;
  if (count != size_) {
    if (why != nullptr) {
      *why = absl::StrFormat("%u nodes reachable, size() %u", count, size_);
    }
    return false;
  }
  return true;
}

int IntervalTree::HeightForTesting() const { return Height(root_); }

}  // namespace nf::internal
