// sync/fiber.h: cooperative user-space execution contexts ("fibers")
// inside one OS thread, for the deterministic scheduler (scheduler.h).
//
// A Fiber owns a stack (mapped once, with a guard page below it, and reused for
// every Start) and a Context: the saved stack pointer of a suspended execution,
// plus the bookkeeping AddressSanitizer and ThreadSanitizer need to follow stack
// switches. The caller's own execution (the OS thread's stack) is a Context too,
// initialised with InitCurrentContext().
//
// The switch itself is a few instructions of our own assembly (x86-64 System V
// only): it saves the callee-saved registers rbx, rbp, r12-r15, the MXCSR and the
// x87 control word on the current stack, stores the stack pointer, loads the
// other one and restores the same set. No system call, no signal mask.
//
// Requirements:
//   - All switches between contexts happen on one OS thread.
//   - A fiber never returns from its entry function: it ends with ExitFiber().
//   - Do not switch while a C++ exception is being handled (inside a catch block):
//     the runtime keeps one chain of caught exceptions per OS thread.
//
// Guarantees:
//   - Start() never maps memory once the fiber exists: stacks are reused.
//     FiberStack::TotalMappings() counts every stack ever mapped (for tests).
//   - A fiber may be Start()ed again while suspended mid-execution ("abandoned"):
//     its old frames are dropped, NOT unwound, so destructors of objects on the
//     abandoned stack never run. Under ASan the stale stack poisoning is cleared.
//   - Stack overflow hits the guard page (SIGSEGV; ASan reports stack-overflow).
#ifndef NF_SYNC_FIBER_H_
#define NF_SYNC_FIBER_H_

#include <cstddef>
#include <cstdint>

namespace nf::sched {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NF_SCHED_SANITIZED_STACKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NF_SCHED_SANITIZED_STACKS 1
#endif
#endif

// Sanitizers grow frames (redzones, shadow bookkeeping): give them more room.
#if defined(NF_SCHED_SANITIZED_STACKS)
inline constexpr size_t kDefaultStackSize = 256 * 1024;
#else
inline constexpr size_t kDefaultStackSize = 64 * 1024;
#endif

// A suspended (or the running) execution context.
struct Context {
  void* sp = nullptr;  // saved stack pointer while suspended
  // The stack this context runs on. For the OS thread's own context these are
  // learned (under ASan) on the first switch away from it.
  const void* stack_lo = nullptr;
  size_t stack_size = 0;
  void* asan_fake_stack = nullptr;  // ASan's fake stack while suspended
  void* tsan_fiber = nullptr;       // TSan's fiber handle
};

// A stack: `size` usable bytes above one PROT_NONE guard page.
class FiberStack {
 public:
  explicit FiberStack(size_t size);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;

  char* lo() const { return lo_; }
  char* hi() const { return lo_ + size_; }
  size_t size() const { return size_; }

  // Number of stacks mapped by this process so far (never decreases).
  static uint64_t TotalMappings();

 private:
  char* map_ = nullptr;  // start of the mapping (the guard page)
  size_t map_size_ = 0;
  char* lo_ = nullptr;
  size_t size_ = 0;
};

class Fiber;

// Like SwitchContext (below), but the running fiber `from` is finished and will
// not be resumed; it may be Start()ed again. Never returns.
[[noreturn]] void ExitFiber(Fiber* from, Context* to);

class Fiber {
 public:
  using Entry = void (*)(void* arg);

  explicit Fiber(size_t stack_size = kDefaultStackSize);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Prepares the fiber so that the next switch to context() runs entry(arg) from
  // the top of the stack. Call from another context, never from this fiber.
  // If the fiber was suspended mid-execution it is abandoned (see above).
  void Start(Entry entry, void* arg);

  Context* context() { return &context_; }

  // True between Start() and the fiber's ExitFiber().
  bool live() const { return live_; }

 private:
  friend void FiberFirstEntry(Fiber* f);  // fiber.cc: where a fresh fiber begins
  friend void ExitFiber(Fiber* from, Context* to);

  FiberStack stack_;
  Context context_;
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
  bool live_ = false;
};

// Makes `c` describe the calling OS thread's own execution; call once before
// switching away from it.
void InitCurrentContext(Context* c);

// Suspends the running context `from` and resumes `to`. Returns when some other
// context switches back to `from`.
void SwitchContext(Context* from, Context* to);

}  // namespace nf::sched

#endif  // NF_SYNC_FIBER_H_
