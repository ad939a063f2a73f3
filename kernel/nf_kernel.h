/* kernel/nf_kernel.h: a flat C API over the real mm/mmu_notifier.c.
 *
 * The kernel target compiles the kernel's own file (extracted at build time
 * from Debian's linux-source package, see kernel/README.md) against nf's
 * userspace shim, and this API drives it. It is C, usable from C++, and names
 * no kernel type: every object is an opaque handle the adapter allocates.
 *
 * Libraries (one per flavour of nf's sync seam, and per mutant):
 *   nf_kernel                 real threads; the kernel's locks are std ones
 *   nf_kernel_sched           the deterministic scheduler: every lock, wait,
 *                             marked access (READ_ONCE, ...) is a yield point
 *   nf_kernel_mut_<name>, nf_kernel_sched_mut_<name>
 *                             the same, on a mutant of mm/mmu_notifier.c
 *
 * Threads: every function may be called from any logical thread. As in the
 * kernel, a caller may hold no spinlock; functions marked "sleeps" may block
 * and must not be called from a callback (reported as NFK_REPORT_LOCKDEP or
 * NFK_REPORT_MIGHT_SLEEP where the kernel's lockdep would say so).
 *
 * Callbacks (interval invalidate, classic release / start / end / free) run
 * on the calling thread of the kernel operation that invokes them, with no
 * kernel lock held; inside the SRCU read side for the classic ones.
 *
 * Values: seqs, addresses and lengths are unsigned long (64 bits); ranges are
 * [start, end), interval subscriptions [start, last] (closed), as the kernel.
 * Errors are the kernel's negative errno values (-EAGAIN, -EOVERFLOW, ...).
 */
#ifndef NF_KERNEL_NF_KERNEL_H_
#define NF_KERNEL_NF_KERNEL_H_

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel's version, "6.1.192": VERSION.PATCHLEVEL.SUBLEVEL of the
 * extracted Makefile. And the mutant compiled in ("" for the correct file). */
const char *nfk_kernel_version(void);
const char *nfk_mutant(void);

/* ---- reports ------------------------------------------------------------------
 * Every check of the shim files a report (see kernel/shim/nf_kernel_shim.h).
 * Reports are process-wide (the kernel's WARN_ON knows no mm), kept in order
 * in a log until nfk_reports_clear(), and passed to the handler if one is set.
 * After the handler, NFK_REPORT_BUG prints the report and aborts (a BUG_ON,
 * or a lock recursion that would never return). file is the kernel-relative
 * path ("mm/mmu_notifier.c") for the kernel files, line the kernel's line. */
enum nfk_report_kind {
  NFK_REPORT_WARN = 0,        /* WARN_ON / WARN_ON_ONCE fired */
  NFK_REPORT_BUG = 1,         /* BUG_ON fired, or an unrecoverable misuse */
  NFK_REPORT_MIGHT_SLEEP = 2, /* might_sleep with a spinlock held or in a
                                 non-blocking section */
  NFK_REPORT_LOCKDEP = 3,     /* lockdep_assert_held false, recursive lockdep
                                 map, might_lock on a lock held, ... */
  NFK_REPORT_RCU = 4,         /* an RCU list walk whose lockdep condition is
                                 false */
};
typedef struct nfk_report {
  int kind;         /* enum nfk_report_kind */
  const char *file; /* static storage */
  int line;
  const char *what; /* the condition's text or a message; static storage */
} nfk_report;
typedef void (*nfk_report_fn)(void *cookie, const nfk_report *report);
/* NULL removes the handler. Not thread-safe against running reports. */
void nfk_set_report_handler(nfk_report_fn fn, void *cookie);
/* Copies up to cap reports (oldest first) into out; returns how many exist. */
size_t nfk_reports(nfk_report *out, size_t cap);
void nfk_reports_clear(void);
const char *nfk_report_kind_name(int kind);

/* The shim's might_sleep, for callbacks that are about to block: reports if
 * the calling thread holds a spinlock or is in a non-blocking section (a
 * classic callback of a non-blockable range runs in one). */
