/* kernel/shim/nf_kernel_shim.h: the userspace kernel that mm/mmu_notifier.c,
 * lib/interval_tree.c and lib/rbtree.c are compiled against.
 *
 * Force-included (-include) into every kernel C file of the kernel target; the
 * <linux/...> headers those files name resolve to the empty placeholders of
 * kernel/shim/include/linux/ (everything lives here), except the few real
 * headers extracted beside the sources (mmu_notifier.h, interval_tree*.h,
 * rbtree*.h). Nothing here is kernel code: each primitive is written for nf,
 * after the kernel's documented semantics, and most are out-of-line calls into
 * kernel/shim/primitives.cc, which builds them on nf's sync seam (real threads
 * or the deterministic scheduler). The C side is therefore the same in both
 * flavours; only the C++ side is compiled twice.
 *
 * What is checked (each check files a report, see nf_kernel.h):
 *   WARN_ON, WARN_ON_ONCE   report NFK_REPORT_WARN with file:line; continue.
 *   BUG_ON                  report NFK_REPORT_BUG; then abort().
 *   might_sleep             report NFK_REPORT_MIGHT_SLEEP if the calling logical
 *                           thread holds a spinlock or is between
 *                           non_block_start and non_block_end.
 *   lockdep_assert_held     report NFK_REPORT_LOCKDEP unless the calling
 *                           logical thread holds that spinlock.
 *   lock_map_acquire        report NFK_REPORT_LOCKDEP on recursion (the thread
 *                           already holds that lockdep map: e.g. remove or
 *                           read_begin called from inside an invalidation).
 *   lock order              (deterministic flavour) every spinlock, rw_semaphore
 *                           and lockdep map goes to the scheduler's lock-order
 *                           detector under its class (sync/lock_order.h): the
 *                           name given at spin_lock_init / nf_kernel_init_rwsem
 *                           (lockdep's "&subscriptions->lock"), the map's name.
 *                           A cycle of classes is a potential deadlock (P11).
 *   might_lock, rwsem       report NFK_REPORT_LOCKDEP when the thread already
 *                           holds that rw_semaphore (a self-deadlock); a
 *                           recursive down_* is a BUG (it would never return).
 *   hlist_for_each_entry_rcu  report NFK_REPORT_RCU when its lockdep condition
 *                           (srcu_read_lock_held, lockdep_is_held) is false.
 *   mmap_assert_write_locked  report NFK_REPORT_LOCKDEP.
 */
#ifndef NF_KERNEL_SHIM_H
#define NF_KERNEL_SHIM_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* primitives.cc includes this file for the declarations (C linkage). */
#ifdef __cplusplus
#define _Alignas(n) alignas(n)
#endif

#define CONFIG_MMU_NOTIFIER 1
#define CONFIG_LOCKDEP 1

/* ---- compiler ------------------------------------------------------------ */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#ifndef __cplusplus /* primitives.cc has attributes of its own */
#undef __always_inline /* glibc has one */
#define __always_inline inline __attribute__((__always_inline__))
#define noinline __attribute__((__noinline__))
#define __must_check __attribute__((__warn_unused_result__))
#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)
#define container_of(ptr, type, member) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define check_add_overflow(a, b, d) __builtin_add_overflow((a), (b), (d))
#define pr_info(...) ((void)0)
#endif

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef unsigned int gfp_t;
#define GFP_KERNEL 0u
typedef struct { unsigned long pte; } pte_t;

/* ---- reports (primitives.cc) --------------------------------------------- */
enum nf_kernel_report_kind {
  NF_KERNEL_WARN = 0,
  NF_KERNEL_BUG = 1,
  NF_KERNEL_MIGHT_SLEEP = 2,
  NF_KERNEL_LOCKDEP = 3,
  NF_KERNEL_RCU = 4,
};
void nf_kernel_report(int kind, const char *file, int line, const char *what);

