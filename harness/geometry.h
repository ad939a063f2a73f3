// harness/geometry.h: the page-granular address space of the driver model
// (harness/driver.h): its page size, page table size and the page spans of
// ranges. No synchronization: the program vocabulary uses it too.
#ifndef NF_HARNESS_GEOMETRY_H_
#define NF_HARNESS_GEOMETRY_H_

#include <algorithm>
#include <cstdint>

namespace nf::harness {

inline constexpr uint64_t kPageSize = 0x1000;
// The page table's size: every range a program can make ends below it (the
// program vocabulary's kSpacePages + kMaxRangePages).
inline constexpr int kTablePages = 32;
// A fault retries once per invalidation that collides with it; more attempts
// than this without progress means a livelock worth reporting.
inline constexpr int kMaxFaultAttempts = 8;

// A page's value in the page table: a version bumped on every change. In a
// mirror, 0 means "no entry"; the page table's values start at 1.
using PageValue = uint32_t;

// Pages [first, end) of the page table covered by the closed interval
// [start, last], clipped to the table.
struct PageSpan {
  int first = 0;
  int end = 0;  // exclusive; first >= end: empty
  bool empty() const { return first >= end; }
};
inline PageSpan PagesOf(uint64_t start, uint64_t last) {
  if (last < start) return {};
  const uint64_t first = start / kPageSize;
  const uint64_t end = last / kPageSize + 1;  // no overflow: last / kPageSize < 2^52
  PageSpan s;
  s.first = static_cast<int>(std::min<uint64_t>(first, kTablePages));
  s.end = static_cast<int>(std::min<uint64_t>(end, kTablePages));
  return s;
}
// The pages wholly inside the closed interval [start, last], clipped to the
// table: the pages an invalidation of it changes. A page is the unit of change:
// a range that covers only part of a page (the boundary ops) leaves that page's
// value alone, since changing it would change bytes outside the range (§6).
inline PageSpan WholePagesOf(uint64_t start, uint64_t last) {
  if (last < start) return {};
  const uint64_t first = start / kPageSize + (start % kPageSize != 0);
  // The page after the last whole one; no overflow: last / kPageSize < 2^52.
  const uint64_t end = last / kPageSize + (last % kPageSize == kPageSize - 1);
  PageSpan s;
  s.first = static_cast<int>(std::min<uint64_t>(first, kTablePages));
  s.end = static_cast<int>(std::min<uint64_t>(end, kTablePages));
  return s;
}
template <typename R>
PageSpan WholePagesOfRange(const R& r) {
  if (r.end <= r.start) return {};
  return WholePagesOf(r.start, r.end - 1);
}
// The pages of a range ([start, end) exclusive; any type with those fields).
template <typename R>
PageSpan PagesOfRange(const R& r) {
  if (r.end <= r.start) return {};
  return PagesOf(r.start, r.end - 1);
}

}  // namespace nf::harness

#endif  // NF_HARNESS_GEOMETRY_H_
