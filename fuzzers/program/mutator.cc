#include "fuzzers/program/mutator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "fuzzers/program/codec.h"
#include "sync/scheduler.h"

// libFuzzer's byte-level mutator. Weak: the binaries without libFuzzer (the
// replay builds, AFL++'s driver, the unit test) may not define it.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size)
    __attribute__((weak));

namespace nf::fuzz {

uint64_t MutatorRng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int MutatorRng::Below(int n) {
  return n <= 1 ? 0 : static_cast<int>(Next() % static_cast<uint64_t>(n));
}

namespace {

// A program as one list in program order: what every op-level mutation edits.
// Thread t's ops are the entries with thread t, in list order.
struct Entry {
  uint8_t thread;
  Op op;
};

struct Flat {
  int threads = 1;
  std::vector<Entry> entries;
  InitialSeq initial_seq = InitialSeq::kDefault;
  std::vector<uint8_t> schedule;
};

Flat Flatten(const Program& p) {
  Flat f;
  f.threads = static_cast<int>(p.threads.size());
  f.initial_seq = p.initial_seq;
  f.schedule = p.schedule;
  ForEachOp(p, [&](int t, size_t, const Op& op) {
    f.entries.push_back({static_cast<uint8_t>(t), op});
  });
  return f;
}

// Ops past a thread's kMaxOpsPerThread are dropped (Append refuses them).
Program Rebuild(const Flat& f) {
  Program p;
  p.threads.assign(static_cast<size_t>(std::clamp(f.threads, 1, kMaxThreads)), {});
  p.initial_seq = f.initial_seq;
  p.schedule = f.schedule;
  if (p.schedule.size() > kMaxScheduleBytes) p.schedule.resize(kMaxScheduleBytes);
  for (const Entry& e : f.entries) {
    if (e.thread < p.threads.size()) p.Append(e.thread, e.op);
  }
  return p;
}

// The op as the codec reads it back: every operand in range and canonical, for
// any opcode (so an op built here is always one Decode can produce).
Op Canonical(const Op& op) {
  Program one;
  one.Append(0, op);
  const std::vector<uint8_t> bytes = Encode(one);
  const Program back = Decode(bytes);
  return back.threads[0].empty() ? BareOp(OpCode::kInvEnd) : back.threads[0][0];
}

// --- What the program holds, for operands that interact --------------------

struct Context {
  std::vector<Op> inserts;  // the normal inserts (their slots and ranges)
  std::vector<Op> subs;     // every insert that may succeed, either kind (anchors)
  bool classic[kClassicSlots] = {};  // classic slots some op registers
};

Context ContextOf(const std::vector<Entry>& entries) {
  Context c;
  for (const Entry& e : entries) {
    const Operands kind = Info(e.op.code).operands;
    if (kind == Operands::kInsert && e.op.shape == InsertShape::kNormal) c.inserts.push_back(e.op);
    if (IsInsert(e.op.code) && !InsertRejected(e.op)) c.subs.push_back(e.op);
    if (kind == Operands::kRegister) c.classic[e.op.slot] = true;
  }
  return c;
}

// --- Operand values: one picker per value, one function per Operands kind ----

int Boundary(MutatorRng& rng, int n) { return rng.OneIn(2) ? 0 : n - 1; }

// Mostly a slot some insert uses; else a boundary slot or any.
int PickIntervalSlot(const Context& c, MutatorRng& rng) {
  if (!c.inserts.empty() && !rng.OneIn(4)) {
    return c.inserts[rng.Below(static_cast<int>(c.inserts.size()))].slot;
  }
  return rng.OneIn(2) ? Boundary(rng, kIntervalSlots) : rng.Below(kIntervalSlots);
}

// For an insert: mostly a slot no insert uses yet.
int PickFreshIntervalSlot(const Context& c, MutatorRng& rng) {
  std::vector<int> fresh;
  for (int s = 0; s < kIntervalSlots; ++s) {
    bool used = false;
    for (const Op& op : c.inserts) used = used || op.slot == s;
    if (!used) fresh.push_back(s);
  }
  if (fresh.empty() || rng.OneIn(5)) return PickIntervalSlot(c, rng);
  return fresh[rng.Below(static_cast<int>(fresh.size()))];
}

int PickClassicSlot(const Context& c, MutatorRng& rng, bool want_registered) {
  std::vector<int> match;
  for (int s = 0; s < kClassicSlots; ++s) {
    if (c.classic[s] == want_registered) match.push_back(s);
  }
  if (match.empty() || rng.OneIn(4)) {
    return rng.OneIn(2) ? Boundary(rng, kClassicSlots) : rng.Below(kClassicSlots);
  }
  return match[rng.Below(static_cast<int>(match.size()))];
}

// A range [page, page + pages): half the time overlapping an insert's range
// (slot's, if it has one), else boundary values, else anything.
void PickRange(const Context& c, int slot, MutatorRng& rng, int* page, int* pages) {
  std::vector<const Op*> near;
  for (const Op& op : c.inserts) {
    if (slot < 0 || op.slot == slot) near.push_back(&op);
  }
  const int r = rng.Below(10);
  if (!near.empty() && r < 6) {
    const Op& ins = *near[rng.Below(static_cast<int>(near.size()))];
    if (rng.OneIn(4)) {  // exactly the subscription's range
      *page = ins.page;
      *pages = ins.pages;
      return;
    }
    // A page p inside the insert's range, and a range through p.
    const int p = std::min(ins.page + rng.Below(ins.pages), kSpacePages - 1);
    *page = rng.OneIn(2) ? ins.page : std::max(0, p - rng.Below(3));
    *pages = std::min(p - *page + 1 + rng.Below(4), kMaxRangePages);
    return;
  }
  if (r < 8) {
    *page = Boundary(rng, kSpacePages);
    *pages = rng.OneIn(2) ? 1 : kMaxRangePages;
    return;
  }
  *page = rng.Below(kSpacePages);
  *pages = 1 + rng.Below(rng.OneIn(3) ? kMaxRangePages : 6);
}

// Behaviours worth trying more often than the rest: full subscribers, failing
// ones (spec §3.2), ones that put themselves on release.
uint8_t PickBehaviour(MutatorRng& rng) {
  static constexpr uint8_t kInteresting[] = {
      kHasRelease | kHasStart | kHasEnd,
      kHasStart | kFailsNonblock,
      kHasRelease | kHasStart | kFailsNonblock,
      kHasRelease | kHasStart | kFailsNonblock | kPutsSelfOnRelease,
      kHasRelease | kHasStart | kHasEnd | kPutsSelfOnRelease,
      kHasRelease | kHasStart,
      kHasRelease,
      kHasStart | kHasEnd,
      0,
  };
  if (rng.Below(10) < 6) {
    return kInteresting[rng.Below(static_cast<int>(sizeof(kInteresting)))];
  }
  return static_cast<uint8_t>(rng.Below(kNumBehaviours));
}

Event PickEvent(MutatorRng& rng) { return static_cast<Event>(rng.Below(kNumEvents)); }
bool PickBlockable(MutatorRng& rng) { return rng.Below(5) < 3; }

InsertShape PickShape(MutatorRng& rng) {
  const int r = rng.Below(20);
  return r == 0 ? InsertShape::kOverflow : r == 1 ? InsertShape::kZeroLength : InsertShape::kNormal;
}

// An op of a layout this file does not know yet: random operand bytes, read by
// the codec.
Op RawOperands(OpCode code, MutatorRng& rng) {
  std::vector<uint8_t> bytes = {0, static_cast<uint8_t>(code)};
  if (static_cast<int>(code) >= kFirstBoundaryOp) {  // behind the escape (codec.h)
    bytes = {0, kEscapeOpcode, EscapeByte(static_cast<int>(code))};
  }
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(rng.Next()));
  const Program p = Decode(bytes);
  return p.threads[0].empty() ? BareOp(OpCode::kInvEnd) : p.threads[0][0];
}

Op PickNone(OpCode code) { return BareOp(code); }

Op PickIntervalSlotOp(OpCode code, const Context& c, MutatorRng& rng) {
  return SlotOp(code, PickIntervalSlot(c, rng));
}

Op PickClassicSlotOp(OpCode code, const Context& c, MutatorRng& rng) {
  return SlotOp(code, PickClassicSlot(c, rng, /*want_registered=*/true));
}

Op PickInsertOp(OpCode code, const Context& c, MutatorRng& rng) {
  const int slot = PickFreshIntervalSlot(c, rng);
  int page = 0, pages = 1;
  PickRange(c, -1, rng, &page, &pages);
  Op op = InsertOp(slot, page, pages, PickShape(rng));
  op.code = code;
  return op;
}

Op PickRangeOp(OpCode code, const Context& c, MutatorRng& rng) {
  int page = 0, pages = 1;
  PickRange(c, -1, rng, &page, &pages);
  return RangeOp(code, page, pages, PickBlockable(rng), PickEvent(rng));
}

Op PickFaultOp(OpCode code, const Context& c, MutatorRng& rng) {
  const int slot = PickIntervalSlot(c, rng);
  int page = 0, pages = 1;
  PickRange(c, slot, rng, &page, &pages);
  Op op = FaultOp(slot, page, pages);
  op.code = code;
  return op;
}

Op PickRegisterOp(OpCode code, const Context& c, MutatorRng& rng) {
  Op op = RegisterOp(PickClassicSlot(c, rng, /*want_registered=*/false), PickBehaviour(rng));
  op.code = code;
  return op;
}

Op PickBehaviourOp(OpCode code, MutatorRng& rng) { return BehaviourOp(code, PickBehaviour(rng)); }

// --- Boundary ops (program.h BoundaryRange): anchored at a subscription ------

// addr as a boundary point: a page and an offset index of the low space or the
// top (false if no offset of kBoundaryOffsets lands on it).
struct Point {
  bool top = false;
  int page = 0;
  int off = 0;
};
bool ToPoint(uint64_t addr, Point* p) {
  p->top = addr >= kOverflowBase;
  const uint64_t rel = addr - (p->top ? kOverflowBase : 0);
  p->page = static_cast<int>(rel / kPageSize);
  for (int i = 0; i < kNumBoundaryOffsets; ++i) {
    if (kBoundaryOffsets[i] == rel % kPageSize) {
      p->off = i;
      return rel / kPageSize <= kSpacePages;  // an end may sit on the page after
    }
  }
  return false;
}

// Mostly a range with one end one byte before, at, or one byte after a
// subscription's first byte or the byte after its last (abutment: what an
// off-by-one in the range arithmetic gets wrong); else empty, at the top, or
// random fields.
BoundaryRange PickBoundaryRange(const Context& c, MutatorRng& rng) {
  BoundaryRange r;
  r.top = rng.OneIn(8);
  r.page = static_cast<uint8_t>(rng.Below(kSpacePages));
  r.start_off = static_cast<uint8_t>(rng.Below(kNumBoundaryOffsets));
  r.pages = static_cast<uint8_t>(rng.Below(rng.OneIn(2) ? 3 : kMaxRangePages + 1));
  r.end_off = static_cast<uint8_t>(rng.Below(kNumBoundaryOffsets));
  if (rng.OneIn(8)) r.pages = 0;  // often empty
  if (c.subs.empty() || rng.OneIn(4)) return r;
  const Op& sub = c.subs[rng.Below(static_cast<int>(c.subs.size()))];
  const uint64_t anchor = rng.OneIn(2) ? sub.start() : sub.start() + sub.length();
  Point p;
  if (!ToPoint(anchor + static_cast<uint64_t>(rng.Below(3)) - 1, &p)) return r;
  const int span = rng.Below(3);  // pages between the range's two ends
  r.top = p.top;
  if (rng.OneIn(2)) {  // the range ends at the point
    if (p.page - span < 0) return r;
    r.page = static_cast<uint8_t>(p.page - span);
    r.pages = static_cast<uint8_t>(span);
    r.end_off = static_cast<uint8_t>(p.off);
  } else {  // the range starts there
    if (p.page >= kSpacePages) return r;
    r.page = static_cast<uint8_t>(p.page);
    r.start_off = static_cast<uint8_t>(p.off);
    r.pages = static_cast<uint8_t>(span);
  }
  return r;
}

Op PickInsertAtOp(const Context& c, MutatorRng& rng) {
  return InsertAtOp(PickFreshIntervalSlot(c, rng), PickBoundaryRange(c, rng));
}

Op PickRangeAtOp(OpCode code, const Context& c, MutatorRng& rng) {
  return RangeAtOp(code, PickBoundaryRange(c, rng), PickBlockable(rng), PickEvent(rng));
}

Op PickFaultAtOp(const Context& c, MutatorRng& rng) {
  return FaultAtOp(PickIntervalSlot(c, rng), PickBoundaryRange(c, rng));
}

Op PickMisbehaveOp(const Context& c, MutatorRng& rng) {
  const auto m = static_cast<Misbehaviour>(rng.Below(kNumMisbehaviours));
  return MisbehaveOp(m, MisbehaviourOnInterval(m)
                            ? PickIntervalSlot(c, rng)
                            : PickClassicSlot(c, rng, /*want_registered=*/true));
}

// A fresh op of this opcode with operands chosen for this program.
Op PickOperands(OpCode code, const Context& c, MutatorRng& rng) {
  Op op;
  switch (Info(code).operands) {
    case Operands::kNone: op = PickNone(code); break;
    case Operands::kIntervalSlot: op = PickIntervalSlotOp(code, c, rng); break;
    case Operands::kClassicSlot: op = PickClassicSlotOp(code, c, rng); break;
    case Operands::kInsert: op = PickInsertOp(code, c, rng); break;
    case Operands::kRange: op = PickRangeOp(code, c, rng); break;
    case Operands::kFault: op = PickFaultOp(code, c, rng); break;
    case Operands::kRegister: op = PickRegisterOp(code, c, rng); break;
    case Operands::kBehaviour: op = PickBehaviourOp(code, rng); break;
    case Operands::kInsertAt: op = PickInsertAtOp(c, rng); break;
    case Operands::kRangeAt: op = PickRangeAtOp(code, c, rng); break;
    case Operands::kFaultAt: op = PickFaultAtOp(c, rng); break;
    case Operands::kMisbehave: op = PickMisbehaveOp(c, rng); break;
    default: return RawOperands(code, rng);
  }
  return Canonical(op);
}

// --- Opcodes -----------------------------------------------------------------

// How often an op of each layout is generated: ranges and inserts (the ops that
// collide) most, bare ops least.
int KindWeight(Operands kind) {
  switch (kind) {
    case Operands::kInsert: return 5;
    case Operands::kRange: return 5;
    case Operands::kFault: return 4;
    case Operands::kBehaviour: return 3;
    case Operands::kRegister: return 3;
    case Operands::kNone: return 2;
    case Operands::kInsertAt: return 4;
    case Operands::kRangeAt: return 5;
    case Operands::kFaultAt: return 2;
    case Operands::kMisbehave: return 1;
    default: return 2;
  }
}

// An op that only ends what another began (inv_end, unlock) is skipped on its
// own: it comes as a companion (Companion below), never alone.
bool EndsOnly(const OpInfo& info) {
  return info.contract == Contract::kEndsOpen || info.contract == Contract::kDropsLock;
}

int OpcodeWeight(OpCode code) {
  // NF_BOUNDARY_OPS=OFF (the ablation): the codec would drop them.
  if (!kBoundaryOpsEnabled && static_cast<int>(code) >= kFirstBoundaryOp) return 0;
  const OpInfo& info = Info(code);
  if (EndsOnly(info)) return 0;
  // The rest of the kernel's API (docs/contract.md §10): one each, so that the
  // ops every target runs keep most of the draws (nf's core skips the
  // secondary-MMU ones).
  if (static_cast<int>(code) >= static_cast<int>(OpCode::kClearFlushYoung)) return 1;
  return KindWeight(info.operands);
}

OpCode PickOpcode(MutatorRng& rng) {
  int total = 0;
  for (int c = 0; c < kNumOpCodes; ++c) total += OpcodeWeight(static_cast<OpCode>(c));
  int r = rng.Below(total);
  for (int c = 0; c < kNumOpCodes; ++c) {
    r -= OpcodeWeight(static_cast<OpCode>(c));
    if (r < 0) return static_cast<OpCode>(c);
  }
  return OpCode::kInsert;
}

// An op that undoes or ends something: what a thread does last.
OpCode PickTeardownOpcode(MutatorRng& rng) {
  std::vector<OpCode> codes;
  for (int c = 0; c < kNumOpCodes; ++c) {
    const OpInfo& info = Info(static_cast<OpCode>(c));
    if (info.changes_state && !EndsOnly(info) && info.operands != Operands::kInsert &&
        info.operands != Operands::kRange && info.operands != Operands::kRegister &&
        info.operands != Operands::kInsertAt && info.operands != Operands::kRangeAt) {
      codes.push_back(static_cast<OpCode>(c));
    }
  }
  return codes.empty() ? PickOpcode(rng) : codes[rng.Below(static_cast<int>(codes.size()))];
}

// The op that pairs with op later in the same thread, if it has one and the dice
// say so: inv_start/inv_end, lock/unlock, read_begin/retry, get/put,
// register/unregister.
bool Companion(const Op& op, MutatorRng& rng, Op* out) {
  switch (op.code) {
    case OpCode::kInvStart:
    case OpCode::kInvStartAt:
      if (rng.Below(4) == 0) return false;
      *out = BareOp(OpCode::kInvEnd);
      return true;
    case OpCode::kLock:
      if (rng.Below(3) == 0) return false;
      *out = SlotOp(OpCode::kUnlock, op.slot);
      return true;
    case OpCode::kReadBegin:
      if (rng.Below(3) == 0) return false;
      *out = SlotOp(rng.OneIn(2) ? OpCode::kReadRetry : OpCode::kCheckRetry, op.slot);
      return true;
    case OpCode::kGet:
      if (rng.OneIn(2)) return false;
      *out = BehaviourOp(OpCode::kPut, op.behaviour);
      return true;
    case OpCode::kRegister:
    case OpCode::kRegisterSecondary:
      if (rng.Below(3) != 0) return false;
      *out = SlotOp(OpCode::kUnregister, op.slot);
      return true;
    // No companion (every op is a case: a new one does not build until it says).
    case OpCode::kInsert:
    case OpCode::kRemove:
    case OpCode::kInvalidate:
    case OpCode::kInvEnd:
    case OpCode::kReadRetry:
    case OpCode::kCheckRetry:
    case OpCode::kFault:
    case OpCode::kUnregister:
    case OpCode::kPut:
    case OpCode::kRelease:
    case OpCode::kUnlock:
    case OpCode::kInsertAt:
    case OpCode::kInvalidateAt:
    case OpCode::kFaultAt:
    case OpCode::kMisbehave:
    case OpCode::kClearFlushYoung:
    case OpCode::kClearYoung:
    case OpCode::kTestYoung:
    case OpCode::kChangePte:
    case OpCode::kSecondaryTlb:
    case OpCode::kInsertLocked:
    case OpCode::kReadOnly:
    case OpCode::kInvOnlyEnd:
    case OpCode::kSynchronize:
    case OpCode::kInvalidateMm:
      return false;
  }
  return false;  // not an op
}

// Inserts op at entries[pos] in thread t, and maybe its companion later in t.
void InsertWithCompanion(Flat* f, size_t pos, uint8_t t, const Op& op, MutatorRng& rng) {
  pos = std::min(pos, f->entries.size());
  f->entries.insert(f->entries.begin() + static_cast<std::ptrdiff_t>(pos), {t, op});
  Op second;
  if (Companion(op, rng, &second)) {
    const size_t after = pos + 1 + static_cast<size_t>(
        rng.Below(static_cast<int>(f->entries.size() - pos)));
    f->entries.insert(f->entries.begin() + static_cast<std::ptrdiff_t>(after), {t, second});
  }
}

// --- Schedules (sync/scheduler.h ScheduleInput::Decode) ----------------------
// byte 0: 0 direct, 1 PCT. Direct: bytes 1.. are the decisions. PCT: byte 1 the
// depth, byte 2 the horizon, bytes 3..10 the seed that places the change points.

constexpr size_t kPctBytes = 11;

void AppendDecisions(std::vector<uint8_t>* s, int n, MutatorRng& rng) {
  while (n > 0) {  // runs of one choice: a thread kept running for a while
    const uint8_t b = static_cast<uint8_t>(rng.OneIn(3) ? rng.Below(sched::kMaxThreads)
                                                        : rng.Next());
    for (int run = 1 + rng.Below(rng.OneIn(2) ? 1 : 8); run > 0 && n > 0; --run, --n) {
      s->push_back(b);
    }
  }
}

std::vector<uint8_t> PctSchedule(MutatorRng& rng) {
  std::vector<uint8_t> s = {static_cast<uint8_t>(sched::Strategy::kPct),
                            static_cast<uint8_t>(rng.Below(sched::kMaxPctDepth)),
                            static_cast<uint8_t>(rng.Below(sched::kPctHorizonShifts))};
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<uint8_t>(rng.Next()));
  return s;
}

