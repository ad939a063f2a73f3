// sync/fiber.cc: stacks, the x86-64 context switch and the sanitizer
// annotations of every switch. See fiber.h.
#include "sync/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if !defined(__x86_64__)
#error "sync/fiber.cc: the context switch is written for x86-64 System V only"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define NF_FIBER_ASAN 1
#elif defined(__SANITIZE_THREAD__)
#define NF_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NF_FIBER_ASAN 1
#elif __has_feature(thread_sanitizer)
#define NF_FIBER_TSAN 1
#endif
#endif

#if defined(NF_FIBER_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(NF_FIBER_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

// The switch. nf_sched_swap_context(save, load):
//   push the callee-saved registers and the FP control state on the current
//   stack, store rsp to *save, set rsp = load, pop the same frame, return into
//   whatever suspended itself there (or, for a fresh fiber, into the trampoline).
//
// A saved frame, from the saved stack pointer upwards (8-byte slots):
//   [0] MXCSR (low 4 bytes), x87 control word (next 2 bytes)
//   [1] r15  [2] r14  [3] r13  [4] r12  [5] rbx  [6] rbp  [7] return address
//
// nf_sched_fiber_trampoline: where a fresh fiber's first switch "returns". Its
// initial frame holds the Fiber* in r12 and the entry function in r13; rsp is
// 16-byte aligned here, so the call below enters the function with the ABI's
// alignment. The entry never returns; `.cfi_undefined rip` ends backtraces here.
extern "C" {
void nf_sched_swap_context(void** save_sp, void* load_sp);
void nf_sched_fiber_trampoline();
}

asm(R"(
  .pushsection .text
  .p2align 4
  .globl nf_sched_swap_context
  .hidden nf_sched_swap_context
  .type nf_sched_swap_context, @function
nf_sched_swap_context:
  .cfi_startproc
  pushq %rbp
  .cfi_adjust_cfa_offset 8
  pushq %rbx
  .cfi_adjust_cfa_offset 8
  pushq %r12
  .cfi_adjust_cfa_offset 8
  pushq %r13
  .cfi_adjust_cfa_offset 8
  pushq %r14
  .cfi_adjust_cfa_offset 8
  pushq %r15
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  popq %r15
  .cfi_adjust_cfa_offset -8
  popq %r14
  .cfi_adjust_cfa_offset -8
  popq %r13
  .cfi_adjust_cfa_offset -8
  popq %r12
  .cfi_adjust_cfa_offset -8
  popq %rbx
  .cfi_adjust_cfa_offset -8
  popq %rbp
  .cfi_adjust_cfa_offset -8
  ret
  .cfi_endproc
  .size nf_sched_swap_context, .-nf_sched_swap_context

  .p2align 4
  .globl nf_sched_fiber_trampoline
  .hidden nf_sched_fiber_trampoline
  .type nf_sched_fiber_trampoline, @function
nf_sched_fiber_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size nf_sched_fiber_trampoline, .-nf_sched_fiber_trampoline
  .popsection
)");

namespace nf::sched {
namespace {

std::atomic<uint64_t> g_stack_mappings{0};

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "nf::sched fiber: %s\n", what);
  std::abort();
}

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

#if defined(NF_FIBER_ASAN)
// The context that is switching away; read by the context it switches to, which
// learns the OS thread's stack bounds from ASan on the first switch away from it.
thread_local Context* t_switch_from = nullptr;
#endif

// Sanitizer bookkeeping right before the stack pointer changes. `exiting`: the
// running context will never be resumed (ASan may free its fake stack).
// Always inlined: once __tsan_switch_to_fiber has run, TSan books function exits
// on the target fiber's shadow call stack, so no instrumented function may return
// between it and the switch (a returning BeforeSwitch popped the target's stack).
__attribute__((always_inline)) inline void BeforeSwitch(Context* from, Context* to,
                                                        bool exiting) {
#if defined(NF_FIBER_ASAN)
  t_switch_from = from;
  __sanitizer_start_switch_fiber(exiting ? nullptr : &from->asan_fake_stack,
                                 to->stack_lo, to->stack_size);
#elif defined(NF_FIBER_TSAN)
  (void)from;
  (void)exiting;
  __tsan_switch_to_fiber(to->tsan_fiber, 0);  // 0: the switch synchronizes
#else
  (void)from;
  (void)to;
  (void)exiting;
#endif
}

// Sanitizer bookkeeping right after a context resumes. `self` is the resumed
// context (nullptr on a fresh fiber's first entry: it has no fake stack yet).
__attribute__((always_inline)) inline void AfterSwitch(Context* self) {
#if defined(NF_FIBER_ASAN)
  const void* from_lo = nullptr;
  size_t from_size = 0;
  __sanitizer_finish_switch_fiber(self != nullptr ? self->asan_fake_stack : nullptr,
                                  &from_lo, &from_size);
  Context* from = t_switch_from;
  if (from != nullptr && from->stack_lo == nullptr) {
    from->stack_lo = from_lo;
    from->stack_size = from_size;
  }
#else
  (void)self;
#endif
}

}  // namespace

