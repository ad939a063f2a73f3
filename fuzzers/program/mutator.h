// fuzzers/program/mutator.h: the structure-aware mutator of the program fuzzers
// (libFuzzer's LLVMFuzzerCustomMutator and LLVMFuzzerCustomCrossOver).
//
// libFuzzer's own mutations grow an input byte by byte; from an empty corpus it
// takes hundreds of executions before a program holds two threads, an insert and
// an invalidation of the same pages. This mutator works on the decoded Program
// instead: it decodes the bytes (Decode is total), changes the program, and
// encodes it again (Encode, within the size libFuzzer allows: ops are dropped from
// the end of the program order until it fits).
//
//   - An empty or tiny input (fewer than kMinOpsToMutate ops) becomes a freshly
//     generated program: 2-4 threads, inserts first, then invalidations, faults,
//     reads, removes, classic subscribers and their teardown, on ranges that
//     overlap the inserted ones; for the concurrent fuzzer a schedule too.
//   - Otherwise one to three op-level mutations: insert a fresh op, delete,
//     duplicate, swap, move an op to another thread, change one operand (biased to
//     boundary values: slot 0 and the last, page 0 and the last, 1 page and the
//     whole space, the blockable flag, events, failing behaviours), reorder the
//     program order, add or remove a thread, flip the initial seq; and, for the
//     concurrent fuzzer only, schedule mutations (sync/scheduler.h ScheduleInput):
//     switch between direct and PCT, change PCT's depth, horizon or seed (which
//     moves its change points), perturb, extend or shorten the decision bytes.
//   - One mutation in kByteLevelOneIn stays byte-level (LLVMFuzzerMutate), so the
//     dictionary and libFuzzer's comparison feedback keep working.
//   - Crossover splices whole threads of the other parent into this one (and
//     generates a program when the child would have fewer than kMinOpsToMutate).
//
// Ops are generated from the op table (program.h Info(code).operands): an opcode
// appended later with an existing operand layout is generated with no change
// here; one with a new layout gets raw operand bytes through the codec until
// PickOperands learns it.
//
// Deterministic: the output is a pure function of the input bytes and the seed
// libFuzzer passes (a SplitMix64 generator seeded from it). Nothing is printed.
//
// The switch for the ablation of `./nf mutants --ablate mutator`: with the
// environment variable NF_MUTATOR=0 the mutator is plain libFuzzer
// (LLVMFuzzerMutate) and the crossover declines (returns 0).
#ifndef NF_FUZZERS_PROGRAM_MUTATOR_H_
#define NF_FUZZERS_PROGRAM_MUTATOR_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzzers/program/program.h"

namespace nf::fuzz {

// SplitMix64 (Steele, Lea, Flood 2014): small, seeded, the same on every platform.
class MutatorRng {
 public:
  explicit MutatorRng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  int Below(int n);  // uniform-ish in [0, n); n >= 1
  bool OneIn(int n) { return Below(n) == 0; }

 private:
  uint64_t state_;
};

// Which fuzzer the mutator serves: only the concurrent one reads the schedule.
enum class MutatorTarget : uint8_t { kSequential, kConcurrent };

// Inputs with fewer ops are replaced by a generated program.
inline constexpr size_t kMinOpsToMutate = 3;
// One mutation in this many is libFuzzer's byte-level one.
inline constexpr int kByteLevelOneIn = 5;

// A fresh, valid program of 2-4 threads and at least 5 ops, the first an insert.
Program GenerateProgram(MutatorRng& rng, MutatorTarget target);
// One to three structural mutations of a valid program; it stays valid.
void MutateProgram(Program* p, MutatorRng& rng, MutatorTarget target);
// A child of two valid programs holding threads of both (when both have ops).
Program CrossOverPrograms(const Program& a, const Program& b, MutatorRng& rng);
// Encode(p) with ops dropped from the end of the program order (and then the
// schedule shortened) until it fits in max_size bytes.
std::vector<uint8_t> EncodeWithin(Program p, size_t max_size);

// False if NF_MUTATOR=0 is set.
bool MutatorEnabled();

// Which fuzzer this binary is: each binary linking nf_program_mutator (an object
// library: its hooks LLVMFuzzerCustomMutator and LLVMFuzzerCustomCrossOver are
// always linked in) defines it.
MutatorTarget ProgramMutatorTarget();

// The bodies of the hooks.
size_t CustomMutate(MutatorTarget target, uint8_t* data, size_t size, size_t max_size,
                    unsigned int seed);
size_t CustomCrossOver(MutatorTarget target, const uint8_t* data1, size_t size1,
                       const uint8_t* data2, size_t size2, uint8_t* out, size_t max_out_size,
                       unsigned int seed);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_PROGRAM_MUTATOR_H_