std::vector<uint8_t> DirectSchedule(MutatorRng& rng) {
  std::vector<uint8_t> s = {static_cast<uint8_t>(sched::Strategy::kDirect)};
  AppendDecisions(&s, 4 + rng.Below(60), rng);
  return s;
}

std::vector<uint8_t> GenerateSchedule(MutatorRng& rng) {
  const int r = rng.Below(10);
  if (r < 5) return DirectSchedule(rng);
  if (r < 8) return PctSchedule(rng);
  return {};
}

void MutateSchedule(std::vector<uint8_t>* s, MutatorRng& rng) {
  if (s->empty() || rng.OneIn(8)) {  // switch strategy (or start one)
    const bool pct = !s->empty() && (*s)[0] == static_cast<uint8_t>(sched::Strategy::kPct);
    *s = pct || s->empty() ? DirectSchedule(rng) : PctSchedule(rng);
    return;
  }
  if ((*s)[0] == static_cast<uint8_t>(sched::Strategy::kPct)) {
    s->resize(kPctBytes, 0);
    switch (rng.Below(4)) {
      case 0: (*s)[1] = static_cast<uint8_t>(rng.Below(sched::kMaxPctDepth)); break;
      case 1: (*s)[2] = static_cast<uint8_t>(rng.Below(sched::kPctHorizonShifts)); break;
      case 2: (*s)[3 + rng.Below(8)] ^= static_cast<uint8_t>(1u << rng.Below(8)); break;
      default:  // a new seed: every change point moves
        for (size_t i = 3; i < kPctBytes; ++i) (*s)[i] = static_cast<uint8_t>(rng.Next());
    }
    return;
  }
  // Direct: the decisions after byte 0.
  const int n = static_cast<int>(s->size()) - 1;
  switch (rng.Below(6)) {
    case 0: {  // perturb one decision
      if (n == 0) break;
      uint8_t& b = (*s)[1 + rng.Below(n)];
      b = rng.OneIn(2) ? static_cast<uint8_t>(b + 1) : static_cast<uint8_t>(rng.Next());
      return;
    }
    case 1: {  // a run of one choice somewhere
      if (n == 0) break;
      const int at = 1 + rng.Below(n);
      const int len = std::min(1 + rng.Below(16), static_cast<int>(s->size()) - at);
      std::fill_n(s->begin() + at, len, static_cast<uint8_t>(rng.Below(sched::kMaxThreads)));
      return;
    }
    case 2: {  // insert decisions in the middle
      std::vector<uint8_t> more;
      AppendDecisions(&more, 1 + rng.Below(16), rng);
      s->insert(s->begin() + 1 + rng.Below(n + 1), more.begin(), more.end());
      if (s->size() > kMaxScheduleBytes) s->resize(kMaxScheduleBytes);
      return;
    }
    case 3:  // shorten
      if (n == 0) break;
      s->resize(1 + static_cast<size_t>(rng.Below(n)));
      return;
    case 4: {  // delete a stretch
      if (n == 0) break;
      const int at = 1 + rng.Below(n);
      const int len = std::min(1 + rng.Below(8), static_cast<int>(s->size()) - at);
      s->erase(s->begin() + at, s->begin() + at + len);
      return;
    }
    default:
      break;
  }
  AppendDecisions(s, 1 + rng.Below(32), rng);  // extend
  if (s->size() > kMaxScheduleBytes) s->resize(kMaxScheduleBytes);
}