#define WARN_ON(cond)                                              \
  ({                                                               \
    int __nf_c = !!(cond);                                         \
    if (unlikely(__nf_c))                                          \
      nf_kernel_report(NF_KERNEL_WARN, __FILE__, __LINE__, #cond); \
    __nf_c;                                                        \
  })
#define WARN_ON_ONCE(cond)                                           \
  ({                                                                 \
    static bool __nf_warned;                                         \
    int __nf_c = !!(cond);                                           \
    if (unlikely(__nf_c) && !__atomic_exchange_n(&__nf_warned, true, \
                                                 __ATOMIC_RELAXED))  \
      nf_kernel_report(NF_KERNEL_WARN, __FILE__, __LINE__, #cond);   \
    __nf_c;                                                          \
  })
#define BUG_ON(cond)                                              \
  do {                                                            \
    if (unlikely(cond))                                           \
      nf_kernel_report(NF_KERNEL_BUG, __FILE__, __LINE__, #cond); \
  } while (0)

/* ---- marked accesses ------------------------------------------------------
 * READ_ONCE/WRITE_ONCE are relaxed atomic accesses, smp_load_acquire /
 * smp_store_release acquire/release ones, all out of line and all yield points
 * of the deterministic scheduler, where each is reported to the race detector
 * as a marked access with its order, at its caller's code location. Out of
 * line on purpose: SanitizerCoverage's trace-loads/trace-stores instrument
 * volatile and atomic loads and stores like plain ones (measured, clang 14:
 * kernel/race_shim_test.cc), so the kernel's own volatile READ_ONCE compiled
 * into the instrumented file would also be seen as a plain access. Relaxed
 * atomics keep ThreadSanitizer quiet where both sides are marked; a READ_ONCE
 * racing a plain write under a lock (the kernel's own convention, e.g.
 * wait_event on invalidate_seq) is suppressed by name in primitives.cc
 * (race_top:nf_kernel_read_once). */
void nf_kernel_read_once(const volatile void *p, void *out, size_t size);
void nf_kernel_write_once(volatile void *p, const void *in, size_t size);
void nf_kernel_load_acquire(const volatile void *p, void *out, size_t size);
void nf_kernel_store_release(volatile void *p, const void *in, size_t size);

#define __NF_LOAD(fn, x)                                   \
  ({                                                       \
    union {                                                \
      __typeof__(x) __val;                                 \
      unsigned char __c[sizeof(x)];                        \
    } __nf_u;                                              \
    fn(&(x), __nf_u.__c, sizeof(x));                       \
    __nf_u.__val;                                          \
  })
#define __NF_STORE(fn, x, v)              \
  do {                                    \
    __typeof__(x) __nf_v = (v);           \
    fn(&(x), &__nf_v, sizeof(x));         \
  } while (0)
#define READ_ONCE(x) __NF_LOAD(nf_kernel_read_once, x)
#define WRITE_ONCE(x, v) __NF_STORE(nf_kernel_write_once, x, v)
#define smp_load_acquire(p) __NF_LOAD(nf_kernel_load_acquire, *(p))
#define smp_store_release(p, v) __NF_STORE(nf_kernel_store_release, *(p), v)
#define rcu_assign_pointer(p, v) __NF_STORE(nf_kernel_store_release, p, v)
#define rcu_dereference_raw(p) READ_ONCE(p)
/* A full barrier: a yield point; in the scheduler's weak-memory mode
 * (sync/weak_memory.h) the thread's buffered WRITE_ONCEs become visible. */
void nf_kernel_smp_mb(void);
#define smp_mb() nf_kernel_smp_mb()

/* ---- atomic_t -------------------------------------------------------------- */
typedef struct { int counter; } atomic_t;
int nf_kernel_atomic_add_return(atomic_t *v, int d); /* seq_cst */
int nf_kernel_atomic_inc_not_zero(atomic_t *v);      /* seq_cst; 1 if incremented */
#define atomic_read(v) READ_ONCE((v)->counter)
#define atomic_set(v, i) WRITE_ONCE((v)->counter, (i))
#define atomic_inc(v) ((void)nf_kernel_atomic_add_return((v), 1))
#define atomic_dec_and_test(v) (nf_kernel_atomic_add_return((v), -1) == 0)
#define atomic_inc_not_zero(v) nf_kernel_atomic_inc_not_zero(v)

/* ---- errors ------------------------------------------------------------------ */
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) unlikely((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long error) { return (void *)error; }
static inline long PTR_ERR(const void *ptr) { return (long)ptr; }
static inline bool IS_ERR(const void *ptr) { return IS_ERR_VALUE((unsigned long)ptr); }

/* ---- allocation -------------------------------------------------------------
 * malloc/calloc/free; nfk_fail_allocations() makes the next ones fail. */
void *nf_kernel_kmalloc(size_t size, bool zero);
#define kmalloc(size, gfp) nf_kernel_kmalloc((size), false)
#define kzalloc(size, gfp) nf_kernel_kmalloc((size), true)
#define kfree(p) free((void *)(p))

/* ---- sleeping, non-blocking sections, lockdep maps ------------------------- */
void nf_kernel_might_sleep(const char *file, int line);
#define might_sleep() nf_kernel_might_sleep(__FILE__, __LINE__)
void non_block_start(void);
void non_block_end(void);

struct lockdep_map {
  const char *name;
};
void nf_kernel_lock_map_acquire(struct lockdep_map *m, const char *file, int line);
void nf_kernel_lock_map_release(struct lockdep_map *m);
/* Between begin and end the calling thread's lock_map_acquire is a trylock for
 * the lock-order detector: the adapter brackets a non-blocking start and an
 * end with them (neither waits for anything; sync/lock_order.h). Nests. */
void nf_kernel_lock_map_trylock_begin(void);
void nf_kernel_lock_map_trylock_end(void);
#define lock_map_acquire(m) nf_kernel_lock_map_acquire((m), __FILE__, __LINE__)
#define lock_map_release(m) nf_kernel_lock_map_release(m)

/* ---- spinlock_t: an nf::sync::Mutex (storage below) plus its holder -------- */
#define NF_KERNEL_LOCK_BYTES 64
typedef struct {
  _Alignas(16) unsigned char nf_impl[NF_KERNEL_LOCK_BYTES];
  unsigned long long nf_owner; /* the holder's token, 0 when free */
} spinlock_t;
/* The lock class (sync/lock_order.h) is the text of the argument, as lockdep
 * names a spinlock's class after its spin_lock_init: "&subscriptions->lock". */
void nf_kernel_spin_lock_init(spinlock_t *l, const char *lock_class);
#define spin_lock_init(l) nf_kernel_spin_lock_init((l), #l)
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool nf_kernel_spin_is_held(const spinlock_t *l);
void nf_kernel_lockdep_assert_held(const spinlock_t *l, const char *file, int line);
#define lockdep_assert_held(l) nf_kernel_lockdep_assert_held((l), __FILE__, __LINE__)
#define lockdep_is_held(l) nf_kernel_spin_is_held(l)

/* ---- rw_semaphore: the mmap lock, and the rmap locks mm_take_all_locks takes */
#define NF_KERNEL_RWSEM_BYTES 256
struct rw_semaphore {
  _Alignas(16) unsigned char nf_impl[NF_KERNEL_RWSEM_BYTES];
};
/* lock_class: a string literal naming the lock's class (sync/lock_order.h). */
void nf_kernel_init_rwsem(struct rw_semaphore *s, const char *lock_class);
void down_read(struct rw_semaphore *s);
int down_read_trylock(struct rw_semaphore *s); /* 1 on success */
void up_read(struct rw_semaphore *s);
void down_write(struct rw_semaphore *s);
void up_write(struct rw_semaphore *s);
/* 0 not held, 1 read, 2 write, by the calling logical thread. */
int nf_kernel_rwsem_held(const struct rw_semaphore *s);
void nf_kernel_might_lock(const struct rw_semaphore *s, const char *file, int line);
#define might_lock(s) nf_kernel_might_lock((s), __FILE__, __LINE__)

/* ---- wait queues ---------------------------------------------------------------
 * wait_event evaluates its condition with no lock held, as the kernel's does:
 * once; then, in a loop, after nf_kernel_wait_prepare has sampled the queue's
 * wake generation, and sleeps only while no wake_up_all came after that sample.
 * A wake_up_all after a change that makes the condition true always ends the
 * wait (no lost wakeup). */
#define NF_KERNEL_WAITQUEUE_BYTES 256
typedef struct {
  _Alignas(16) unsigned char nf_impl[NF_KERNEL_WAITQUEUE_BYTES];
} wait_queue_head_t;
void init_waitqueue_head(wait_queue_head_t *wq);
void wake_up_all(wait_queue_head_t *wq);
unsigned long long nf_kernel_wait_prepare(wait_queue_head_t *wq);
void nf_kernel_wait_sleep(wait_queue_head_t *wq, unsigned long long generation);
#define wait_event(wq_head, condition)                                  \
  do {                                                                  \
    nf_kernel_might_sleep(__FILE__, __LINE__);                          \
    if (condition)                                                      \
      break;                                                            \
    for (;;) {                                                          \
      unsigned long long __nf_gen = nf_kernel_wait_prepare(&(wq_head)); \
      if (condition)                                                    \
        break;                                                          \
      nf_kernel_wait_sleep(&(wq_head), __nf_gen);                       \
    }                                                                   \
  } while (0)

/* ---- SRCU: an nf::sync::ReadSide per srcu_struct, created on first use ------ */
struct rcu_head {
  struct rcu_head *next;
  void (*func)(struct rcu_head *head);
};
struct srcu_struct {
  void *nf_impl;
};
#define DEFINE_STATIC_SRCU(name) static struct srcu_struct name
int srcu_read_lock(struct srcu_struct *ssp);
void srcu_read_unlock(struct srcu_struct *ssp, int idx);
void synchronize_srcu(struct srcu_struct *ssp);
/* func(head) runs once every read-side section active now has ended: at once
 * if none is, else on the thread that ends the last of them. */
void call_srcu(struct srcu_struct *ssp, struct rcu_head *head,
               void (*func)(struct rcu_head *head));
bool srcu_read_lock_held(const struct srcu_struct *ssp);
/* Calls fn(ctx, head, func) for each call_srcu callback not yet run. */
void nf_kernel_srcu_for_each_pending(struct srcu_struct *ssp,
                                     void (*fn)(void *ctx, struct rcu_head *head,
                                                void (*func)(struct rcu_head *)),
                                     void *ctx);
void nf_kernel_rcu_check(bool ok, const char *file, int line);

#ifndef __cplusplus
/* ---- hlist (nf's own, after the kernel's documented semantics) ---------------
 * Writers hold the list's lock; the _rcu readers walk without it, so every
 * pointer a reader follows is written with WRITE_ONCE or a release store and
 * read with READ_ONCE. hlist_unhashed is a plain read, as in the kernel. */
struct hlist_node {
  struct hlist_node *next, **pprev;
};
struct hlist_head {
  struct hlist_node *first;
};
#define LIST_POISON1 ((void *)0x100)
#define LIST_POISON2 ((void *)0x122)
#define INIT_HLIST_HEAD(h) ((h)->first = NULL)
static inline void INIT_HLIST_NODE(struct hlist_node *n) {
  n->next = NULL;
  n->pprev = NULL;
}
static inline int hlist_unhashed(const struct hlist_node *n) { return n->pprev == NULL; }
static inline int hlist_empty(const struct hlist_head *h) { return READ_ONCE(h->first) == NULL; }
static inline void nf_hlist_unlink(struct hlist_node *n) {
  struct hlist_node *after = n->next;
  struct hlist_node **link = n->pprev;
  WRITE_ONCE(*link, after);
  if (after)
    WRITE_ONCE(after->pprev, link);
}
static inline void hlist_del(struct hlist_node *n) {
  nf_hlist_unlink(n);
  n->next = (struct hlist_node *)LIST_POISON1;
  n->pprev = (struct hlist_node **)LIST_POISON2;
}
/* Leaves n->next alone: a reader standing on n still reaches the rest. */
static inline void hlist_del_init_rcu(struct hlist_node *n) {
  if (hlist_unhashed(n))
    return;
  nf_hlist_unlink(n);
  WRITE_ONCE(n->pprev, NULL);
}
static inline void hlist_add_head(struct hlist_node *n, struct hlist_head *h) {
  struct hlist_node *old = h->first;
  WRITE_ONCE(n->next, old);
  if (old)
    WRITE_ONCE(old->pprev, &n->next);
  WRITE_ONCE(h->first, n);
  WRITE_ONCE(n->pprev, &h->first);
}
/* n is complete (next, pprev) before the release store publishes it. */
static inline void hlist_add_head_rcu(struct hlist_node *n, struct hlist_head *h) {
  struct hlist_node *old = h->first;
  n->next = old;
  WRITE_ONCE(n->pprev, &h->first);
  rcu_assign_pointer(h->first, n);
  if (old)
    WRITE_ONCE(old->pprev, &n->next);
}
#define hlist_entry(ptr, type, member) container_of(ptr, type, member)
#define hlist_entry_safe(ptr, type, member)                       \
  ({                                                              \
    __typeof__(ptr) __nf_p = (ptr);                               \
    __nf_p ? hlist_entry(__nf_p, type, member) : NULL;            \
  })
#define hlist_for_each_entry_safe(pos, tmp, head, member)                         \
  for (pos = hlist_entry_safe((head)->first, __typeof__(*(pos)), member);         \
       pos && ((tmp) = pos->member.next, 1);                                      \
       pos = hlist_entry_safe(tmp, __typeof__(*(pos)), member))
/* The kernel's lockdep-checked form: cond says why the walk is safe. */
#define hlist_for_each_entry_rcu(pos, head, member, cond)                         \
  for (nf_kernel_rcu_check((cond), __FILE__, __LINE__),                           \
       pos = hlist_entry_safe(rcu_dereference_raw((head)->first),                 \
                              __typeof__(*(pos)), member);                        \
       pos;                                                                       \
       pos = hlist_entry_safe(rcu_dereference_raw((pos)->member.next),            \
                              __typeof__(*(pos)), member))

#endif /* !__cplusplus */

/* ---- mm_struct -------------------------------------------------------------------- */
struct mmu_notifier_subscriptions;
struct vm_area_struct {
  unsigned long vm_flags;
};
#define VM_READ 0x00000001UL

struct mm_struct {
  struct mmu_notifier_subscriptions *notifier_subscriptions;
  atomic_t mm_users; /* live users; the last mmput runs exit_mmap's release */
  atomic_t mm_count; /* references to the struct; mm_users hold one together */
  struct rw_semaphore mmap_lock;
  /* Stands for every i_mmap_rwsem and anon_vma lock of the mm's vmas: what the
   * kernel's invalidations run under (the adapter holds it for reading from
   * invalidate start to end) and what mm_take_all_locks takes for writing. */
  struct rw_semaphore nf_rmap_locks;
};

#define mmap_write_lock(mm) down_write(&(mm)->mmap_lock)
#define mmap_write_unlock(mm) up_write(&(mm)->mmap_lock)
#define mmap_read_lock(mm) down_read(&(mm)->mmap_lock)
#define mmap_read_trylock(mm) down_read_trylock(&(mm)->mmap_lock)
#define mmap_read_unlock(mm) up_read(&(mm)->mmap_lock)
#define mmap_assert_write_locked(mm)                                       \
  do {                                                                     \
    if (nf_kernel_rwsem_held(&(mm)->mmap_lock) != 2)                       \
      nf_kernel_report(NF_KERNEL_LOCKDEP, __FILE__, __LINE__,              \
                       "mmap_assert_write_locked: mmap_lock not held for writing"); \
  } while (0)

#ifndef __cplusplus
/* mm/mmap.c's pair: excludes every invalidation (they hold nf_rmap_locks for
 * reading). Needs the mmap lock for writing, as the kernel's. Never fails
 * (the kernel's returns -EINTR on a pending signal). */
static inline int mm_take_all_locks(struct mm_struct *mm) {
  mmap_assert_write_locked(mm);
  down_write(&mm->nf_rmap_locks);
  return 0;
}
static inline void mm_drop_all_locks(struct mm_struct *mm) {
  mmap_assert_write_locked(mm);
  up_write(&mm->nf_rmap_locks);
}

/* kernel/fork.c's: defined by the adapter (frees the subscriptions and the mm). */
void nf_kernel_mm_free(struct mm_struct *mm);
static inline void mmgrab(struct mm_struct *mm) { atomic_inc(&mm->mm_count); }
static inline void mmdrop(struct mm_struct *mm) {
  if (atomic_dec_and_test(&mm->mm_count))
    nf_kernel_mm_free(mm);
}

#endif /* !__cplusplus */

#endif /* NF_KERNEL_SHIM_H */
