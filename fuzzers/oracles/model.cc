#include "fuzzers/oracles/model.h"

#include <algorithm>
#include <limits>
#include <tuple>

#include "absl/container/inlined_vector.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {
namespace {

bool IsOdd(Seq s) { return (s & 1) != 0; }

using Kind = CallbackRecord::Kind;
// Expected callbacks of one step: small, so no heap allocation per op.
using Records = absl::InlinedVector<CallbackRecord, 8>;

CallbackRecord ClassicRecord(Kind kind, int id, const Range* range, bool result = true) {
  CallbackRecord r;
  r.kind = kind;
  r.id = id;
  if (range != nullptr) {
    r.start = range->start;
    r.end = range->end;
    r.blockable = range->blockable;
    r.event = range->event;
  }
  r.result = result;
  return r;
}

// A total order on records, to compare multisets.
bool RecordLess(const CallbackRecord& a, const CallbackRecord& b) {
  auto key = [](const CallbackRecord& r) {
    return std::make_tuple(static_cast<int>(r.kind), r.id, r.start, r.end, r.blockable,
                           static_cast<int>(r.event), r.cur_seq, r.result);
  };
  return key(a) < key(b);
}

std::string DescribeRecords(absl::Span<const CallbackRecord> rs) {
  if (rs.empty()) return "(none)";
  std::string out;
  for (const CallbackRecord& r : rs) absl::StrAppend(&out, "\n      ", DescribeRecord(r));
  return out;
}

}  // namespace

// One Apply: the log cursor and the first mismatch.
class Model::Run {
 public:
  Run(Model* m, absl::Span<const CallbackRecord> log) : m_(*m), log_(log) {}

  const Failure& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  // A difference that breaks no property by itself (the state, a result).
  void Fail(const std::string& what) {
    if (error_.empty()) error_ = NotAProperty(what);
  }
  void Fail(Property p, std::string_view what) {
    if (error_.empty()) error_ = Violated(p, what);
  }

  // Every recorded callback must have been consumed by an expectation.
  void ExpectLogConsumed() {
    if (pos_ < log_.size()) {
      Fail(absl::StrCat("unexpected callbacks:", DescribeRecords(log_.subspan(pos_))));
    }
  }

  // The next records must be exactly `want`, in any order.
  // p: the property a mismatch breaks (else none: the model and the core differ).
  void ExpectSet(Records want, const char* what, Property p = Property::kNone) {
    const size_t n = std::min(want.size(), log_.size() - pos_);
    Records got(log_.begin() + pos_, log_.begin() + pos_ + n);
    Records sorted_want = want;
    std::sort(got.begin(), got.end(), RecordLess);
    std::sort(sorted_want.begin(), sorted_want.end(), RecordLess);
    if (got != sorted_want) {
      const std::string text =
          absl::StrCat(what, ": expected callbacks", DescribeRecords(want), "\n    got",
                       DescribeRecords(log_.subspan(pos_, n)), pos_ + n < log_.size() ? " ..." : "");
      if (p == Property::kNone) {
        Fail(text);
      } else {
        Fail(p, text);
      }
    }
    pos_ += n;
  }

  void Warn(Warning w) { ++m_.warnings[static_cast<int>(w)]; }

  void EraseMirror(int slot, PageSpan range) {
    const Sub& s = m_.subs[slot];
    const PageSpan sub = PagesOf(s.start, s.last);
    for (int p = std::max(range.first, sub.first); p < std::min(range.end, sub.end); ++p) {
      m_.mirrors[slot][p] = 0;
    }
  }

  // mn_itree_inv_end.
  void IntervalEnd() {
    --m_.active;
    if (m_.active > 0 || !IsOdd(m_.seq)) return;
    ++m_.seq;
    for (Sub& s : m_.subs) {
      if (s.present && s.deferred_insert) s.deferred_insert = false;
    }
  }