// --- Op-level mutations --------------------------------------------------------

size_t AnyEntry(const Flat& f, MutatorRng& rng) {
  return static_cast<size_t>(rng.Below(static_cast<int>(f.entries.size())));
}

void InsertFreshOp(Flat* f, MutatorRng& rng) {
  const Context c = ContextOf(f->entries);
  const Op op = PickOperands(PickOpcode(rng), c, rng);
  const auto t = static_cast<uint8_t>(rng.Below(f->threads));
  InsertWithCompanion(f, static_cast<size_t>(rng.Below(static_cast<int>(f->entries.size()) + 1)),
                      t, op, rng);
}

void DeleteOps(Flat* f, MutatorRng& rng) {
  if (f->entries.empty()) return;
  const size_t at = AnyEntry(*f, rng);
  const size_t len = std::min<size_t>(rng.OneIn(4) ? 1 + rng.Below(4) : 1, f->entries.size() - at);
  f->entries.erase(f->entries.begin() + static_cast<std::ptrdiff_t>(at),
                   f->entries.begin() + static_cast<std::ptrdiff_t>(at + len));
}

void DuplicateOp(Flat* f, MutatorRng& rng) {
  if (f->entries.empty()) return;
  Entry e = f->entries[AnyEntry(*f, rng)];
  if (rng.OneIn(2)) e.thread = static_cast<uint8_t>(rng.Below(f->threads));
  const size_t to = static_cast<size_t>(rng.Below(static_cast<int>(f->entries.size()) + 1));
  f->entries.insert(f->entries.begin() + static_cast<std::ptrdiff_t>(to), e);
}

