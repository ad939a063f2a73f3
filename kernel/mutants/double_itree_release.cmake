# double_itree_release (docs/bugs.md; the review of v2, 2019-10-29).
# v2 of the series had mn_hlist_release start with its own interval-tree
# release walk, while __mmu_notifier_release also ran one first. Re-inserted on
# the line of mn_hlist_release's `int id;` declaration (line 303): an address
# space with interval and classic subscribers gets two RELEASE walks.
nf_edit("\tint id;\n\n\t/*\n\t * SRCU here will block mmu_notifier_unregister until"
        "\tint id; if (subscriptions->has_itree) mn_itree_release(subscriptions, mm);\n\n\t/*\n\t * SRCU here will block mmu_notifier_unregister until")
