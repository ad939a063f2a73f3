# eagain_leaks_epoch (the hmm error-flow fix of 2019, v5.3).
# mn_itree_invalidate's -EAGAIN exit closes the walk's epoch with
# mn_itree_inv_end (line 471), because a non-blocking caller that got -EAGAIN
# never calls invalidate_range_end. The edit drops that call: the active count
# and the odd seq stay, so read_begin and remove wait forever.
nf_edit("\tmn_itree_inv_end(subscriptions);\n\treturn -EAGAIN;"
        "\t/* mutant eagain_leaks_epoch: the epoch is left open */\n\treturn -EAGAIN;")