// Swaps two ops (each keeps its thread slot): both orders change.
void SwapOps(Flat* f, MutatorRng& rng) {
  if (f->entries.size() < 2) return;
  std::swap(f->entries[AnyEntry(*f, rng)].op, f->entries[AnyEntry(*f, rng)].op);
}

// Swaps two neighbours in the program order (the sequential fuzzer's order; the
// threads' own orders change only if both are of one thread).
void SwapNeighbours(Flat* f, MutatorRng& rng) {
  if (f->entries.size() < 2) return;
  const size_t i = static_cast<size_t>(rng.Below(static_cast<int>(f->entries.size()) - 1));
  std::swap(f->entries[i], f->entries[i + 1]);
}

void MoveToThread(Flat* f, MutatorRng& rng) {
  if (f->entries.empty() || f->threads < 2) return;
  Entry& e = f->entries[AnyEntry(*f, rng)];
  e.thread = static_cast<uint8_t>((e.thread + 1 + rng.Below(f->threads - 1)) % f->threads);
}

// Copies one operand (a group of fields that only mean something together) of a
// freshly picked op of the same opcode into the op.
void ChangeOperand(Flat* f, MutatorRng& rng) {
  if (f->entries.empty()) return;
  Op& op = f->entries[AnyEntry(*f, rng)].op;
  const Context c = ContextOf(f->entries);
  for (int attempt = 0; attempt < 4; ++attempt) {
    const Op fresh = PickOperands(op.code, c, rng);
    if (fresh == op) continue;
    // 0 slot, 1 page, 2 pages+shape, 3 blockable, 4 event, 5 behaviour, 6 the
    // boundary range, 7 the misbehaviour (with its slot: which slots it names)
    std::vector<int> differ;
    if (fresh.slot != op.slot) differ.push_back(0);
    if (fresh.at != op.at) differ.push_back(6);
    if (fresh.misbehaviour != op.misbehaviour) differ.push_back(7);
    if (fresh.page != op.page) differ.push_back(1);
    if (fresh.pages != op.pages || fresh.shape != op.shape) differ.push_back(2);
    if (fresh.blockable != op.blockable) differ.push_back(3);
    if (fresh.event != op.event) differ.push_back(4);
    if (fresh.behaviour != op.behaviour) differ.push_back(5);
    switch (differ[rng.Below(static_cast<int>(differ.size()))]) {
      case 0: op.slot = fresh.slot; break;
      case 1: op.page = fresh.page; break;
      case 2: op.pages = fresh.pages; op.shape = fresh.shape; break;
      case 3: op.blockable = fresh.blockable; break;
      case 4: op.event = fresh.event; break;
      case 6: op.at = fresh.at; break;
      case 7: op.misbehaviour = fresh.misbehaviour; op.slot = fresh.slot; break;
      default: op.behaviour = fresh.behaviour; break;
    }
    op = Canonical(op);
    return;
  }
}

