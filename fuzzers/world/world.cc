#include "fuzzers/world/world.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {

std::unique_ptr<Target> NewTarget(InitialSeq initial_seq) {
  target::TargetOptions options;
  options.initial_seq = InitialSeqValue(initial_seq);
  return target::CreateTarget(options);
}

std::string DescribeRecord(const CallbackRecord& r) {
  using K = CallbackRecord::Kind;
  auto classic_name = [](int id) {
    return id < kClassicSlots
               ? absl::StrFormat("c%d", id)
               : absl::StrFormat("get(%s)", BehaviourText(static_cast<uint8_t>(id - kClassicSlots)));
  };
  auto range = [&r] {
    return absl::StrFormat("[0x%x,0x%x) %s %s", r.start, r.end, r.blockable ? "block" : "nonblock",
                           EventTextName(r.event));
  };
  switch (r.kind) {
    case K::kInterval:
      return absl::StrFormat("invalidate s%d %s cur_seq=%#x -> %s", r.id, range(), r.cur_seq,
                             r.result ? "true" : "false");
    case K::kStart:
      return absl::StrFormat("start %s %s -> %s", classic_name(r.id), range(),
                             r.result ? "ok" : "EAGAIN");
    case K::kEnd:
      return absl::StrFormat("end %s %s", classic_name(r.id), range());
    case K::kRelease:
      return absl::StrFormat("release %s", classic_name(r.id));
    case K::kFree:
      return absl::StrFormat("free %s", classic_name(r.id));
    case K::kClearFlushYoung:
    case K::kClearYoung:
      return absl::StrFormat("%s %s [0x%x,0x%x) -> %s",
                             r.kind == K::kClearYoung ? "clear_young" : "clear_flush_young",
                             classic_name(r.id), r.start, r.end, r.result ? "young" : "old");
    case K::kTestYoung:
      return absl::StrFormat("test_young %s 0x%x -> %s", classic_name(r.id), r.start,
                             r.result ? "young" : "old");
    case K::kChangePte:
      return absl::StrFormat("change_pte %s 0x%x", classic_name(r.id), r.start);
    case K::kSecondaryTlb:
      return absl::StrFormat("secondary_tlb %s [0x%x,0x%x)", classic_name(r.id), r.start, r.end);
  }
  return "?";
}

std::string DescribeResult(OpCode code, const OpResult& r) {
  std::string out;
  if (!r.got_user) out = "no user; ";
  switch (Info(code).result) {
    case ResultKind::kSeq:
      return out + absl::StrFormat("seq=%#x", r.seq);
    case ResultKind::kRetry:
      return out + (r.retry ? "retry" : "no retry");
    case ResultKind::kAttempts:
      return out + (r.got_user ? absl::StrFormat("attempts=%d", r.attempts) : "");
    case ResultKind::kStatus:
      return out + absl::StatusCodeToString(r.code);
    case ResultKind::kFlag:
      return out + (r.flag ? "true" : "false");
  }
  return out;
}

Range RangeOfOp(const Op& op) {
  Range r;
  r.start = op.start();
  r.end = op.start() + op.length();
  r.blockable = op.blockable;
  r.event = op.event;
  return r;
}

std::optional<std::string_view> TargetSkipReason(const target::Traits& traits, const Op& op) {
  if (!traits.secondary_mmu_api && IsSecondaryMmuOp(op.code)) {
    return "the secondary-MMU API, outside this target's contract (docs/contract.md §10, "
           "Traits::secondary_mmu_api)";
  }
  if (!traits.reports_misuse && op.code == OpCode::kMisbehave) {
    // The driver bugs it arms make the kernel WARN (a target report, which is
    // a violation), not warn as nf's core does.
    return "this target reports a driver bug as its own check (a kernel WARN), not as a "
           "warning (Traits::reports_misuse)";
  }
  if (!traits.empty_range_walks_nothing &&
      (IsInvalidation(op.code) || op.code == OpCode::kInvalidateMm) && op.length() == 0) {
    return "an empty range, which this target's walk does not treat as empty "
           "(Traits::empty_range_walks_nothing)";
  }
  return std::nullopt;
}

// --- World ---------------------------------------------------------------------

World::World(InitialSeq initial_seq, int num_threads, WorldObserver* observer)
    : observer_(observer), threads_(num_threads) {
  lock_holder_.fill(-1);
  log_.reserve(64);
  target_ = NewTarget(initial_seq);  // with the world's own reference
}

World::~World() {
  if (!finished_) {
    std::fprintf(stderr, "nf fuzz: World destroyed without Finish()\n");
    std::abort();
  }
}

void World::Finish() {
  finished_ = true;
  target_->Finish();
}