void nfk_might_sleep(const char *file, int line);

/* The next n kernel allocations (kmalloc / kzalloc) fail. */
void nfk_fail_next_allocations(unsigned n);

/* Deterministic flavour, after a scheduler run that abandoned threads
 * (deadlock, step bound): gives the global SRCU a fresh read side, since the
 * old one may count readers that will never leave (their callbacks never
 * run; the old one is kept, reachable). The shim's per-thread state needs no
 * reset: it lives in the seam's ThreadLocal, zeroed when a fiber starts. The
 * mm structures the abandoned run touched must not be used again (their
 * locks may be held by the abandoned threads). */
void nfk_forget_threads(void);

/* ---- address spaces ---------------------------------------------------------- */
typedef struct nfk_mm nfk_mm;

/* A new address space with one user (mm_users = 1) and the caller's own
 * reference (mm_count = 2: the users' and the caller's), so that the handle
 * stays valid after the last user is gone. initial_seq: 0 for the kernel's
 * lazily created subscriptions (invalidate_seq starts at 2 on the first
 * registration); FUZZING_ONLY: any other (even) value creates the
 * subscriptions object at once, with that invalidate_seq and has_itree false
 * (the kernel would do the same allocation at the first registration). */
nfk_mm *nfk_mm_create(unsigned long initial_seq);
/* mmget: one more user. */
void nfk_mm_get_user(nfk_mm *mm);
/* mmget_not_zero: one more user unless the last one has gone. */
bool nfk_mm_try_get_user(nfk_mm *mm);
/* mmput: one user fewer. The last one runs what exit_mmap runs of this file:
 * mmu_notifier_release (the RELEASE walk and the classic release callbacks),
 * then drops the users' mm_count reference. Sleeps. Returns the users left. */
int nfk_mm_put_user(nfk_mm *mm);
/* mmgrab / mmdrop: a reference to the mm without a user, as truncate or
 * reclaim hold one (the kernel still invokes notifiers through it after the
 * last user has gone: the comment above mn_hlist_release). The caller's own
 * reference (nfk_mm_create) keeps the mm alive; these pair around an
 * invalidation that holds no user. */
void nfk_mm_grab(nfk_mm *mm);
void nfk_mm_drop(nfk_mm *mm);
/* Drops the caller's reference (after putting any users still left). When
 * mm_count reaches 0 the mm and its subscriptions are freed (the kernel's
 * mmdrop; BUG_ON if classic subscribers are still linked). Returns mm_count
 * after the drop: nonzero means something still holds the mm (an interval
 * subscription not removed, a classic one not unregistered or put, a put
 * still waiting for its grace period), and the handle must not be used. */
int nfk_mm_destroy(nfk_mm *mm);

/* ---- ranges -------------------------------------------------------------------- */
enum nfk_event { /* the kernel's enum mmu_notifier_event, same values */
  NFK_EVENT_UNMAP = 0,
  NFK_EVENT_CLEAR = 1,
  NFK_EVENT_PROTECTION_VMA = 2,
  NFK_EVENT_PROTECTION_PAGE = 3,
  NFK_EVENT_SOFT_DIRTY = 4,
  NFK_EVENT_RELEASE = 5,
  NFK_EVENT_MIGRATE = 6,
  NFK_EVENT_EXCLUSIVE = 7,
};
typedef struct nfk_range {
  unsigned long start, end; /* [start, end) */
  bool blockable;           /* MMU_NOTIFIER_RANGE_BLOCKABLE */
  int event;                /* enum nfk_event */
  void *owner;              /* range->owner (MIGRATE filtering) */
} nfk_range;

/* ---- interval subscriptions (struct mmu_interval_notifier) ------------------- */
typedef struct nfk_interval nfk_interval;
/* ops->invalidate. Return false only if !range->blockable and the callback
 * would have to sleep. A driver calls nfk_interval_set_seq(sub, cur_seq)
 * under its own lock before tearing down its mappings. */
typedef bool (*nfk_invalidate_fn)(void *cookie, nfk_interval *sub,
                                  const nfk_range *range, unsigned long cur_seq);