// A new behaviour for a classic subscriber's op (register, get, put).
void ChangeBehaviour(Flat* f, MutatorRng& rng) {
  std::vector<size_t> with;
  for (size_t i = 0; i < f->entries.size(); ++i) {
    if (UsesBehaviour(f->entries[i].op.code)) with.push_back(i);
  }
  if (with.empty()) {
    InsertFreshOp(f, rng);
    return;
  }
  Op& op = f->entries[with[rng.Below(static_cast<int>(with.size()))]].op;
  op.behaviour = PickBehaviour(rng);
  op = Canonical(op);
}

// Another opcode of the same operand layout, operands kept (invalidate and
// inv_start, read_retry and check_retry, get and put, ...).
void ChangeOpcode(Flat* f, MutatorRng& rng) {
  if (f->entries.empty()) return;
  Op& op = f->entries[AnyEntry(*f, rng)].op;
  std::vector<OpCode> same;
  for (int c = 0; c < kNumOpCodes; ++c) {
    const auto code = static_cast<OpCode>(c);
    if (code != op.code && Info(code).operands == Info(op.code).operands) same.push_back(code);
  }
  if (same.empty()) return;
  op.code = same[rng.Below(static_cast<int>(same.size()))];
  op = Canonical(op);
}

void AddThread(Flat* f, MutatorRng& rng) {
  if (f->threads >= kMaxThreads) {
    InsertFreshOp(f, rng);
    return;
  }
  const auto t = static_cast<uint8_t>(f->threads++);
  const Context c = ContextOf(f->entries);
  for (int n = 1 + rng.Below(4); n > 0; --n) {
    const size_t pos = static_cast<size_t>(rng.Below(static_cast<int>(f->entries.size()) + 1));
    InsertWithCompanion(f, pos, t, PickOperands(PickOpcode(rng), c, rng), rng);
  }
}