int World::SlotOf(const IntervalSub* sub) const {
  for (int i = 0; i < kIntervalSlots; ++i) {
    if (subs_[i] != nullptr && subs_[i] == sub) return i;
  }
  return -1;
}

int World::ClassicIdOf(const ClassicSub* sub) const {
  for (int i = 0; i < kNumClassicIds; ++i) {
    if (classics_[i] != nullptr && classics_[i] == sub) return i;
  }
  return -1;
}

OpResult World::Execute(int thread, const Op& op) {
  OpResult res;
  ThreadState& ts = threads_[thread];
  Target* const sp = target_.get();
  switch (op.code) {
    case OpCode::kInsert:
    case OpCode::kInsertAt:
    case OpCode::kInsertLocked: {
      res.got_user = sp->TryGetUser();
      IntervalSub* sub = subs_[op.slot];
      const bool fresh = sub == nullptr;
      if (fresh) sub = sp->NewInterval(op.slot);
      res.code = op.code == OpCode::kInsertLocked ? sp->InsertLocked(sub, op.start(), op.length())
                                                   : sp->Insert(sub, op.start(), op.length());
      if (fresh && res.code == absl::StatusCode::kOk) {
        subs_[op.slot] = sub;
        ++live_subs_;
      } else if (fresh) {
        sp->DeleteInterval(sub);
      }
      if (res.got_user) sp->PutUser();
      break;
    }
    case OpCode::kRemove: {
      IntervalSub* sub = subs_[op.slot];
      if (sub == nullptr) {
        IntervalSub* probe = sp->NewInterval(op.slot);  // never inserted: only a warning
        sp->Remove(probe);
        sp->DeleteInterval(probe);
        break;
      }
      sp->Remove(sub);
      subs_[op.slot] = nullptr;
      sp->DeleteInterval(sub);  // at once: a later callback on it is a use after free
      --live_subs_;
      armed_[op.slot] = {};
      drivers_[op.slot].ClearMirror(lock_holder_[op.slot] == thread);
      break;
    }
    case OpCode::kInvalidate:
    case OpCode::kInvStart:
    case OpCode::kInvalidateAt:
    case OpCode::kInvStartAt: {
      res.got_user = sp->TryGetUser();
      if (!res.got_user) break;
      const Range r = RangeOfOp(op);
      target::Invalidation inv;
      res.code = sp->InvalidateStart(r, &inv);
      if (res.code != absl::StatusCode::kOk) {
        sp->PutUser();
        break;
      }
      page_table_.Change(harness::WholePagesOfRange(r));
      if (IsInvStart(op.code)) {
        ts.open.push_back(inv);  // keeps the user until inv_end
        break;
      }
      sp->InvalidateEnd(inv);
      sp->PutUser();
      break;
    }
    case OpCode::kInvEnd:
    case OpCode::kInvOnlyEnd: {
      const bool only = op.code == OpCode::kInvOnlyEnd;
      if (ts.open.empty()) {
        // No start anywhere: the target must warn.
        only ? sp->InvalidateOnlyEnd(target::Invalidation{})
             : sp->InvalidateEnd(target::Invalidation{});
        break;
      }
      const target::Invalidation inv = ts.open.back();
      ts.open.pop_back();
      only ? sp->InvalidateOnlyEnd(inv) : sp->InvalidateEnd(inv);
      sp->PutUser();  // the last one runs release
      break;
    }
    case OpCode::kInvalidateMm: {
      // §10.8: a reference, no user (truncate, reclaim).
      sp->Grab();
      target::Invalidation inv;
      res.code = sp->InvalidateStart(RangeOfOp(op), &inv);
      if (res.code == absl::StatusCode::kOk) {
        page_table_.Change(harness::WholePagesOfRange(inv.range));
        sp->InvalidateEnd(inv);
      }
      sp->Drop();
      break;
    }
    case OpCode::kClearFlushYoung:
    case OpCode::kClearYoung:
    case OpCode::kTestYoung:
    case OpCode::kChangePte:
    case OpCode::kSecondaryTlb: {
      res.got_user = sp->TryGetUser();
      if (!res.got_user) break;
      const uint64_t start = op.start(), end = op.start() + op.length();
      if (op.code == OpCode::kClearFlushYoung) res.flag = sp->ClearFlushYoung(start, end);
      if (op.code == OpCode::kClearYoung) res.flag = sp->ClearYoung(start, end);
      if (op.code == OpCode::kTestYoung) res.flag = sp->TestYoung(start);
      if (op.code == OpCode::kChangePte) sp->ChangePte(start);
      if (op.code == OpCode::kSecondaryTlb) sp->InvalidateSecondaryTlbs(start, end);
      sp->PutUser();
      break;
    }
    case OpCode::kReadOnly:
      res.flag = sp->RangeUpdateToReadOnly(RangeOfOp(op));
      break;
    case OpCode::kSynchronize:
      sp->Synchronize();
      break;
    case OpCode::kReadBegin:
      res.seq = subs_[op.slot]->ReadBegin();
      ts.last_seq[op.slot] = res.seq;
      break;
    case OpCode::kReadRetry:
      res.retry = drivers_[op.slot].ReadRetry(subs_[op.slot], ts.last_seq[op.slot],
                                              lock_holder_[op.slot] == thread);
      break;
    case OpCode::kCheckRetry:
      res.retry = subs_[op.slot]->CheckRetry(ts.last_seq[op.slot]);
      break;
    case OpCode::kFault:
    case OpCode::kFaultAt: {
      res.got_user = sp->TryGetUser();
      if (!res.got_user) break;
      res.attempts = drivers_[op.slot].Fault(subs_[op.slot], page_table_, PagesOfOp(op));
      sp->PutUser();
      break;
    }
    case OpCode::kRegister:
    case OpCode::kRegisterSecondary: {
      res.got_user = sp->TryGetUser();
      ClassicSub* sub = classics_[op.slot];
      const bool fresh = sub == nullptr;
      if (fresh) sub = sp->NewClassic(op.slot, RegisteredBehaviour(op), /*get_kind=*/false);
      res.code = sp->Register(sub);
      if (fresh && res.code == absl::StatusCode::kOk) {
        classics_[op.slot] = sub;
        ++live_classics_;
      } else if (fresh) {
        sp->DeleteClassic(sub);
      }
      if (res.got_user) sp->PutUser();
      break;
    }
    case OpCode::kUnregister: {
      ClassicSub* sub = classics_[op.slot];
      if (sub == nullptr) {
        ClassicSub* probe = sp->NewClassic(op.slot, 0, false);  // never registered
        sp->Unregister(probe);
        sp->DeleteClassic(probe);
        break;
      }
      sp->Unregister(sub);
      classics_[op.slot] = nullptr;
      fail_start_armed_[op.slot] = false;
      sp->DeleteClassic(sub);  // at once: a later callback on it is a use after free
      --live_classics_;
      break;
    }
    case OpCode::kGet: {
      res.got_user = sp->TryGetUser();
      const absl::StatusOr<ClassicSub*> got = sp->Get(op.behaviour);
      res.code = got.status().code();
      if (got.ok()) {
        const int id = GetKindId(op.behaviour);
        if (classics_[id] != *got) {
          observer_->Violation(NotAProperty(absl::StrFormat(
              "GetClassic returned %p, but the live subscriber with these ops is %p",
              static_cast<const void*>(*got), static_cast<const void*>(classics_[id]))));
        }
        ++get_refs_[op.behaviour];
      }
      if (res.got_user) sp->PutUser();
      break;
    }
    case OpCode::kPut: {
      ClassicSub* sub = classics_[GetKindId(op.behaviour)];
      if (get_refs_[op.behaviour] == 0 || sub == nullptr) {
        // Holds no reference: the target must only warn.
        ClassicSub* probe = sp->NewClassic(GetKindId(op.behaviour), op.behaviour, true);
        sp->Put(probe);
        sp->DeleteClassic(probe);
        break;
      }
      --get_refs_[op.behaviour];
      sp->Put(sub);  // the last one frees it (OnFree) after a grace period
      break;
    }
    case OpCode::kRelease:
      program_user_ = false;
      sp->PutUser();
      break;
    case OpCode::kLock:
      drivers_[op.slot].HoldLock();
      lock_holder_[op.slot] = thread;
      break;
    case OpCode::kUnlock:
      lock_holder_[op.slot] = -1;
      drivers_[op.slot].DropLock();
      break;
    case OpCode::kMisbehave:
      // Arms the live subscription's / subscriber's driver; an empty slot, or a
      // target that does not report misuse (model.h), arms nothing.
      if (!sp->traits().reports_misuse) break;
      if (op.misbehaviour == Misbehaviour::kFailStart) {
        if (classics_[op.slot] != nullptr) fail_start_armed_[op.slot] = true;
      } else if (subs_[op.slot] != nullptr) {
        (op.misbehaviour == Misbehaviour::kEvenSeq ? armed_[op.slot].even_seq
                                                   : armed_[op.slot].fail_blockable) = true;
      }
      break;
  }
  return res;
}

