#include "fuzzers/executors/sequential.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzzers/world/world.h"
#include "fuzzers/oracles/model.h"
#include "fuzzers/oracles/oracles.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {
namespace {

// The report of a state that differs from the model's after an op: the
// differences one a line; its property is the first a line names (P1, P2, P6),
// the text stays as it was when the report's property was read from it.
Failure StateDiffers(Property first, const std::string& diff) {
  return Failure{first, absl::StrCat("state differs after the op:", diff)};
}

bool IsOdd(Seq s) { return (s & 1) != 0; }

template <typename T>
std::string Show(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_signed_v<T>) {
    return absl::StrCat(static_cast<long long>(v));
  } else {
    return absl::StrFormat("%#x", static_cast<unsigned long long>(v));
  }
}

// The snapshots of every step, reused from input to input (their vectors keep
// their storage, so a step allocates nothing).
struct Buffers {
  Snapshot callback;  // at an interval callback
  Snapshot before;    // before an invalidation
  Snapshot after;     // after a state-changing op, and at the end
};

class SequentialRun final : public WorldObserver {
 public:
  SequentialRun(const Program& p, const SequentialOptions& o, Buffers* buffers)
      : program_(p),
        options_(o),
        buffers_(*buffers),
        model_(p.initial_seq, static_cast<int>(p.threads.size())),
        world_(p.initial_seq, static_cast<int>(p.threads.size()), this) {
    model_.SetTraits(world_.target_traits());
  }

  void Run() {
    World::Scope scope(&world_);
    if (options_.verbose) std::fprintf(options_.verbose, "%s", Print(program_).c_str());
    ForEachOp(program_, [&](int thread, size_t index, const Op& op) {
      Step(thread, op, static_cast<int>(index));
    });
    Cleanup();
    world_.Finish();
  }

  // --- WorldObserver ---
  void AtIntervalCallback(const IntervalSub& sub, const Range& range, Seq cur_seq) override {
    if (!options_.check_at_callbacks) return;
    Snapshot& snap = buffers_.callback;
    world_.target()->InspectInto(&snap);
    const Failure f = P3SequentialCallback(
        {.sub = &sub, .slot = sub.slot(), .range = range, .cur_seq = cur_seq, .snapshot = &snap});
    if (!f.empty()) Violation(f);
  }

  [[noreturn]] void Violation(const Failure& failure) override {
    const std::string& what = failure.text;
    if (options_.verbose) std::fflush(options_.verbose);
    if (JsonReportWanted()) EmitRunJson(Record(failure));
    std::fprintf(stderr,
                 "\n==== nf sequential_fuzzer: CHECK FAILED ====\nstep: %s\n%s\n\n"
                 "program (text form):\n%s==== end ====\n",
                 StepText().c_str(), what.c_str(), Print(program_).c_str());
    std::fflush(stderr);
    std::abort();
  }

 private:
  // The JSON run document of a violation (report_json.h).
  RunRecord Record(const Failure& failure) const {
    RunRecord r;
    r.executor = "sequential";
    r.program = &program_;
    if (options_.events != nullptr) {
      r.has_trace = true;
      r.trace = *options_.events;
    }
    r.verdict = FailureVerdict(failure);
    r.verdict.where = StepText();
    if (step_.op) {
      r.verdict.step = step_no_;
      r.verdict.thread = step_.thread;
      r.verdict.op = step_.index;
      r.verdict.cleanup = step_.index < 0;
    } else {
      r.verdict.cleanup = true;  // the end-of-program checks
    }
    return r;
  }

  void Event(const char* kind, std::string text) {
    if (options_.events == nullptr) return;
    options_.events->push_back({static_cast<uint64_t>(step_no_), step_.thread, kind,
                                std::move(text)});
  }