void RemoveThread(Flat* f, MutatorRng& rng) {
  if (f->threads < 2) return;
  const int gone = rng.Below(f->threads);
  std::vector<Entry> kept;
  for (Entry e : f->entries) {
    if (e.thread == gone) continue;
    if (e.thread > gone) --e.thread;
    kept.push_back(e);
  }
  f->entries = std::move(kept);
  --f->threads;
}

// An interacting pair: a fresh insert, and later in another thread an op on its
// range or slot.
void InsertScenario(Flat* f, MutatorRng& rng) {
  Context c = ContextOf(f->entries);
  const Op ins = PickInsertOp(OpCode::kInsert, c, rng);
  const Op insert = Canonical(ins);
  const size_t pos = static_cast<size_t>(rng.Below(static_cast<int>(f->entries.size()) + 1));
  const auto t = static_cast<uint8_t>(rng.Below(f->threads));
  f->entries.insert(f->entries.begin() + static_cast<std::ptrdiff_t>(pos), {t, insert});
  if (insert.shape == InsertShape::kNormal) c.inserts = {insert};
  const auto other = static_cast<uint8_t>(f->threads < 2 ? t : (t + 1 + rng.Below(f->threads - 1)) % f->threads);
  const size_t later = pos + 1 + static_cast<size_t>(
      rng.Below(static_cast<int>(f->entries.size() - pos)));
  InsertWithCompanion(f, later, other, PickOperands(PickOpcode(rng), c, rng), rng);
}