bool World::OnInterval(IntervalSub* sub, const Range& range, Seq cur_seq) {
  const int slot = SlotOf(sub);
  if (slot < 0) {
    observer_->Violation(P5SequentialCallback(
        {.sub = sub, .live = false, .range = range, .cur_seq = cur_seq}));
  }
  IntervalSub* ts = subs_[slot];
  observer_->AtIntervalCallback(*ts, range, cur_seq);
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kInterval;
  r.id = slot;
  r.start = range.start;
  r.end = range.end;
  r.blockable = range.blockable;
  r.event = range.event;
  r.cur_seq = cur_seq;
  Armed& armed = armed_[slot];
  r.result = drivers_[slot].Invalidate(ts, range, cur_seq, armed.even_seq);
  if (r.result) armed.even_seq = false;  // it ran (with the lock)
  if (r.result && range.blockable && armed.fail_blockable) {
    armed.fail_blockable = false;  // did its work, then reports a failure
    r.result = false;
  }
  Record(r);
  return r.result;
}

ClassicSub* World::CheckedClassic(ClassicSub* sub, const char* callback) {
  const int id = ClassicIdOf(sub);
  if (id < 0) {
    observer_->Violation(NotAProperty(absl::StrFormat(
        "classic %s callback on %p, which is not a live subscriber (unregistered or freed)",
        callback, static_cast<const void*>(sub))));
  }
  return classics_[id];
}