  // §3.1: the interval walk over the closed interval [first, last]. Consumes the
  // walk's interval records. Returns false if it failed (EAGAIN).
  bool Walk(const Range& range, uint64_t first, uint64_t last) {
    ++m_.active;
    std::array<bool, kIntervalSlots> overlapping{};
    int n_overlapping = 0;
    for (int i = 0; i < kIntervalSlots; ++i) {
      const Sub& s = m_.subs[i];
      // first > last: an empty range, which overlaps nothing (even a
      // subscription starting at 0, which the (1, 0) encoding would reach).
      if (first <= last && s.present && !s.deferred_insert && s.start <= last &&
          first <= s.last) {
        overlapping[i] = true;
        ++n_overlapping;
      }
    }
    if (n_overlapping > 0) m_.seq |= 1;
    const Seq cur = m_.seq;
    std::array<bool, kIntervalSlots> called{};
    absl::InlinedVector<int, kIntervalSlots> order;
    int failed_slot = -1;
    while (failed_slot < 0 && pos_ < log_.size() && log_[pos_].kind == Kind::kInterval) {
      const CallbackRecord& r = log_[pos_++];
      // Formatted only for a report: this runs on every callback.
      auto where = [&r] { return DescribeRecord(r); };
      if (r.id < 0 || r.id >= kIntervalSlots || !overlapping[r.id]) {
        Fail(Property::kP3, absl::StrCat("callback on a subscription that does not overlap the range "
                          "(or is not in the tree): ", where()));
        return true;
      }
      if (called[r.id]) {
        Fail(Property::kP3, absl::StrCat("a subscription was called twice in one walk: ", where()));
        return true;
      }
      if (r.cur_seq != cur || r.start != range.start || r.end != range.end ||
          r.blockable != range.blockable || r.event != range.event) {
        Fail(Property::kP3, absl::StrFormat("callback %s, expected range [0x%x,0x%x) %s %s cur_seq=%#x",
                             where(), range.start, range.end,
                             range.blockable ? "block" : "nonblock", EventTextName(range.event),
                             cur));
        return true;
      }
      const bool ran = range.blockable || m_.lock_holder[r.id] < 0;  // got the driver lock
      Armed& armed = m_.armed[r.id];
      const bool misbehaves = ran && range.blockable && armed.fail_blockable;
      const bool want = ran && !misbehaves;
      if (r.result != want) {
        Fail(absl::StrCat("callback result differs (driver lock ",
                          m_.lock_holder[r.id] < 0 ? "free" : "held", "): ", where()));
        return true;
      }
      called[r.id] = true;
      order.push_back(r.id);
      if (!ran) {
        failed_slot = r.id;
        break;
      }
      if (armed.even_seq) {
        armed.even_seq = false;
        Warn(Warning::kSetSeqEven);  // the even set_seq is ignored
      }
      m_.subs[r.id].seq = cur;  // SetSeq under the driver lock
      EraseMirror(r.id, PagesOfRange(range));
      if (misbehaves) {
        // A blockable walk warns and goes on (§3.1).
        armed.fail_blockable = false;
        Warn(range.event == Event::kRelease ? Warning::kReleaseCallbackFailed
                                            : Warning::kBlockableCallbackFailed);
      }
    }
    if (failed_slot < 0) {
      for (int i = 0; i < kIntervalSlots; ++i) {
        if (overlapping[i] && !called[i]) {
          Fail(Property::kP3, absl::StrFormat("the walk over [0x%x,0x%x) did not call s%d (overlapping "
                               "[0x%x,0x%x])",
                               range.start, range.end, i, m_.subs[i].start, m_.subs[i].last));
          return true;
        }
      }
      return true;
    }
    // A failed non-blocking walk: ascending start order, nothing skipped before
    // the failure.
    const uint64_t fail_start = m_.subs[failed_slot].start;
    for (size_t k = 1; k < order.size(); ++k) {
      if (m_.subs[order[k]].start < m_.subs[order[k - 1]].start) {
        Fail(absl::StrFormat("walk order: s%d (start 0x%x) was called after s%d (start 0x%x)",
                             order[k], m_.subs[order[k]].start, order[k - 1],
                             m_.subs[order[k - 1]].start));
      }
    }
    for (int i = 0; i < kIntervalSlots; ++i) {
      if (overlapping[i] && !called[i] && m_.subs[i].start < fail_start) {
        Fail(absl::StrFormat("walk failed at s%d (start 0x%x) without calling s%d (start 0x%x)",
                             failed_slot, fail_start, i, m_.subs[i].start));
      }
    }
    IntervalEnd();  // §3.3: the failed walk's epoch is closed at once
    return false;
  }

  bool AnyLinked() const {
    for (const Classic& c : m_.classics) {
      if (c.linked) return true;
    }
    return false;
  }