void MutateOps(Flat* f, MutatorRng& rng) {
  switch (rng.Below(16)) {
    case 0: case 1: case 2: InsertFreshOp(f, rng); break;
    case 3: case 4: DeleteOps(f, rng); break;
    case 5: DuplicateOp(f, rng); break;
    case 6: SwapOps(f, rng); break;
    case 7: SwapNeighbours(f, rng); break;
    case 8: MoveToThread(f, rng); break;
    case 9: case 10: case 11: ChangeOperand(f, rng); break;
    case 12: ChangeBehaviour(f, rng); break;
    case 13: ChangeOpcode(f, rng); break;
    case 14:
      switch (rng.Below(4)) {
        case 0: AddThread(f, rng); break;
        case 1: RemoveThread(f, rng); break;
        case 2:
          f->initial_seq = f->initial_seq == InitialSeq::kDefault ? InitialSeq::kNearWrap
                                                                  : InitialSeq::kDefault;
          break;
        default: DuplicateOp(f, rng); break;
      }
      break;
    default: InsertScenario(f, rng); break;
  }
}

size_t ByteMutate(uint8_t* data, size_t size, size_t max_size, MutatorRng& rng) {
  if (LLVMFuzzerMutate != nullptr) return LLVMFuzzerMutate(data, size, max_size);
  // No libFuzzer: one random byte written or inserted.
  if (max_size == 0) return 0;
  if (size < max_size && (size == 0 || rng.OneIn(2))) {
    const size_t at = static_cast<size_t>(rng.Below(static_cast<int>(size) + 1));
    std::memmove(data + at + 1, data + at, size - at);
    data[at] = static_cast<uint8_t>(rng.Next());
    return size + 1;
  }
  data[rng.Below(static_cast<int>(std::min(size, max_size)))] = static_cast<uint8_t>(rng.Next());
  return std::min(size, max_size);
}

size_t CopyOut(const std::vector<uint8_t>& bytes, uint8_t* out) {
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return bytes.size();
}

}  // namespace

Program GenerateProgram(MutatorRng& rng, MutatorTarget target) {
  Flat f;
  f.threads = 2 + rng.Below(kMaxThreads - 1);
  f.initial_seq = rng.OneIn(3) ? InitialSeq::kNearWrap : InitialSeq::kDefault;
  // The setup: inserts (and sometimes a classic subscriber) first, mostly in
  // thread 0, so that what follows has subscriptions to hit.
  const int inserts = 1 + rng.Below(3);
  for (int i = 0; i < inserts; ++i) {
    const Context c = ContextOf(f.entries);
    const auto t = static_cast<uint8_t>(rng.OneIn(4) ? rng.Below(f.threads) : 0);
    Op op = PickInsertOp(OpCode::kInsert, c, rng);
    if (i == 0 && op.shape != InsertShape::kNormal) {  // at least one real subscription
      op = InsertOp(op.slot, op.page, std::max<int>(op.pages, 1));
    }
    f.entries.push_back({t, Canonical(op)});
  }
  if (rng.OneIn(2)) {
    const Context c = ContextOf(f.entries);
    const OpCode code = rng.OneIn(2) ? OpCode::kGet : OpCode::kRegister;
    InsertWithCompanion(&f, f.entries.size(), static_cast<uint8_t>(rng.Below(f.threads)),
                        PickOperands(code, c, rng), rng);
  }
  // Each thread's body: a few ops on those subscriptions, sometimes a teardown
  // at the end; the bodies interleaved at random in the program order.
  const Context c = ContextOf(f.entries);
  std::vector<Flat> bodies(static_cast<size_t>(f.threads));
  for (int t = 0; t < f.threads; ++t) {
    Flat& b = bodies[t];
    b.threads = f.threads;
    for (int n = 2 + rng.Below(4); n > 0; --n) {
      InsertWithCompanion(&b, b.entries.size(), static_cast<uint8_t>(t),
                          PickOperands(PickOpcode(rng), c, rng), rng);
    }
    if (rng.OneIn(2)) {
      b.entries.push_back({static_cast<uint8_t>(t), PickOperands(PickTeardownOpcode(rng), c, rng)});
    }
  }
  std::vector<size_t> next(bodies.size(), 0);
  for (;;) {
    std::vector<int> live;
    for (size_t t = 0; t < bodies.size(); ++t) {
      if (next[t] < bodies[t].entries.size()) live.push_back(static_cast<int>(t));
    }
    if (live.empty()) break;
    const int t = live[rng.Below(static_cast<int>(live.size()))];
    f.entries.push_back(bodies[t].entries[next[t]++]);
  }
  if (target == MutatorTarget::kConcurrent) f.schedule = GenerateSchedule(rng);
  return Rebuild(f);
}

void MutateProgram(Program* p, MutatorRng& rng, MutatorTarget target) {
  Flat f = Flatten(*p);
  for (int rounds = 1 + rng.Below(3); rounds > 0; --rounds) {
    if (target == MutatorTarget::kConcurrent && rng.OneIn(4)) {
      MutateSchedule(&f.schedule, rng);
    } else {
      MutateOps(&f, rng);
    }
  }
  *p = Rebuild(f);
}