  // index: the op's index in its thread's list, or -1 for a cleanup step.
  void Step(int thread, const Op& op, int index) {
    step_ = {thread, index, op};
    ++step_no_;
    std::optional<std::string_view> why = model_.SkipReason(thread, op);
    if (!why) why = TargetSkipReason(thread, op);
    if (why) {
      Event("skip",
            absl::StrCat(StepText(), "  skipped: ", absl::string_view(why->data(), why->size())));
      if (cleanup_) Violation(NotAProperty(absl::StrFormat("cleanup cannot run this op: %s", *why)));
      if (options_.verbose) {
        std::fprintf(options_.verbose, "%s  skipped: %.*s\n", StepText().c_str(),
                     static_cast<int>(why->size()), why->data());
        std::fflush(options_.verbose);
      }
      return;
    }
    const bool invalidation = IsInvalidation(op.code) || op.code == OpCode::kInvalidateMm;
    Snapshot& before = buffers_.before;
    if (invalidation) world_.target()->InspectInto(&before);
    world_.ClearLog();
    const OpResult res = world_.Execute(thread, op);
    if (options_.events != nullptr) {
      Event("op", absl::StrCat(StepText(), " -> ", DescribeResult(op.code, res)));
      for (const CallbackRecord& r : world_.log()) Event("callback", DescribeRecord(r));
    }
    if (options_.verbose) {
      std::fprintf(options_.verbose, "%s  -> %s\n", StepText().c_str(),
                   DescribeResult(op.code, res).c_str());
      for (const CallbackRecord& r : world_.log()) {
        std::fprintf(options_.verbose, "    cb: %s\n", DescribeRecord(r).c_str());
      }
    }
    const Failure err = model_.Apply(thread, op, res, world_.log());
    if (!err.empty()) Violation(ModelDiffers(err));
    if (IsAnyInsert(op.code) && res.code == absl::StatusCode::kOutOfRange &&
        !traits().failed_insert_leaves_no_tree && res.got_user && !model_.has_itree) {
      // Traits::failed_insert_leaves_no_tree: the target set up its tree first.
      model_.has_subscriptions = model_.has_itree = world_.target()->HasItree();
    }
    CheckDriversAndSeqs(options_.verbose != nullptr || MayChangeMirrors(op.code) ||
                        !world_.log().empty());
    // The full snapshot after every op that can change the core's state; the
    // others (read_begin, read_retry, check_retry, fault, lock, unlock) only read
    // it, and any change they made would show at the next full check.
    if (!ChangesCoreState(op.code) && !options_.verbose) return;
    Snapshot& after = buffers_.after;
    world_.target()->InspectInto(&after);
    if (invalidation && res.code == absl::StatusCode::kUnavailable) CheckFailedStart(before, after);
    CheckSnapshot(after);
    if (options_.verbose) {
      std::fprintf(options_.verbose, "    %s\n", StateLine(after).c_str());
      std::fflush(options_.verbose);
    }
  }

  // Ops outside what the target's traits let it take (target.h Traits): the
  // model predicts nf's contract, which a target without those capabilities
  // (the kernel) does not promise, so the sequential run never calls them.
  // First the rule every executor shares (TargetSkipReason, world.h), then
  // those over the model's state.
  std::optional<std::string_view> TargetSkipReason(int thread, const Op& op) {
    const target::Traits& tr = traits();
    const Model& m = model_;
    if (std::optional<std::string_view> why = fuzz::TargetSkipReason(tr, op)) return why;
    if (!tr.reports_misuse) {
      // The misuse nf's core detects and warns of (model.h): the target's
      // callers never do it (the kernel would corrupt its lists or BUG).
      switch (Info(op.code).misuse) {
        case Misuse::kIntervalSlotTaken:
          // Any shape: the kernel writes the interval's start before it checks
          // the length, corrupting the tree entry of an inserted subscription.
          if (m.subs[op.slot].present) return "insert twice: misuse this target does not detect";
          break;
        case Misuse::kIntervalSlotEmpty:
          if (!m.subs[op.slot].present) return "remove of an empty slot: misuse this target does not detect";
          break;
        case Misuse::kClassicSlotTaken:
          if (m.users > 0 && m.classics[op.slot].exists) {
            return "register twice: misuse this target does not detect";
          }
          break;
        case Misuse::kClassicSlotEmpty:
          if (!m.classics[op.slot].exists) {
            return "unregister of an empty slot: misuse this target does not detect";
          }
          break;
        case Misuse::kNoReference:
          if (m.get_refs[op.behaviour] == 0) return "put without a reference: misuse this target does not detect";
          break;
        case Misuse::kNoOpenStart:
          if (m.threads[thread].open.empty()) {
            return "inv_end with no open start: misuse this target does not detect";
          }
          break;
        case Misuse::kNone:
          break;
      }
    }
    if (!tr.release_walk_covers_top_address && IsAnyInsert(op.code) &&
        op.start() == ~uint64_t{0}) {
      // The model's RELEASE walk reaches the top byte; this target's stops below it.
      return "a subscription of the top byte alone, which this target's RELEASE walk leaves out "
             "(Traits::release_walk_covers_top_address)";
    }
    if (!tr.failed_insert_leaves_no_tree && IsAnyInsert(op.code) && m.users > 0 &&
        (!m.has_subscriptions || !m.has_itree) && m.open > 0) {
      // Any shape sets up the tree first, which waits for open invalidations.
      return "insert must set up the interval tree, which waits for open invalidations";
    }
    if (!tr.accepts_ops_without_user && m.users == 0 &&
        (IsAnyInsert(op.code) || IsRegister(op.code) || op.code == OpCode::kGet)) {
      return "no user (this target's callers must hold one)";
    }
    if (!tr.failed_classic_start_closes_interval_walk &&
        (IsInvalidation(op.code) || op.code == OpCode::kInvalidateMm) && !op.blockable &&
        (m.users > 0 || op.code == OpCode::kInvalidateMm) && world_.target()->HasItree()) {
      // Traits::failed_classic_start_closes_interval_walk: a failing classic
      // start after a successful interval walk leaves the walk open for good.
      // Without an interval tree there is no walk to leave open, so the
      // classic error path (every started subscriber ended) stays in reach.
      for (const Model::Classic& c : m.classics) {
        if (c.linked && (c.behaviour & kFailsNonblock) != 0) {
          return "a classic start can fail (this target leaves the walk open when it fails)";
        }
      }
    }
    return std::nullopt;
  }

