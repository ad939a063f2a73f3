// §10 (docs/contract.md §10, the rest of the kernel's API): what the
// secondary-MMU ops, range_update_to_read_only and synchronize must do. These
// are clauses of §10, not properties of §7, so a failure here has
// Property::kNone (NotAProperty) and its text names the clause; a secondary-MMU
// callback on a subscriber that is not live is P5's
// (p5_no_callback_after_remove.cc, P5SecondaryCallback).
//
// Concurrent world (on the kernel target; nf's core skips these ops as outside
// its contract, Traits::secondary_mmu_api):
//   - every secondary-MMU callback (SecondaryCallbackEntered): the subscriber
//     has secondary-MMU methods (registered by register_secondary), the
//     secondary-TLB method if that is the call (§10.3), and the callback comes
//     from a secondary-MMU op of the calling thread, or is the secondary-TLB
//     call an end makes where the version's end does (§10.3,
//     Traits::end_calls_secondary_tlb);
//   - after a young call, change_pte or the secondary-TLB invalidate
//     (SecondaryCallReturned): no subscriber was called twice, every callback
//     was of the op's kind, with the op's range (at its address for test_young
//     and change_pte); change_pte called nothing on a version without it
//     (§10.2); a young call returned the OR of the answers and test_young
//     stopped at its first young answer (§10.1);
//   - range_update_to_read_only returned what the version says (§10.4,
//     ReadOnlyReturned);
//   - synchronize, with no other thread inside an op, left no queued free
//     (§10.7, SynchronizeReturned).
// The sequential executor checks the same through the reference model
// (fuzzers/oracles/model.h).
#include "absl/strings/str_format.h"
#include "fuzzers/oracles/oracles.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {

using target::SecondaryCall;

Failure S10SecondaryCallback(const SecondaryCallbackEntered& e, const Traits& traits) {
  if (e.sub == nullptr) return {};  // P5's
  if (!(e.sub->behaviour() & target::kClassicSecondary)) {
    return NotAProperty(absl::StrFormat("§10: a secondary-MMU callback on %s, whose ops have none",
                                        ClassicName(e.sub)));
  }
  if (e.call == SecondaryCall::kSecondaryTlb && !target::HasSecondaryTlb(e.sub->behaviour())) {
    return NotAProperty(absl::StrFormat(
        "§10.3: a secondary-TLB callback on %s, whose ops have none", ClassicName(e.sub)));
  }
  if (e.in_secondary_op) return {};
  // Outside a secondary-MMU op only an end calls one (6.1's invalidate_range).
  if (e.call != SecondaryCall::kSecondaryTlb || !traits.end_calls_secondary_tlb) {
    return NotAProperty(absl::StrFormat(
        "§10: a secondary-MMU callback on %s outside a secondary-MMU op", ClassicName(e.sub)));
  }
  return {};
}

Failure S10SecondaryCallReturned(const SecondaryCallReturned& e, const Traits& traits) {
  const SecondaryCall call = e.call;
  const bool address = call == SecondaryCall::kTestYoung || call == SecondaryCall::kChangePte;
  std::string err;
  if (!e.called_twice.empty()) {
    err = absl::StrFormat("§10: %s called twice by one secondary-MMU call", e.called_twice);
  } else if (e.other_call) {
    err = absl::StrFormat("§10: %s made another kind of secondary-MMU callback", PrintOp(*e.op));
  } else if (e.n > 0 && (e.called_start != e.start || e.called_end != (address ? e.start : e.end))) {
    err = absl::StrFormat("§10: %s called back with [0x%x,0x%x)", PrintOp(*e.op), e.called_start,
                          e.called_end);
  } else if (call == SecondaryCall::kChangePte && !traits.has_change_pte && e.n > 0) {
    err = "§10.2: change_pte called back on a version without change_pte";
  } else if (call <= SecondaryCall::kTestYoung && e.young != (e.young_answers > 0)) {
    err = absl::StrFormat("§10.1: %s returned %s, but %d of its %d callbacks answered young",
                          PrintOp(*e.op), e.young ? "young" : "old", e.young_answers, e.n);
  } else if (call == SecondaryCall::kTestYoung &&
             (e.young_answers > 1 || (e.young_answers == 1 && !e.last_young))) {
    err = "§10.1: test_young went on after a young answer";
  }
  if (err.empty()) return {};
  return NotAProperty(err);
}

Failure S10ReadOnlyReturned(const ReadOnlyReturned& e, const Traits& traits) {
  const bool want = traits.has_range_update_to_read_only && e.range.event == Event::kProtectionVma;
  if (e.result == want) return {};
  return NotAProperty(absl::StrFormat("§10.4: range_update_to_read_only of %s returned %d, expected %d",
                                      RangeText(e.range), e.result, want));
}

Failure S10SynchronizeReturned(const SynchronizeReturned& e) {
  if (!e.alone || e.pending_frees == 0) return {};
  return NotAProperty(absl::StrFormat(
      "§10.7: synchronize returned with %d free(s) still queued and no other thread running",
      e.pending_frees));
}

}  // namespace nf::fuzz