  // §3: invalidate_range_start, after the exclusion was taken (open counted).
  bool Start(const Range& range) {
    if (!m_.has_subscriptions) return true;
    if (m_.has_itree) {
      const bool empty = range.end <= range.start;
      if (!Walk(range, empty ? 1 : range.start, empty ? 0 : range.end - 1)) return false;
    }
    if (!AnyLinked()) return true;
    Records starts;
    bool failed = false;
    for (int id = 0; id < kNumClassicIds; ++id) {
      const Classic& c = m_.classics[id];
      if (!c.linked || !(c.behaviour & kHasStart)) continue;
      bool ok = !((c.behaviour & kFailsNonblock) && !range.blockable);
      failed |= !ok;
      if (range.blockable && id < kClassicSlots && m_.fail_start_armed[id]) {
        // A blockable caller never sees EAGAIN: the core warns and goes on.
        m_.fail_start_armed[id] = false;
        ok = false;
        Warn(Warning::kBlockableCallbackFailed);
      }
      starts.push_back(ClassicRecord(Kind::kStart, id, &range, ok));
    }
    ExpectSet(std::move(starts), "classic invalidate_range_start");
    if (!failed) return true;
    ExpectSet(Ends(range), "classic ends after a failed start (P8 pairing)", Property::kP8);
    if (m_.has_itree) IntervalEnd();
    return false;
  }

  Records Ends(const Range& range) const {
    Records ends;
    for (int id = 0; id < kNumClassicIds; ++id) {
      const Classic& c = m_.classics[id];
      if (c.linked && (c.behaviour & kHasEnd)) ends.push_back(ClassicRecord(Kind::kEnd, id, &range));
    }
    return ends;
  }

  // §3: invalidate_range_end (only_end: the range-only end, §10.6). Where the
  // target's ends call the secondary-TLB method (6.1), each linked secondary
  // subscriber gets it too, unless only_end.
  void End(const Range& range, bool only_end = false) {
    if (m_.open == 0) {
      Warn(Warning::kEndWithoutStart);
      return;
    }
    if (m_.has_subscriptions) {
      if (m_.has_itree) IntervalEnd();
      if (AnyLinked()) {
        Records want = Ends(range);
        if (m_.traits_.end_calls_secondary_tlb && !only_end) {
          for (const CallbackRecord& r : Secondary(Kind::kSecondaryTlb, range.start, range.end)) {
            want.push_back(r);
          }
        }
        ExpectSet(std::move(want), "classic invalidate_range_end");
      }
    }
    --m_.open;
  }

  // §10: a secondary-MMU call (kind) on every linked subscriber that has it,
  // with its answer (young calls) or true.
  Records Secondary(Kind kind, uint64_t start, uint64_t end) const {
    Records out;
    for (int id = 0; id < kNumClassicIds; ++id) {
      const Classic& c = m_.classics[id];
      if (!c.linked || !(c.behaviour & target::kClassicSecondary)) continue;
      if (kind == Kind::kSecondaryTlb && !target::HasSecondaryTlb(c.behaviour)) continue;
      CallbackRecord r = ClassicRecord(kind, id, nullptr, false);
      r.start = start;
      r.end = end;
      r.result = (kind == Kind::kClearFlushYoung || kind == Kind::kClearYoung ||
                  kind == Kind::kTestYoung) && ClassicYoung(id, start);
      out.push_back(r);
    }
    return out;
  }

  // §10.1 test_young: the list order is the target's, so any order is accepted:
  // each linked secondary subscriber at most once, with its answer, the walk
  // stopping at the first young one or covering all. Returns the answer.
  bool TestYoung(uint64_t address) {
    const Records all = Secondary(Kind::kTestYoung, address, address);
    std::array<bool, kNumClassicIds> seen{};
    bool young = false;
    size_t n = 0;
    while (!young && pos_ < log_.size() && log_[pos_].kind == Kind::kTestYoung) {
      const CallbackRecord& r = log_[pos_++];
      const auto it = std::find_if(all.begin(), all.end(),
                                   [&](const CallbackRecord& w) { return w.id == r.id; });
      if (it == all.end() || seen[r.id] || !(*it == r)) {
        Fail(absl::StrCat("§10.1 test_young: unexpected callback (not a linked secondary "
                          "subscriber, a second call, or another answer): ", DescribeRecord(r)));
        return r.result;
      }
      seen[r.id] = true;
      young = r.result;
      ++n;
    }
    if (!young && n != all.size()) {
      Fail(absl::StrFormat("§10.1 test_young: no young answer, yet %d of the %d secondary "
                           "subscribers were asked", n, all.size()));
    }
    return young;
  }