  const target::Traits& traits() const { return world_.target_traits(); }

  // P8: a failed start leaves the state as it found it.
  void CheckFailedStart(const Snapshot& b, const Snapshot& a) {
    const Failure f = P8FailedStartStates({.before = &b, .after = &a}, traits());
    if (!f.empty()) Violation(f);
  }

  static bool ChangesCoreState(OpCode c) { return Info(c).changes_state; }

  // OpInfo::may_change_mirrors (program.h): what P6 and the mirror comparison
  // must look at after the op.
  static bool MayChangeMirrors(OpCode c) { return Info(c).may_change_mirrors; }

  // After every op: each live subscription's seq (P2 and the model's value), the
  // live objects; and, when the op may have changed them (`mirrors`; else they
  // are as the last check found them, on both sides), the mirrors and the page
  // table (the model's values, and P6).
  void CheckDriversAndSeqs(bool mirrors) {
    const Model& m = model_;
    std::string diff;
    Property first = Property::kNone;  // the first property a line below names
    for (int slot = 0; slot < kIntervalSlots; ++slot) {
      const IntervalSub* sub = world_.sub(slot);
      if ((sub != nullptr) != m.subs[slot].present) {
        absl::StrAppendFormat(&diff, "\n  s%d: %s in the world, %s in the model", slot,
                              sub ? "live" : "absent", m.subs[slot].present ? "live" : "absent");
        continue;
      }
      if (sub == nullptr) continue;
      const Seq seq = sub->seq_for_testing();
      if (seq != m.subs[slot].seq) {
        absl::StrAppendFormat(&diff, "\n  s%d seq: core %#x, model %#x", slot, seq,
                              m.subs[slot].seq);
      }
      if (!IsOdd(seq)) {
        absl::StrAppendFormat(&diff, "\n  P2: s%d has even seq %#x", slot, seq);
        if (first == Property::kNone) first = Property::kP2;
      }
    }
    if (!mirrors) {
      if (!diff.empty()) Violation(StateDiffers(first, diff));
      return;
    }
    static_assert(kTablePages <= 64);
    uint64_t covered = 0;  // pages under an open invalidation
    for (const Model::Thread& t : m.threads) {
      for (const Range& r : t.open) {
        const PageSpan sp = PagesOfRange(r);
        for (int p = sp.first; p < sp.end; ++p) covered |= uint64_t{1} << p;
      }
    }
    const PageTable& pt = world_.page_table();
    // Plain loops, not memcmp: ASan intercepts memcmp, and this runs every op.
    auto same = [](const std::array<PageValue, kTablePages>& a,
                   const std::array<PageValue, kTablePages>& b) {
      for (int p = 0; p < kTablePages; ++p) {
        if (a[p] != b[p]) return false;
      }
      return true;
    };
    std::array<PageValue, kTablePages> table;
    for (int p = 0; p < kTablePages; ++p) table[p] = pt.Read(p);
    if (!same(table, m.page_table)) diff += "\n  page table: world and model differ";
    for (int slot = 0; slot < kIntervalSlots; ++slot) {
      const Driver& d = world_.driver(slot);
      if (same(d.MirrorArrayForTesting(), m.mirrors[slot])) {
        for (int p = 0; p < kTablePages; ++p) {
          const PageValue v = m.mirrors[slot][p];
          if (v != 0 && !(covered >> p & 1) && v != table[p]) {
            if (first == Property::kNone) first = Property::kP6;
            absl::StrAppendFormat(&diff, "\n  P6: mirror s%d [%d] = %d but the page table has %d",
                                  slot, p, v, table[p]);
          }
        }
        continue;
      }
      for (int p = 0; p < kTablePages; ++p) {
        const PageValue v = d.MirrorForTesting(p);
        if (v != m.mirrors[slot][p]) {
          absl::StrAppendFormat(&diff, "\n  mirror s%d [%d]: driver %d, model %d", slot, p, v,
                                m.mirrors[slot][p]);
        }
      }
    }
    if (!diff.empty()) Violation(StateDiffers(first, diff));
  }

