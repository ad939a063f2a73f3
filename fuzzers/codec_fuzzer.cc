// fuzzers/codec_fuzzer.cc: the op-program codec and text form on arbitrary bytes.
//
// Checks, for any input b: Decode(b) is valid and deterministic; Decode(Encode(
// Decode(b))) == Decode(b) (the canonical bytes mean the same program);
// Encode(Decode(Encode(p))) == Encode(p) (canonical bytes are a fixed point);
// Parse(Print(p)) == p (the text form round-trips).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/program_text.h"

namespace {

[[noreturn]] void Fail(const char* what, const nf::fuzz::Program& p) {
  std::fprintf(stderr, "codec_fuzzer: %s\nprogram:\n%s", what, nf::fuzz::Print(p).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nf::fuzz;
  const Program p = Decode({data, size});
  if (!IsValid(p)) Fail("Decode produced an invalid program", p);
  if (!(Decode({data, size}) == p)) Fail("Decode is not deterministic", p);
  const std::vector<uint8_t> bytes = Encode(p);
  const Program again = Decode(bytes);
  if (!(again == p)) Fail("Decode(Encode(p)) != p", p);
  if (Encode(again) != bytes) Fail("Encode(Decode(Encode(p))) != Encode(p)", p);
  const absl::StatusOr<Program> parsed = Parse(Print(p), "<printed>");
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
    Fail("Parse(Print(p)) failed", p);
  }
  if (!(*parsed == p)) Fail("Parse(Print(p)) != p", p);
  return 0;
}