  // Frees a get/put subscriber whose last reference went (after a grace period).
  CallbackRecord Free(int id) {
    Classic& c = m_.classics[id];
    c = Classic{};
    --m_.refs;
    return ClassicRecord(Kind::kFree, id, nullptr);
  }

  // §5: the last user has gone.
  void Release() {
    m_.released = true;
    if (m_.has_subscriptions) {
      if (m_.has_itree) {
        Range r;
        r.start = 0;
        r.end = std::numeric_limits<uint64_t>::max();
        r.blockable = true;
        r.event = Event::kRelease;
        Walk(r, 0, std::numeric_limits<uint64_t>::max());
        IntervalEnd();
      }
      if (AnyLinked()) {
        Records want;
        absl::InlinedVector<int, 8> frees;
        for (int id = 0; id < kNumClassicIds; ++id) {
          Classic& c = m_.classics[id];
          if (!c.linked) continue;
          if (!c.claimed) {
            c.claimed = true;
            if (c.behaviour & kHasRelease) {
              want.push_back(ClassicRecord(Kind::kRelease, id, nullptr));
              if ((c.behaviour & kPutsSelfOnRelease) && id >= kClassicSlots) {
                m_.get_refs[c.behaviour] = 0;
                c.users = 0;
                c.registered = false;
                frees.push_back(id);
              }
            }
          }
          c.linked = false;
        }
        for (int id : frees) want.push_back(Free(id));
        ExpectSet(std::move(want), "release of the classic subscribers");
      }
    }
    --m_.refs;  // the users' reference
  }

  void DropUser() {
    if (--m_.users == 0) Release();
  }

 private:
  Model& m_;
  absl::Span<const CallbackRecord> log_;
  size_t pos_ = 0;
  Failure error_;
};

Model::Model(InitialSeq initial_seq, int num_threads)
    : seq(InitialSeqValue(initial_seq)), threads(num_threads) {
  lock_holder.fill(-1);
  page_table.fill(1);
}

int Model::deferred_count() const {
  int n = 0;
  for (const Sub& s : subs) n += s.present && s.deferred_insert;
  return n;
}

int Model::tree_count() const {
  int n = 0;
  for (const Sub& s : subs) n += s.present && !s.deferred_insert;
  return n;
}

int Model::linked_count() const {
  int n = 0;
  for (const Classic& c : classics) n += c.linked;
  return n;
}

