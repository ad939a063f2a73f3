// fuzzers/oracles/property.h: the properties of docs/contract.md §7 by value,
// and a failure that says which one it breaks.
//
// Every check that reports a property names it with a Property; its text starts
// "Pn: " (Violated), and the verdict of a run document (report_json.h) takes
// the property from the Failure, never from the text. A failure that breaks no
// property of the contract (the core and the reference model disagree on a
// state, the cleanup cannot run, an internal error) has Property::kNone; its
// text says what it is. A new property: one enumerator before kEnd, its name in
// property.cc, its clause in docs/contract.md §7 (property_test checks that
// every enumerator has a name and a clause).
#ifndef NF_FUZZERS_ORACLES_PROPERTY_H_
#define NF_FUZZERS_ORACLES_PROPERTY_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace nf::fuzz {

enum class Property : uint8_t {
  kNone = 0,  // not a property of the contract
  kP1,        // quiescence: no invalidation active, the seq is even, nothing deferred
  kP2,        // no interval subscription has an even seq
  kP3,        // callbacks: when, on what, with which cur_seq, each once per walk
  kP4,        // the tree: changed in even epochs, holds what was inserted and not removed
  kP5,        // no callback after remove returned (or on a freed subscriber)
  kP6,        // no stale mapping
  kP7,        // liveness
  kP8,        // a failed start changed nothing
  kP9,        // release: once, then no callback
  kP10,       // no data race
  kP11,       // no lock-order inversion
  kEnd,       // one past the last property
};
inline constexpr int kNumProperties = static_cast<int>(Property::kEnd) - 1;

// "P1" .. "P11"; "" for kNone.
std::string_view PropertyName(Property p);

// What failed. text is the whole message a report prints; empty: nothing failed.
struct Failure {
  Property property = Property::kNone;
  std::string text;

  bool empty() const { return text.empty(); }
};

// A property broken: text "<name>: <what>".
Failure Violated(Property p, std::string_view what);
// A failure that breaks no property of the contract: text as given.
Failure NotAProperty(std::string_view what);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_ORACLES_PROPERTY_H_
