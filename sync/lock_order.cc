// sync/lock_order.cc: see lock_order.h.
#include "sync/lock_order.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "sync/race_detector.h"  // SymbolizedPlace

namespace nf::sched {

std::string CodePlace::ToString() const {
  if (file != nullptr) {
    // The last two components of the path, as the race detector prints them.
    std::string_view f = file;
    size_t cut = f.rfind('/');
    if (cut != std::string_view::npos && cut > 0) cut = f.rfind('/', cut - 1);
    if (cut != std::string_view::npos) f.remove_prefix(cut + 1);
    return absl::StrCat(std::string(f), ":", line);
  }
  return SymbolizedPlace(pc);
}

std::string LockAcquisition::ToString() const {
  return absl::StrCat("t", thread, " took ", lock_class, " at step ", step,
                      label.empty() ? "" : absl::StrCat(" [", label, "]"), " in ",
                      where.ToString());
}

std::string LockOrderReport::ToString() const {
  if (cycle.empty()) return "lock-order inversion";
  std::string out = "lock-order inversion: ";
  for (const LockOrderEdge& e : cycle) absl::StrAppend(&out, e.held.lock_class, " -> ");
  absl::StrAppend(&out, cycle.front().held.lock_class, ", a potential deadlock: ");
  for (size_t i = 0; i < cycle.size(); ++i) {
    const LockOrderEdge& e = cycle[i];
    absl::StrAppend(&out, i ? "; " : "", e.held.ToString(), ", then, holding it, ",
                    e.acquired.lock_class, " at step ", e.acquired.step,
                    e.acquired.label.empty() || e.acquired.label == e.held.label
                        ? ""
                        : absl::StrCat(" [", e.acquired.label, "]"),
                    " in ", e.acquired.where.ToString());
  }
  return out;
}

LockOrder::LockOrder() : edge_index_(kMaxLockClasses * kMaxLockClasses, -1) {
  for (auto& h : held_) h.reserve(8);
}

void LockOrder::Reset() {
  for (const Edge& e : edges_) edge_index_[e.from * kMaxLockClasses + e.to] = -1;
  edges_.clear();
  for (size_t i = 0; i < classes_.size(); ++i) succ_[i] = 0;
  classes_.clear();
  for (auto& h : held_) h.clear();
  report_ = LockOrderReport{};
}

int LockOrder::ClassId(const char* lock_class) {
  for (size_t i = 0; i < classes_.size(); ++i) {
    if (classes_[i] == lock_class || std::strcmp(classes_[i], lock_class) == 0) {
      return static_cast<int>(i);
    }
  }
  if (classes_.size() == kMaxLockClasses) return -1;
  classes_.push_back(lock_class);
  return static_cast<int>(classes_.size() - 1);
}

LockAcquisition LockOrder::Witness(int t, const Held& h) const {
  return LockAcquisition{t, h.step, classes_[h.cls], h.point, std::string(h.label), h.where};
}

std::vector<int> LockOrder::Path(int from, int to) const {
  int parent[kMaxLockClasses];
  for (int& p : parent) p = -2;
  parent[from] = -1;
  int queue[kMaxLockClasses];
  int head = 0, tail = 0;
  queue[tail++] = from;
  while (head < tail) {
    const int c = queue[head++];
    if (c == to) break;
    for (int j = 0; j < static_cast<int>(classes_.size()); ++j) {
      if ((succ_[c] >> j & 1) != 0 && parent[j] == -2) {
        parent[j] = c;
        queue[tail++] = j;
      }
    }
  }
  std::vector<int> path;  // edge indices, from first to last
  if (parent[to] == -2) return path;
  for (int c = to; parent[c] != -1; c = parent[c]) {
    path.insert(path.begin(), edge_index_[parent[c] * kMaxLockClasses + c]);
  }
  return path;
}

bool LockOrder::Acquire(int t, uint64_t step, const void* lock, const char* lock_class,
                        bool trylock, const char* point, std::string_view label,
                        CodePlace where) {
  const int cls = ClassId(lock_class);
  if (cls < 0) return false;
  Held now{lock, cls, step, point, where, {}};
  const size_t n = label.size() < kLabelBytes - 1 ? label.size() : kLabelBytes - 1;
  std::memcpy(now.label, label.data(), n);
  now.label[n] = '\0';
  std::vector<Held>& held = held_[t];
  if (!trylock) {
    for (const Held& h : held) {
      if (h.cls == cls || (succ_[h.cls] >> cls & 1) != 0) continue;  // same class, or known
      // A new edge h -> cls. A path cls -> ... -> h closes a cycle.
      if (succ_[cls] != 0) {
        const std::vector<int> back = Path(cls, h.cls);
        if (!back.empty()) {
          for (int i : back) {
            const Edge& e = edges_[i];
            report_.cycle.push_back({Witness(e.thread, e.held), Witness(e.thread, e.acquired)});
          }
          report_.cycle.push_back({Witness(t, h), Witness(t, now)});
          return true;
        }
      }
      edge_index_[h.cls * kMaxLockClasses + cls] = static_cast<int>(edges_.size());
      edges_.push_back(Edge{h.cls, cls, t, h, now});
      succ_[h.cls] |= uint64_t{1} << cls;
    }
  }
  held.push_back(now);
  return false;
}

void LockOrder::Release(int t, const void* lock) {
  std::vector<Held>& held = held_[t];
  for (size_t i = held.size(); i-- > 0;) {
    if (held[i].lock == lock) {
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  }
}

}  // namespace nf::sched