std::optional<std::string_view> Model::SkipReason(int thread, const Op& op) const {
  const Sub* sub = UsesIntervalSlot(op.code) ? &subs[op.slot] : nullptr;
  // Which driver locks `lock` ops hold. A sequential run has one OS thread, so
  // a lock op's lock is held by that thread while it runs every other logical
  // thread's ops: taking a second driver lock then would be a nested lock no
  // real thread takes (and TSan reports the inversions). So at most one driver
  // lock is held at a time, and while it is, no op takes another one.
  int held = -1;
  for (int i = 0; i < kIntervalSlots; ++i) {
    if (lock_holder[i] >= 0) held = i;
  }
  // Would a blockable walk over [first, last] call a subscription (with
  // `only_held`: one whose driver lock is held)?
  auto walk_calls = [&](uint64_t first, uint64_t last, bool only_held) {
    if (!has_itree || !has_subscriptions || first > last) return false;
    for (int i = 0; i < kIntervalSlots; ++i) {
      const Sub& s = subs[i];
      if ((!only_held || lock_holder[i] >= 0) && s.present && !s.deferred_insert &&
          s.start <= last && first <= s.last) {
        return true;
      }
    }
    return false;
  };
  // Release walks every subscription, including deferred inserts that the end
  // dropping the last user applies first.
  auto release_blocked = [&] {
    if (held < 0) return false;
    for (const Sub& s : subs) {
      if (s.present) return true;
    }
    return false;
  };
  // Would an op on `slot` that takes its driver lock (unless `thread` holds it)
  // nest it inside another?
  auto second_lock = [&](int slot) { return held >= 0 && lock_holder[slot] < 0; };
  switch (op.code) {
    case OpCode::kInsert:
    case OpCode::kInsertAt:
    case OpCode::kInsertLocked:
      if (InsertRejected(op) || sub->present || users == 0) return std::nullopt;
      if ((!has_subscriptions || !has_itree) && open > 0) {
        return "insert must set up the interval tree, which waits for open invalidations";
      }
      return std::nullopt;
    case OpCode::kRemove:
      if (sub->present && !sub->deferred_insert && IsOdd(seq)) {
        return "remove would wait for the odd epoch to end";
      }
      if (sub->present && lock_holder[op.slot] >= 0 && lock_holder[op.slot] != thread) {
        return "the driver's teardown would wait for a lock another thread holds";
      }
      if (sub->present && second_lock(op.slot)) {
        return "the driver's teardown would nest its lock in a held driver lock";
      }
      return std::nullopt;
    case OpCode::kInvalidate:
    case OpCode::kInvStart:
    case OpCode::kInvalidateAt:
    case OpCode::kInvStartAt:
    case OpCode::kInvalidateMm: {
      // The closed interval of the walk; an empty range walks nothing.
      const bool empty = op.length() == 0;
      const uint64_t first = empty ? 1 : op.start();
      const uint64_t last = empty ? 0 : op.start() + op.length() - 1;
      // invalidate_mm walks without a user too (§10.8).
      const bool walks = users > 0 || op.code == OpCode::kInvalidateMm;
      if (walks && op.blockable && held >= 0 && walk_calls(first, last, /*only_held=*/false)) {
        return walk_calls(first, last, /*only_held=*/true)
                   ? "a blockable walk would wait for a driver lock a lock op holds"
                   : "a blockable walk would nest driver locks in a held driver lock";
      }
      if (walks && walk_calls(first, last, true)) {
        // The kernel issues RELEASE only from exit, blockable; the core treats a
        // false on RELEASE as a driver bug (warn, continue) even when not blockable.
        if (op.event == Event::kRelease) return "a non-blockable RELEASE walk that would fail";
      }
      return std::nullopt;
    }
    case OpCode::kInvEnd:
    case OpCode::kInvOnlyEnd:
      if (threads[thread].open.empty()) {
        if (open > 0) return "no open inv_start in this thread";
        return std::nullopt;
      }
      if (users == 1 && release_blocked()) {
        return "the last user's release would take driver locks while a lock op holds one";
      }
      return std::nullopt;
    case OpCode::kReadBegin:
    case OpCode::kFault:
    case OpCode::kFaultAt:
      if (!sub->present) return "empty slot";
      if (IsFault(op.code) && users == 0) return std::nullopt;  // runs: no user
      if (sub->seq == seq) return "read_begin would wait for the epoch invalidating it";
      if (IsFault(op.code) && lock_holder[op.slot] >= 0) {
        return "the fault would wait for a driver lock a lock op holds";
      }
      if (IsFault(op.code) && second_lock(op.slot)) {
        return "the fault would nest its driver lock in a held one";
      }
      return std::nullopt;
    case OpCode::kReadRetry:
      if (!sub->present) return "empty slot";
      if (lock_holder[op.slot] >= 0 && lock_holder[op.slot] != thread) {
        return "the driver lock is held by another thread";
      }
      if (second_lock(op.slot)) return "read_retry would nest its driver lock in a held one";
      return std::nullopt;
    case OpCode::kCheckRetry:
      if (!sub->present) return "empty slot";
      return std::nullopt;
    case OpCode::kRegister:
    case OpCode::kRegisterSecondary:
    case OpCode::kGet:
      if (users > 0 && open > 0) return "registration waits for open invalidations";
      return std::nullopt;
    case OpCode::kClearFlushYoung:
    case OpCode::kClearYoung:
    case OpCode::kTestYoung:
    case OpCode::kChangePte:
    case OpCode::kSecondaryTlb:
    case OpCode::kReadOnly:
    case OpCode::kSynchronize:  // no read-side section spans an op here: never waits
      return std::nullopt;
    case OpCode::kUnregister:
    case OpCode::kPut:
      return std::nullopt;
    case OpCode::kRelease:
      if (!program_user) return "the program's user has already exited";
      if (users == 1 && release_blocked()) {
        return "release would take driver locks while a lock op holds one";
      }
      return std::nullopt;
    case OpCode::kLock:
      if (lock_holder[op.slot] >= 0) return "the driver lock is already held";
      if (held >= 0) return "another driver lock is held (one at a time)";
      return std::nullopt;
    case OpCode::kUnlock:
      if (lock_holder[op.slot] != thread) return "this thread does not hold the driver lock";
      return std::nullopt;
    case OpCode::kMisbehave:
      return std::nullopt;
  }
  return std::nullopt;
}

