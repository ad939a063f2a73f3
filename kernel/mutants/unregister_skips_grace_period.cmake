# unregister_skips_grace_period (issue 19 item 4; no upstream commit: a bug of
# the kind the overlap of an invalidation without a user, the last user's exit
# and an unregister can expose). mmu_notifier_unregister unlinks the
# subscriber and then waits for the SRCU readers that may still be calling it
# (line 854 on 6.1, 840 on 6.12: "Wait for any running method to finish")
# before it drops its reference to the mm and returns, after which the caller
# frees the subscriber. The edit drops the wait: an invalidation (or the
# release walk of the last user's exit) that found the subscriber on the list
# before it was unlinked calls it after unregister has returned.
nf_edit("\tsynchronize_srcu(&srcu);\n\n\tBUG_ON(atomic_read(&mm->mm_count) <= 0);\n\n\tmmdrop(mm);"
        "\t/* synchronize_srcu(&srcu); */\n\n\tBUG_ON(atomic_read(&mm->mm_count) <= 0);\n\n\tmmdrop(mm);")
