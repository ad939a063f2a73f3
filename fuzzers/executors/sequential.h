// fuzzers/executors/sequential.h: runs a Program one op at a time on the real core and on
// the reference model (fuzzers/oracles/model.h), and checks that they agree.
//
// Order: program order (program.h ForEachOp: the order of the ops in the bytes
// and of the lines of the text form), all on the calling OS thread; each thread keeps its own open invalidations, last seqs and
// held driver locks. Ops the model says would block are skipped (model.h, the
// skip rule).
//
// After every op:
//   - the op's result and callbacks equal the model's prediction (model.h);
//   - the whole state equals the model's: Target::InspectInto() (users, refs,
//     released, has_itree, global seq, active, open, tree as a multiset with each
//     subscription's range and seq, deferred list, classic list, pending frees,
//     warning counts), every live subscription's seq, every mirror, the page
//     table, and the world's warn-handler counts (no unexpected Warning).
//     The snapshot after the ops that can change the core's state (the others
//     only read it: a change they made shows at the next snapshot); the mirrors
//     and the page table after the ops that can change them or P6's exemptions
//     (fault, remove, invalidations, inv_end, release) and after any op that
//     made an interval callback (nothing else writes a mirror); the
//     subscriptions' seqs after every op. A step allocates nothing: the
//     snapshots' buffers are reused from op to op and input to input;
//   - P1 (active == 0 ⇒ seq even, deferred empty), P2 (every subscription's seq
//     odd), P6 (a mirror entry outside every open invalidation equals the page
//     table), and after a failed start P8 (active, open, tree, deferred and the
//     seq's parity as before; classic pairing is in the model's callbacks).
// At every interval callback (P3): the global seq is odd and equals cur_seq, the
// subscription is in the tree and overlaps the range; P5: it is live (not
// removed). P9 is in the model: one RELEASE per interval subscription, at most
// one release per classic subscriber.
// At the end: every thread's locks are dropped and invalidations closed, the
// program's user exits (release runs), everything left is removed, unregistered
// or put (each step checked as above); then no users, only the world's reference,
// empty tree, list and deferred list, no pending frees, every heap object freed.
//
// A mismatch prints the program (text form), the step, the expected and actual
// values, then aborts (so libFuzzer keeps the input).
#ifndef NF_FUZZERS_SEQUENTIAL_H_
#define NF_FUZZERS_SEQUENTIAL_H_

#include <cstdio>
#include <vector>
#include <string>
#include <string_view>

#include "fuzzers/program/program.h"
#include "fuzzers/executors/report_json.h"

namespace nf::fuzz {

struct SequentialOptions {
  // Print every op, its result, its callbacks and the state after it.
  FILE* verbose = nullptr;
  // P3 at every interval callback, through Target::InspectInto(). Costs one
  // snapshot per callback.
  bool check_at_callbacks = true;
  // If set: one event per step (op, skip, callback), for the JSON run document
  // (report_json.h), which a violation writes when one is wanted.
  std::vector<TraceEvent>* events = nullptr;
};

void TestOneInput(const Program& program, const SequentialOptions& options = {});

// The report of a model disagreement: "P3: the core and the model differ:
// callback ..." when the model's complaint names a property (named once, first,
// as every report starts; the same property), else "the core and the model
// differ: ...".
Failure ModelDiffers(const Failure& err);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_SEQUENTIAL_H_