Failure Model::Apply(int thread, const Op& op, const OpResult& actual,
                         absl::Span<const CallbackRecord> log) {
  Run run(this, log);
  OpResult want;
  Thread& th = threads[thread];
  switch (op.code) {
    case OpCode::kInsert:
    case OpCode::kInsertAt:
    case OpCode::kInsertLocked: {
      want.got_user = users > 0;
      Sub& s = subs[op.slot];
      if (InsertRejected(op)) {
        want.code = absl::StatusCode::kOutOfRange;
      } else if (s.present) {
        run.Warn(Warning::kInsertTwice);
        want.code = absl::StatusCode::kAlreadyExists;
      } else if (users == 0) {
        want.code = absl::StatusCode::kFailedPrecondition;
      } else {
        has_subscriptions = true;
        has_itree = true;
        ++refs;
        s = Sub{};
        s.present = true;
        s.start = op.start();
        s.last = op.start() + op.length() - 1;
        if (active > 0) {
          if (IsOdd(seq)) {
            s.deferred_insert = true;
          } else {
            seq |= 1;
          }
          s.seq = seq;
        } else {
          s.seq = seq - 1;
        }
      }
      break;
    }
    case OpCode::kRemove: {
      Sub& s = subs[op.slot];
      if (!s.present) {
        run.Warn(Warning::kRemoveNotInserted);
        break;
      }
      s = Sub{};
      --refs;
      mirrors[op.slot].fill(0);
      armed[op.slot] = {};
      break;
    }
    case OpCode::kInvalidate:
    case OpCode::kInvStart:
    case OpCode::kInvalidateAt:
    case OpCode::kInvStartAt: {
      want.got_user = users > 0;
      if (!want.got_user) break;
      const Range r = RangeOfOp(op);
      ++open;
      if (!run.Start(r)) {
        --open;
        want.code = absl::StatusCode::kUnavailable;
        break;
      }
      const PageSpan span = harness::WholePagesOfRange(r);  // the pages it changes
      for (int p = span.first; p < span.end; ++p) ++page_table[p];
      if (IsInvStart(op.code)) {
        th.open.push_back(r);
        ++users;  // held until inv_end
      } else {
        run.End(r);
      }
      break;
    }
    case OpCode::kInvEnd:
    case OpCode::kInvOnlyEnd: {
      const bool only = op.code == OpCode::kInvOnlyEnd;
      if (th.open.empty()) {
        run.End(Range{}, only);  // no open start anywhere: warns
        break;
      }
      const Range r = th.open.back();
      th.open.pop_back();
      run.End(r, only);
      run.DropUser();
      break;
    }
    case OpCode::kInvalidateMm: {
      // §10.8: a reference (grabbed and dropped around it), no user: it walks
      // after release too; the classic subscribers are unlinked by then.
      const Range r = RangeOfOp(op);
      ++open;
      if (!run.Start(r)) {
        --open;
        want.code = absl::StatusCode::kUnavailable;
        break;
      }
      const PageSpan span = harness::WholePagesOfRange(r);
      for (int p = span.first; p < span.end; ++p) ++page_table[p];
      run.End(r);
      break;
    }
    case OpCode::kClearFlushYoung:
    case OpCode::kClearYoung:
    case OpCode::kChangePte:
    case OpCode::kSecondaryTlb: {
      want.got_user = users > 0;
      if (!want.got_user || !has_subscriptions) break;
      const Kind kind = op.code == OpCode::kClearFlushYoung ? Kind::kClearFlushYoung
                        : op.code == OpCode::kClearYoung    ? Kind::kClearYoung
                        : op.code == OpCode::kChangePte     ? Kind::kChangePte
                                                            : Kind::kSecondaryTlb;
      const bool address = kind == Kind::kChangePte;
      if (kind == Kind::kChangePte && !traits_.has_change_pte) break;  // 6.12: no such call
      Records calls = run.Secondary(kind, op.start(),
                                    address ? op.start() : op.start() + op.length());
      for (const CallbackRecord& r : calls) want.flag |= r.result;
      run.ExpectSet(std::move(calls), OpCodeName(op.code).data());
      break;
    }
    case OpCode::kTestYoung:
      want.got_user = users > 0;
      if (want.got_user && has_subscriptions) {
        want.flag = run.TestYoung(op.start());
        if (run.failed()) want.flag = actual.flag;  // reported already
      }
      break;
    case OpCode::kReadOnly:
      want.flag = traits_.has_range_update_to_read_only && op.event == Event::kProtectionVma;
      break;
    case OpCode::kSynchronize:
      break;
    case OpCode::kReadBegin:
      want.seq = subs[op.slot].seq;
      th.last_seq[op.slot] = want.seq;
      break;
    case OpCode::kReadRetry:
    case OpCode::kCheckRetry:
      want.retry = subs[op.slot].seq != th.last_seq[op.slot];
      break;
    case OpCode::kFault:
    case OpCode::kFaultAt: {
      want.got_user = users > 0;
      if (!want.got_user) break;
      want.attempts = 1;
      const Sub& s = subs[op.slot];
      const PageSpan f = PagesOfOp(op);
      const PageSpan m = PagesOf(s.start, s.last);
      for (int p = std::max(f.first, m.first); p < std::min(f.end, m.end); ++p) {
        mirrors[op.slot][p] = page_table[p];
      }
      break;
    }
    case OpCode::kRegister:
    case OpCode::kRegisterSecondary: {
      want.got_user = users > 0;
      Classic& c = classics[op.slot];
      if (users == 0) {
        want.code = absl::StatusCode::kFailedPrecondition;
      } else if (c.exists) {
        run.Warn(Warning::kRegisterTwice);
        want.code = absl::StatusCode::kAlreadyExists;
      } else {
        has_subscriptions = true;
        ++refs;
        c = Classic{};
        c.exists = c.linked = c.registered = true;
        c.users = 1;
        c.behaviour = RegisteredBehaviour(op);
      }
      break;
    }
    case OpCode::kUnregister: {
      Classic& c = classics[op.slot];
      if (!c.exists) {
        run.Warn(Warning::kUnregisterNotRegistered);
        break;
      }
      Records want_cb;
      if (c.linked && !c.claimed && (c.behaviour & kHasRelease)) {
        want_cb.push_back(ClassicRecord(Kind::kRelease, op.slot, nullptr));
      }
      run.ExpectSet(std::move(want_cb), "unregister");
      c = Classic{};
      --refs;
      fail_start_armed[op.slot] = false;
      break;
    }
    case OpCode::kGet: {
      want.got_user = users > 0;
      if (users == 0) {
        want.code = absl::StatusCode::kFailedPrecondition;
        break;
      }
      const int id = GetKindId(op.behaviour);
      Classic& c = classics[id];
      if (c.exists && c.linked && c.registered) {
        ++c.users;
      } else {
        has_subscriptions = true;
        ++refs;
        c = Classic{};
        c.exists = c.linked = c.registered = true;
        c.users = 1;
        c.behaviour = op.behaviour;
      }
      ++get_refs[op.behaviour];
      break;
    }
    case OpCode::kPut: {
      const int id = GetKindId(op.behaviour);
      Classic& c = classics[id];
      if (get_refs[op.behaviour] == 0 || !c.exists) {
        run.Warn(Warning::kPutNotRegistered);
        break;
      }
      --get_refs[op.behaviour];
      Records want_cb;
      if (--c.users == 0) want_cb.push_back(run.Free(id));
      run.ExpectSet(std::move(want_cb), "put");
      break;
    }
    case OpCode::kRelease:
      program_user = false;
      run.DropUser();
      break;
    case OpCode::kLock:
      lock_holder[op.slot] = thread;
      break;
    case OpCode::kUnlock:
      lock_holder[op.slot] = -1;
      break;
    case OpCode::kMisbehave:
      // nf's core reports misuse (the only target the sequential model runs).
      if (op.misbehaviour == Misbehaviour::kFailStart) {
        if (classics[op.slot].exists) fail_start_armed[op.slot] = true;
      } else if (subs[op.slot].present) {
        (op.misbehaviour == Misbehaviour::kEvenSeq ? armed[op.slot].even_seq
                                                   : armed[op.slot].fail_blockable) = true;
      }
      break;
  }
  run.ExpectLogConsumed();
  if (!run.failed() && !(actual == want)) {
    run.Fail(absl::StrFormat("result: expected %s, got %s", DescribeResult(op.code, want),
                             DescribeResult(op.code, actual)));
  }
  return run.error();
}

}  // namespace nf::fuzz