Program CrossOverPrograms(const Program& a, const Program& b, MutatorRng& rng) {
  const Program* parents[2] = {&a, &b};
  // Chosen threads as (parent, thread): one with ops from each parent first.
  std::vector<std::pair<int, int>> chosen;
  auto chosen_has = [&](int src, int t) {
    return std::find(chosen.begin(), chosen.end(), std::make_pair(src, t)) != chosen.end();
  };
  for (int src = 0; src < 2; ++src) {
    std::vector<int> with_ops;
    for (size_t t = 0; t < parents[src]->threads.size(); ++t) {
      if (!parents[src]->threads[t].empty()) with_ops.push_back(static_cast<int>(t));
    }
    if (!with_ops.empty()) chosen.emplace_back(src, with_ops[rng.Below(static_cast<int>(with_ops.size()))]);
  }
  const int want = std::max(static_cast<int>(chosen.size()), 2 + rng.Below(kMaxThreads - 1));
  for (int tries = 0; tries < 16 && static_cast<int>(chosen.size()) < want; ++tries) {
    const int src = rng.Below(2);
    const int t = rng.Below(static_cast<int>(parents[src]->threads.size()));
    if (!chosen_has(src, t)) chosen.emplace_back(src, t);
  }
  if (chosen.empty()) chosen.emplace_back(0, 0);
  if (rng.OneIn(2)) std::swap(chosen.front(), chosen.back());
  // Program order: each op keeps its relative position in its parent's order.
  struct Keyed {
    uint64_t key;
    Entry e;
  };
  std::vector<Keyed> keyed;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const Program& p = *parents[chosen[i].first];
    const int thread = chosen[i].second;
    size_t at = 0;
    ForEachOp(p, [&](int t, size_t, const Op& op) {
      if (t == thread) {
        keyed.push_back({(uint64_t{at} << 16) / std::max<size_t>(p.num_ops(), 1),
                         {static_cast<uint8_t>(i), op}});
      }
      ++at;
    });
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const Keyed& x, const Keyed& y) { return x.key < y.key; });
  Flat f;
  f.threads = static_cast<int>(chosen.size());
  for (const Keyed& k : keyed) f.entries.push_back(k.e);
  const Program& seq_from = *parents[rng.Below(2)];
  f.initial_seq = seq_from.initial_seq;
  const Program& sched_from = *parents[rng.Below(2)];
  f.schedule = sched_from.schedule;
  return Rebuild(f);
}

std::vector<uint8_t> EncodeWithin(Program p, size_t max_size) {
  if (max_size == 0) return {};
  std::vector<uint8_t> bytes = Encode(p);
  // A schedule taking more than half the room is shortened first, so that a long
  // schedule does not cost every op.
  if (bytes.size() > max_size && p.schedule.size() > max_size / 2) {
    p.schedule.resize(max_size / 2);
    bytes = Encode(p);
  }
  while (bytes.size() > max_size && !p.order.empty()) {
    const uint8_t t = p.order.back();
    p.order.pop_back();
    p.threads[t].pop_back();
    bytes = Encode(p);
  }
  if (bytes.size() > max_size) {  // only the schedule is left to shorten
    const size_t excess = bytes.size() - max_size;
    p.schedule.resize(excess >= p.schedule.size() ? 0 : p.schedule.size() - excess);
    bytes = Encode(p);
  }
  return bytes;
}

bool MutatorEnabled() {
  const char* v = std::getenv("NF_MUTATOR");  // per call: a few ns, and testable
  return v == nullptr || std::strcmp(v, "0") != 0;
}

size_t CustomMutate(MutatorTarget target, uint8_t* data, size_t size, size_t max_size,
                    unsigned int seed) {
  MutatorRng rng(uint64_t{seed} * 0x2545f4914f6cdd1dULL + 1);
  if (!MutatorEnabled()) return ByteMutate(data, size, max_size, rng);
  Program p = Decode({data, size});
  if (p.num_ops() == 0 || (p.num_ops() < kMinOpsToMutate && rng.OneIn(2))) {
    p = GenerateProgram(rng, target);
  } else if (rng.OneIn(kByteLevelOneIn)) {
    return ByteMutate(data, size, max_size, rng);
  } else {
    MutateProgram(&p, rng, target);
  }
  return CopyOut(EncodeWithin(std::move(p), max_size), data);
}

size_t CustomCrossOver(MutatorTarget target, const uint8_t* data1, size_t size1,
                       const uint8_t* data2, size_t size2, uint8_t* out, size_t max_out_size,
                       unsigned int seed) {
  if (!MutatorEnabled()) return 0;
  MutatorRng rng(uint64_t{seed} * 0x2545f4914f6cdd1dULL + 2);
  Program child = CrossOverPrograms(Decode({data1, size1}), Decode({data2, size2}), rng);
  // Two (nearly) empty parents, as at the start from an empty corpus: a
  // generated program is worth more than their child.
  if (child.num_ops() < kMinOpsToMutate) child = GenerateProgram(rng, target);
  if (target == MutatorTarget::kSequential) child.schedule.clear();
  return CopyOut(EncodeWithin(std::move(child), max_out_size), out);
}

}  // namespace nf::fuzz

// The libFuzzer hooks: libFuzzer finds them by name (weak references), so they
// are defined here, in an object library every program fuzzer links.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return nf::fuzz::CustomMutate(nf::fuzz::ProgramMutatorTarget(), data, size, max_size, seed);
}

extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1,
                                            const uint8_t* data2, size_t size2, uint8_t* out,
                                            size_t max_out_size, unsigned int seed) {
  return nf::fuzz::CustomCrossOver(nf::fuzz::ProgramMutatorTarget(), data1, size1, data2, size2,
                                   out, max_out_size, seed);
}
