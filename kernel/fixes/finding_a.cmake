# Finding A (FINDINGS.md): the fix, as nf proposes it for Linux 6.1.
# __mmu_notifier_invalidate_range_start runs the interval-tree walk first; when
# it succeeded (active_invalidate_ranges++, the seq odd if a subscription
# overlapped) and a classic subscriber's start then fails a non-blockable
# range, the function returned the error with the walk still open. A
# non-blocking caller never calls invalidate_range_end after an error (the
# comment in mn_itree_invalidate), so nothing gave the walk back. The fix ends
# the walk there, as mn_itree_invalidate does for its own failure; only for a
# non-blockable range, because the blockable wrapper ignores the error and its
# caller does call end (which ends the walk).
# Built as the `fixed` variant of the kernel library (kernel/CMakeLists.txt,
# NF_KERNEL_BUILD_FIXED). The edit changes the line count: nf_edit_renumbered
# (kernel/cmake/NfKernelMutate.cmake) keeps every later line's number.
nf_edit_renumbered(
"\tint ret;

\tif (subscriptions->has_itree) {
\t\tret = mn_itree_invalidate(subscriptions, range);
\t\tif (ret)
\t\t\treturn ret;
\t}
\tif (!hlist_empty(&subscriptions->list))
\t\treturn mn_hlist_invalidate_range_start(subscriptions, range);
\treturn 0;
}"
"\tbool itree_started = false;
\tint ret;

\tif (subscriptions->has_itree) {
\t\tret = mn_itree_invalidate(subscriptions, range);
\t\tif (ret)
\t\t\treturn ret;
\t\titree_started = true;
\t}
\tif (hlist_empty(&subscriptions->list))
\t\treturn 0;

\tret = mn_hlist_invalidate_range_start(subscriptions, range);
\t/*
\t * A non-blocking caller that gets an error does not call
\t * invalidate_range_end(), so close the interval tree's side of this
\t * invalidation here, as mn_itree_invalidate() does on its own failure.
\t */
\tif (ret && itree_started && !mmu_notifier_range_blockable(range))
\t\tmn_itree_inv_end(subscriptions);
\treturn ret;
}")
