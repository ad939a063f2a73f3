#include "target/target.h"

#include <cstdio>
#include <cstdlib>

namespace nf::target {

namespace {
thread_local CallbackSink* current_sink = nullptr;
}  // namespace

CallbackSink::Scope::Scope(CallbackSink* sink) : prev_(current_sink) { current_sink = sink; }
CallbackSink::Scope::~Scope() { current_sink = prev_; }

CallbackSink* CallbackSink::Current() {
  if (current_sink == nullptr) {
    std::fprintf(stderr, "nf fuzz: a notifier callback ran outside any CallbackSink::Scope\n");
    std::abort();
  }
  return current_sink;
}

}  // namespace nf::target