/* A subscription object, not yet inserted. Free it only when it is not
 * inserted (never inserted, insert failed, or removed). */
nfk_interval *nfk_interval_alloc(nfk_invalidate_fn fn, void *cookie);
void nfk_interval_free(nfk_interval *sub);
void *nfk_interval_cookie(const nfk_interval *sub);
/* mmu_interval_notifier_insert(sub, mm, start, length, ops). Sleeps (the
 * first insert into an mm registers, taking the mmap lock and every rmap
 * lock, so it waits for running invalidations). 0, -EOVERFLOW (length 0 or
 * start + length - 1 overflows), -EINVAL (no users; WARN), -ENOMEM. */
int nfk_interval_insert(nfk_mm *mm, nfk_interval *sub, unsigned long start,
                        unsigned long length);
/* mmu_interval_notifier_insert_locked, with the mmap lock taken for writing
 * around it (as the kernel asserts: mmap_assert_write_locked). The same
 * results as nfk_interval_insert. Sleeps. */
int nfk_interval_insert_locked(nfk_mm *mm, nfk_interval *sub, unsigned long start,
                               unsigned long length);
/* mmu_interval_notifier_remove. Sleeps (waits for the invalidation epoch the
 * subscription is in). Afterwards no callback for sub runs. */
void nfk_interval_remove(nfk_interval *sub);
/* mmu_interval_read_begin. Sleeps while sub is being invalidated. */
unsigned long nfk_interval_read_begin(nfk_interval *sub);
/* mmu_interval_read_retry: call under the driver's lock (the one the
 * callback holds when it calls set_seq). Plain read. */
bool nfk_interval_read_retry(nfk_interval *sub, unsigned long seq);
/* mmu_interval_check_retry: lockless; true is definitive, false a hint. */
bool nfk_interval_check_retry(nfk_interval *sub, unsigned long seq);
/* mmu_interval_set_seq: from the invalidate callback, under the driver's lock. */
void nfk_interval_set_seq(nfk_interval *sub, unsigned long cur_seq);
/* For oracles: the subscription's invalidate_seq (READ_ONCE, no lock). */
unsigned long nfk_interval_seq(const nfk_interval *sub);

/* ---- invalidation ---------------------------------------------------------------
 * start holds the mm's rmap locks for reading until end (the locks
 * mm_take_all_locks takes, so registration waits for it), unless the calling
 * thread already holds them (a nested invalidation). */
typedef struct nfk_invalidation nfk_invalidation;
/* Blockable: mmu_notifier_invalidate_range_start; sleeps; always 0 (the
 * kernel's blockable start ignores failures, which WARN). Non-blockable:
 * tries the rmap locks (-EAGAIN if a registration holds them, as the OOM
 * reaper's trylock), then mmu_notifier_invalidate_range_start_nonblock;
 * -EAGAIN if a callback failed. On 0, *out is the handle to pass to
 * nfk_invalidate_end exactly once; on failure nothing is to be ended. */
int nfk_invalidate_start(nfk_mm *mm, const nfk_range *range, nfk_invalidation **out);
/* Finding A (FINDINGS.md): whether this build's mm/mmu_notifier.c has it (6.1
 * as shipped and its mutants; not 6.12, not the fixed variant). With
 * nfk_set_close_leaked_walk(mm, true), a failed non-blockable start that left
 * its interval walk open (finding A) is checked to have done exactly that (a
 * WARN if the walk was not left open) and the walk is ended, as the fix would;
 * nfk_leaked_walks_closed counts them. Off by default: the walk stays open. */
bool nfk_has_finding_a(void);
void nfk_set_close_leaked_walk(nfk_mm *mm, bool close);
unsigned long nfk_leaked_walks_closed(nfk_mm *mm);
/* mmu_notifier_invalidate_range_end; frees the handle. */
void nfk_invalidate_end(nfk_invalidation *inv);