  // After ops that can change the core: the whole snapshot against the model,
  // P1 and P2.
  void CheckSnapshot(const Snapshot& s) {
    const Model& m = model_;
    std::string diff;
    Property first = Property::kNone;  // the first property a line below names
    auto cmp = [&diff](const char* name, auto got, auto want) {
      if (got != want) {
        absl::StrAppend(&diff, "\n  ", name, ": core ", Show(got), ", model ", Show(want));
      }
    };
    cmp("users", s.users, m.users);
    cmp("refs", s.refs, m.refs);
    // Without Traits::tracks_released the target derives it from users == 0.
    cmp("released", s.released, traits().tracks_released ? m.released : m.users == 0);
    // A target may set up its subscriptions object when it is created with a
    // seq other than the default (the kernel target: TargetOptions), before the
    // model's first insert or register would.
    const bool set_up_early = s.has_subscriptions && !m.has_subscriptions &&
                              InitialSeqValue(program_.initial_seq) != target::TargetOptions{}.initial_seq;
    if (!set_up_early) cmp("has_subscriptions", s.has_subscriptions, m.has_subscriptions);
    cmp("has_itree", s.has_itree, m.has_itree);
    if (s.has_subscriptions) cmp("invalidate_seq", s.invalidate_seq, m.seq);
    cmp("active_invalidate_ranges", s.active_invalidate_ranges, m.active);
    if (traits().counts_open_invalidations) cmp("open_invalidations", s.open_invalidations, m.open);
    cmp("pending_frees", s.pending_frees, 0);
    cmp("tree size", static_cast<int>(s.tree.size()), m.tree_count());
    cmp("deferred size", static_cast<int>(s.deferred.size()), m.deferred_count());
    cmp("classic list size", static_cast<int>(s.classic.size()), m.linked_count());
    int live_classics = 0;
    for (const Model::Classic& c : m.classics) live_classics += c.exists;
    cmp("live classic subscribers", world_.live_classics(), live_classics);
    for (int w = 0; w < kNumWarnings; ++w) {
      if (s.warnings[w] != m.warnings[w] || world_.warnings()[w] != m.warnings[w]) {
        absl::StrAppendFormat(&diff, "\n  warning %s: core %d (handler %d), model %d",
                              WarningName(static_cast<Warning>(w)), s.warnings[w],
                              world_.warnings()[w], m.warnings[w]);
      }
    }
    for (const Snapshot::Interval& i : s.tree) {
      const int slot = world_.SlotOf(i.sub);
      if (slot < 0) {
        absl::StrAppendFormat(&diff, "\n  tree holds %p, not a live subscription",
                              static_cast<const void*>(i.sub));
        continue;
      }
      const Model::Sub& ms = m.subs[slot];
      if (ms.deferred_insert || i.start != ms.start || i.last != ms.last || i.seq != ms.seq) {
        absl::StrAppendFormat(&diff,
                              "\n  tree entry s%d [0x%x,0x%x] seq %#x; model [0x%x,0x%x] seq %#x%s",
                              slot, i.start, i.last, i.seq, ms.start, ms.last, ms.seq,
                              ms.deferred_insert ? " (deferred insert)" : "");
      }
      if (!IsOdd(i.seq)) {
        absl::StrAppendFormat(&diff, "\n  P2: s%d has even seq %#x", slot, i.seq);
        if (first == Property::kNone) first = Property::kP2;
      }
    }
    for (const Snapshot::Deferred& d : s.deferred) {
      const int slot = world_.SlotOf(d.sub);
      if (slot < 0 || !d.insert || !m.subs[slot].deferred_insert) {
        absl::StrAppendFormat(&diff, "\n  deferred entry s%d (%s) not predicted", slot,
                              d.insert ? "insert" : "remove");
      }
    }
    for (const ClassicSub* c : s.classic) {
      const int id = world_.ClassicIdOf(c);
      if (id < 0 || !m.classics[id].linked) {
        absl::StrAppendFormat(&diff, "\n  classic list holds %p (id %d), not predicted",
                              static_cast<const void*>(c), id);
      }
    }
    // P1.
    if (s.has_subscriptions && s.active_invalidate_ranges == 0 &&
        (IsOdd(s.invalidate_seq) || !s.deferred.empty())) {
      if (first == Property::kNone) first = Property::kP1;
      absl::StrAppendFormat(&diff, "\n  P1: no active invalidation but seq %#x, %d deferred",
                            s.invalidate_seq, s.deferred.size());
    }
    if (!diff.empty()) Violation(StateDiffers(first, diff));
  }