void World::OnClassicRelease(ClassicSub* sub) {
  ClassicSub* c = CheckedClassic(sub, "release");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kRelease;
  r.id = c->id();
  Record(r);
  if ((c->behaviour() & kPutsSelfOnRelease) && c->id() >= kClassicSlots) {
    // The driver drops its handles on release (allowed inside release, as the
    // kernel's mmu_notifier_put): the free waits for the grace period.
    const uint8_t b = c->behaviour();
    while (get_refs_[b] > 0) {
      --get_refs_[b];
      target_->Put(c);
    }
  }
}

bool World::OnClassicStart(ClassicSub* sub, const Range& range) {
  ClassicSub* c = CheckedClassic(sub, "invalidate_range_start");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kStart;
  r.id = c->id();
  r.start = range.start;
  r.end = range.end;
  r.blockable = range.blockable;
  r.event = range.event;
  r.result = !((c->behaviour() & kFailsNonblock) && !range.blockable);
  if (range.blockable && c->id() < kClassicSlots && fail_start_armed_[c->id()]) {
    fail_start_armed_[c->id()] = false;
    r.result = false;
  }
  Record(r);
  return r.result;
}

void World::OnClassicEnd(ClassicSub* sub, const Range& range) {
  ClassicSub* c = CheckedClassic(sub, "invalidate_range_end");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kEnd;
  r.id = c->id();
  r.start = range.start;
  r.end = range.end;
  r.blockable = range.blockable;
  r.event = range.event;
  Record(r);
}

bool World::OnClassicSecondary(ClassicSub* sub, target::SecondaryCall call, uint64_t start,
                               uint64_t end) {
  ClassicSub* c = CheckedClassic(sub, "secondary-MMU");
  if (!(c->behaviour() & target::kClassicSecondary)) {
    observer_->Violation(NotAProperty(absl::StrFormat(
        "a secondary-MMU callback on classic id %d, whose ops have none", c->id())));
  }
  CallbackRecord r;
  r.kind = static_cast<CallbackRecord::Kind>(static_cast<int>(CallbackRecord::Kind::kClearFlushYoung) +
                                             static_cast<int>(call));
  r.id = c->id();
  r.start = start;
  r.end = end;
  r.result = call <= target::SecondaryCall::kTestYoung && ClassicYoung(c->id(), start);
  Record(r);
  return r.result;
}

ClassicSub* World::OnAlloc(uint8_t behaviour) {
  const int id = GetKindId(behaviour);
  if (classics_[id] != nullptr) {
    observer_->Violation(NotAProperty(absl::StrFormat(
        "alloc_notifier for get(%s) while a subscriber with these ops is still live",
        BehaviourText(behaviour))));
  }
  classics_[id] = target_->NewClassic(id, behaviour, /*get_kind=*/true);
  ++live_classics_;
  return classics_[id];
}

void World::OnFree(ClassicSub* sub) {
  ClassicSub* c = CheckedClassic(sub, "free_notifier");
  CallbackRecord r;
  r.kind = CallbackRecord::Kind::kFree;
  r.id = c->id();
  Record(r);
  if (get_refs_[c->behaviour()] != 0) {
    observer_->Violation(NotAProperty(absl::StrFormat("free_notifier of %s while the program holds %d "
                                         "reference(s) from get",
                                         DescribeRecord(r), get_refs_[c->behaviour()])));
  }
  classics_[c->id()] = nullptr;
  --live_classics_;
  target_->DeleteClassic(c);
}

}  // namespace nf::fuzz