/* ---- classic subscribers (struct mmu_notifier) --------------------------------- */
typedef struct nfk_classic nfk_classic;
typedef struct nfk_classic_callbacks {
  /* NULL: the kernel's ops has no such method (it matters: the kernel checks
   * each for NULL). */
  void (*release)(void *cookie, nfk_classic *sub);
  int (*invalidate_range_start)(void *cookie, nfk_classic *sub, const nfk_range *range);
  void (*invalidate_range_end)(void *cookie, nfk_classic *sub, const nfk_range *range);
  /* get/put subscribers: called by the kernel's free_notifier, after the
   * grace period that follows the last put; the adapter then frees sub. */
  void (*free_notifier)(void *cookie, nfk_classic *sub);
  /* get: called by the kernel's alloc_notifier on the new subscriber, before
   * the kernel links it (so a caller can attach its state: set_user). */
  void (*alloc)(void *cookie, nfk_classic *sub);
  /* The secondary-MMU methods (NULL: the ops has none). young: nonzero if the
   * subscriber's mapping of [start, end) (test_young: of address) was young;
   * clear_* also clear it. change_pte: 6.1 only (6.12 has no such method;
   * the adapter then never calls it). secondary_tlb: the kernel's
   * invalidate_range (6.1; also called from every invalidate end but the
   * range-only end) or arch_invalidate_secondary_tlbs (6.6 and later; called
   * only by nfk_invalidate_secondary_tlbs). */
  int (*clear_flush_young)(void *cookie, nfk_classic *sub, unsigned long start, unsigned long end);
  int (*clear_young)(void *cookie, nfk_classic *sub, unsigned long start, unsigned long end);
  int (*test_young)(void *cookie, nfk_classic *sub, unsigned long address);
  void (*change_pte)(void *cookie, nfk_classic *sub, unsigned long address);
  void (*secondary_tlb)(void *cookie, nfk_classic *sub, unsigned long start, unsigned long end);
} nfk_classic_callbacks;
/* A kernel mmu_notifier_ops: its identity is what get matches. cookie is
 * passed to every callback. Destroy it only when no subscriber uses it. */
typedef struct nfk_ops nfk_ops;
nfk_ops *nfk_ops_create(const nfk_classic_callbacks *callbacks, void *cookie);
void nfk_ops_destroy(nfk_ops *ops);

/* For register/unregister: a subscriber the caller owns. */
nfk_classic *nfk_classic_alloc(nfk_ops *ops);
void nfk_classic_free(nfk_classic *sub);
/* mmu_notifier_register. Sleeps (mmap lock, all rmap locks). 0 or -ENOMEM. */
int nfk_classic_register(nfk_mm *mm, nfk_classic *sub);
/* mmu_notifier_unregister. Sleeps (synchronize_srcu). */
void nfk_classic_unregister(nfk_mm *mm, nfk_classic *sub);
/* mmu_notifier_get: the mm's subscriber with these ops, with one more user,
 * or a new one (allocated by the adapter as the kernel's alloc_notifier).
 * Sleeps. NULL with *err set on failure (err may be NULL). */
nfk_classic *nfk_classic_get(nfk_mm *mm, nfk_ops *ops, int *err);
/* ---- the secondary-MMU API (what the core mm calls for KVM, IOMMU SVA, ...) ----
 * Each walks the classic list under SRCU and calls the method of every
 * subscriber that has it. Like the kernel's callers, hold a user or a
 * reference (nfk_mm_grab) of mm. Return the kernel's value. */
/* mmu_notifier_clear_flush_young / _clear_young: the OR of every young
 * method's result. */
int nfk_clear_flush_young(nfk_mm *mm, unsigned long start, unsigned long end);
int nfk_clear_young(nfk_mm *mm, unsigned long start, unsigned long end);
/* mmu_notifier_test_young: the first nonzero test_young in list order (the
 * walk stops there), else 0. */
int nfk_test_young(nfk_mm *mm, unsigned long address);
/* Whether this build's file has change_pte (6.1; gone in 6.6: 6.12 has none). */
bool nfk_has_change_pte(void);
/* mmu_notifier_change_pte with a pte that maps no page; on a file without
 * change_pte (6.12) calls nothing, as the 6.12 core mm has no such call. */
