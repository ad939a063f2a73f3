// fuzzers/program/byte_reader.h: the one place where fuzz input bytes become values.
//
// Every decoder of the project (the op-program codec, the interval-tree fuzzer)
// reads its input through ByteReader, so the reduction rules live here and
// nowhere else (no `data[i] % N` scattered over the fuzzers).
//
// Total and deterministic, in the manner of LLVM's FuzzedDataProvider: reading
// past the end never fails, it yields the given fallback (0 unless told), and
// the same bytes always read the same way.
#ifndef NF_FUZZERS_BYTE_READER_H_
#define NF_FUZZERS_BYTE_READER_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace nf::fuzz {

class ByteReader {
 public:
  explicit ByteReader(absl::Span<const uint8_t> data) : data_(data) {}

  bool empty() const { return pos_ >= data_.size(); }
  size_t remaining() const { return empty() ? 0 : data_.size() - pos_; }

  // The next byte, or `fallback` once the input has run out.
  uint8_t Byte(uint8_t fallback = 0) {
    return empty() ? fallback : data_[pos_++];
  }

  // The next byte without consuming it, or `fallback`.
  uint8_t Peek(uint8_t fallback = 0) const {
    return empty() ? fallback : data_[pos_];
  }

  // The next byte reduced into [0, n) (byte % n); 0 once the input has run out.
  // n must be in [1, 256]. This is how operands are brought into range; never use
  // it for opcodes (an opcode that wraps changes meaning when one is added).
  uint8_t Below(unsigned n) { return static_cast<uint8_t>(Byte() % n); }

  // The next byte's lowest bit.
  bool Bit() { return (Byte() & 1) != 0; }

  // Consumes and returns up to `max` of the remaining bytes.
  absl::Span<const uint8_t> Rest(size_t max) {
    const size_t n = remaining() < max ? remaining() : max;
    absl::Span<const uint8_t> out = data_.subspan(pos_, n);
    pos_ = data_.size();
    return out;
  }

 private:
  absl::Span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_BYTE_READER_H_