  void Cleanup(int thread, const Op& op) { Step(thread, op, -1); }

  std::string StepText() const {
    if (!step_.op) return "end of program (after cleanup)";
    return absl::StrCat("T", step_.thread,
                        step_.index < 0 ? " cleanup" : absl::StrCat(" op ", step_.index), ": ",
                        PrintOp(*step_.op));
  }

  void Cleanup() {
    cleanup_ = true;
    const int n = static_cast<int>(program_.threads.size());
    for (int t = 0; t < n; ++t) {
      for (int slot = 0; slot < kIntervalSlots; ++slot) {
        if (model_.lock_holder[slot] == t) Cleanup(t, SlotOp(OpCode::kUnlock, slot));
      }
    }
    for (int t = 0; t < n; ++t) {
      while (!model_.threads[t].open.empty()) Cleanup(t, BareOp(OpCode::kInvEnd));
    }
    if (model_.program_user) Cleanup(0, BareOp(OpCode::kRelease));
    for (int slot = 0; slot < kIntervalSlots; ++slot) {
      if (model_.subs[slot].present) Cleanup(0, SlotOp(OpCode::kRemove, slot));
    }
    for (int c = 0; c < kClassicSlots; ++c) {
      if (model_.classics[c].exists) Cleanup(0, SlotOp(OpCode::kUnregister, c));
    }
    for (int b = 0; b < kNumBehaviours; ++b) {
      while (model_.get_refs[b] > 0) {
        Cleanup(0, BehaviourOp(OpCode::kPut, static_cast<uint8_t>(b)));
      }
    }
    step_ = {};
    Snapshot& s = buffers_.after;
    world_.target()->InspectInto(&s);
    std::string what;
    if (s.users != 0) absl::StrAppend(&what, " users=", s.users);
    if (!s.released) what += " not-released";
    if (s.refs != 1) absl::StrAppend(&what, " refs=", s.refs, " (want 1: the world's)");
    if (!s.tree.empty()) what += " tree-not-empty";
    if (!s.deferred.empty()) what += " deferred-not-empty";
    if (!s.classic.empty()) what += " classic-list-not-empty";
    if (s.active_invalidate_ranges != 0) what += " active";
    if (traits().counts_open_invalidations && s.open_invalidations != 0) what += " open";
    if (s.pending_frees != 0) what += " pending-frees";
    if (world_.live_subs() != 0 || world_.live_classics() != 0) what += " objects-not-freed";
    if (!what.empty()) Violation(NotAProperty(absl::StrCat("after cleanup:", what)));
  }

  const Program& program_;
  const SequentialOptions& options_;
  Buffers& buffers_;
  Model model_;
  World world_;
  // The op being checked (formatted only for a report).
  struct StepInfo {
    int thread = -1;
    int index = -1;
    std::optional<Op> op;
  };
  StepInfo step_;
  int step_no_ = 0;  // 1-based, in program order, then the cleanup steps
  bool cleanup_ = false;
};

}  // namespace

Failure ModelDiffers(const Failure& err) {
  const std::string differ = "the core and the model differ: ";
  if (err.property == Property::kNone) return NotAProperty(differ + err.text);
  // The text is Violated's "<name>: <what>".
  return Violated(err.property, differ + err.text.substr(PropertyName(err.property).size() + 2));
}

void TestOneInput(const Program& program, const SequentialOptions& options) {
  static thread_local Buffers buffers;
  SequentialRun run(program, options, &buffers);
  run.Run();
}

}  // namespace nf::fuzz