void nfk_change_pte(nfk_mm *mm, unsigned long address);
/* 6.1: mmu_notifier_invalidate_range; 6.6 and later:
 * mmu_notifier_arch_invalidate_secondary_tlbs. Calls secondary_tlb. */
void nfk_invalidate_secondary_tlbs(nfk_mm *mm, unsigned long start, unsigned long end);
/* Whether this file's invalidate end calls the secondary-TLB method (6.1:
 * mmu_notifier_invalidate_range_end does, _only_end does not; 6.12: neither). */
bool nfk_end_calls_secondary_tlb(void);
/* 6.1: mmu_notifier_invalidate_range_only_end; 6.12 has no such function and
 * no secondary-TLB call in any end: there it is mmu_notifier_invalidate_range_end.
 * Frees the handle. */
void nfk_invalidate_only_end(nfk_invalidation *inv);
/* mmu_notifier_range_update_to_read_only on a range of [start, end) with this
 * event whose vma is readable (VM_READ). 6.1: true iff event is
 * NFK_EVENT_PROTECTION_VMA. 6.12 declares it in mmu_notifier.h but defines it
 * nowhere (its last caller went in 6.6): the adapter answers false there, and
 * nfk_has_range_update_to_read_only says so. */
bool nfk_has_range_update_to_read_only(void);
bool nfk_range_update_to_read_only(nfk_mm *mm, unsigned long start, unsigned long end, int event);

/* mmu_notifier_put: the last put unlinks it and queues its free (call_srcu). */
void nfk_classic_put(nfk_classic *sub);
/* mmu_notifier_synchronize: waits for every SRCU reader; queued frees whose
 * grace period has passed have run when it returns. Sleeps. */
void nfk_synchronize(void);
nfk_ops *nfk_classic_ops(const nfk_classic *sub);
/* A pointer of the caller's, kept with the subscriber (NULL at first). */
void nfk_classic_set_user(nfk_classic *sub, void *user);
void *nfk_classic_user(const nfk_classic *sub);

/* ---- snapshot ---------------------------------------------------------------------
 * A consistent view of an mm's notifier state, taken under its subscriptions
 * lock (plus the SRCU's own lock for the pending frees), so it may be taken
 * from any thread, callbacks included (they run with no kernel lock held).
 * Callers pass arrays and their capacities; the num_ fields give the full
 * counts. The mm must not have been freed (nfk_mm_destroy). */
typedef struct nfk_tree_entry {
  nfk_interval *sub;
  unsigned long start, last; /* closed */
  unsigned long seq;         /* the subscription's invalidate_seq */
} nfk_tree_entry;
typedef struct nfk_deferred_entry {
  nfk_interval *sub;
  bool insert; /* true: a deferred insert (not in the tree yet); false: a
                  deferred remove */
} nfk_deferred_entry;
typedef struct nfk_classic_entry {
  nfk_classic *sub;
  nfk_ops *ops;
  unsigned int users; /* get/put count (1 for a registered one) */
} nfk_classic_entry;
typedef struct nfk_snapshot {
  /* out */
  bool has_subscriptions; /* mm->notifier_subscriptions != NULL */
  bool has_itree;
  unsigned long invalidate_seq;
  unsigned long active_invalidate_ranges;
  int mm_users, mm_count;
  size_t num_tree;          /* interval tree, in the tree's order */
  size_t num_deferred;      /* deferred list, head first */
  size_t num_classic;       /* classic hlist, head first */
  size_t num_pending_frees; /* this mm's call_srcu frees not yet run */
  /* in: buffers (NULL with capacity 0 to count only) */
  nfk_tree_entry *tree;
  size_t tree_cap;
  nfk_deferred_entry *deferred;
  size_t deferred_cap;
  nfk_classic_entry *classic;
  size_t classic_cap;
} nfk_snapshot;
void nfk_snapshot_take(nfk_mm *mm, nfk_snapshot *snap);
/* Every call_srcu callback not yet run, of every mm (the SRCU is global). */
size_t nfk_pending_srcu_callbacks(void);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* NF_KERNEL_NF_KERNEL_H_ */