FiberStack::FiberStack(size_t size) {
  const size_t page = PageSize();
  size_ = (size + page - 1) / page * page;
  map_size_ = size_ + page;
  void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) Die("mmap of a fiber stack failed");
  map_ = static_cast<char*>(m);
  if (mprotect(map_, page, PROT_NONE) != 0) Die("mprotect of a stack guard page failed");
  lo_ = map_ + page;
  g_stack_mappings.fetch_add(1, std::memory_order_relaxed);
}

FiberStack::~FiberStack() {
#if defined(NF_FIBER_ASAN)
  // Frames that never returned left poisoned shadow; a later mapping at the same
  // address must not inherit it.
  __asan_unpoison_memory_region(lo_, size_);
#endif
  munmap(map_, map_size_);
}

uint64_t FiberStack::TotalMappings() {
  return g_stack_mappings.load(std::memory_order_relaxed);
}

Fiber::Fiber(size_t stack_size) : stack_(stack_size) {
  context_.stack_lo = stack_.lo();
  context_.stack_size = stack_.size();
}

Fiber::~Fiber() {
#if defined(NF_FIBER_TSAN)
  if (context_.tsan_fiber != nullptr) __tsan_destroy_fiber(context_.tsan_fiber);
#endif
}

// Where every fresh fiber begins (called by the trampoline).
void FiberFirstEntry(Fiber* f) {
  AfterSwitch(nullptr);
  f->entry_(f->arg_);
  Die("a fiber's entry function returned (it must end with ExitFiber)");
}

void Fiber::Start(Entry entry, void* arg) {
#if defined(NF_FIBER_ASAN)
  // Frames still on the stack from the previous run (abandoned, or the frames
  // under ExitFiber) never returned, so their redzones are still poisoned. They
  // all lie above the last saved stack pointer (plus the ABI's 128-byte red zone).
  if (context_.sp != nullptr) {
    const uintptr_t lo = reinterpret_cast<uintptr_t>(stack_.lo());
    uintptr_t from = (reinterpret_cast<uintptr_t>(context_.sp) - 256) & ~uintptr_t{63};
    if (from < lo) from = lo;
    __asan_unpoison_memory_region(reinterpret_cast<void*>(from),
                                  reinterpret_cast<uintptr_t>(stack_.hi()) - from);
  }
  context_.asan_fake_stack = nullptr;
#endif
#if defined(NF_FIBER_TSAN)
  // A fresh TSan fiber each time: the old one's shadow call stack still holds
  // the frames that never returned.
  if (context_.tsan_fiber != nullptr) __tsan_destroy_fiber(context_.tsan_fiber);
  context_.tsan_fiber = __tsan_create_fiber(0);
#endif
  entry_ = entry;
  arg_ = arg;
  live_ = true;

  // The initial frame, laid out as nf_sched_swap_context pops it (see above),
  // with the FP control state of the calling context.
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  uint64_t* top = reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(stack_.hi()) &
                                              ~uintptr_t{15});
  top[-1] = reinterpret_cast<uint64_t>(&nf_sched_fiber_trampoline);  // return address
  top[-2] = 0;                                                      // rbp: ends the frame chain
  top[-3] = 0;                                                      // rbx
  top[-4] = reinterpret_cast<uint64_t>(this);                       // r12: the argument
  top[-5] = reinterpret_cast<uint64_t>(&FiberFirstEntry);           // r13: the function
  top[-6] = 0;                                                      // r14
  top[-7] = 0;                                                      // r15
  top[-8] = uint64_t{mxcsr} | (uint64_t{fpucw} << 32);
  context_.sp = &top[-8];
}

void InitCurrentContext(Context* c) {
  *c = Context{};
#if defined(NF_FIBER_TSAN)
  c->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void SwitchContext(Context* from, Context* to) {
  void* const load = to->sp;  // read before TSan attributes accesses to `to`
  BeforeSwitch(from, to, /*exiting=*/false);
  nf_sched_swap_context(&from->sp, load);
  AfterSwitch(from);
}

void ExitFiber(Fiber* from, Context* to) {
  from->live_ = false;
  void* const load = to->sp;
  BeforeSwitch(&from->context_, to, /*exiting=*/true);
  // The saved stack pointer is never resumed; Start() reads it to know how much
  // of the stack to unpoison.
  nf_sched_swap_context(&from->context_.sp, load);
  Die("a finished fiber was resumed");
}

}  // namespace nf::sched
