# unpaired_classic_end (fixed upstream by c2655835fd8c, v5.12).
# Before the fix mn_hlist_invalidate_range_start returned the first -EAGAIN
# without calling invalidate_range_end on the subscribers whose start had
# succeeded; the fix added the `if (ret)` block that ends them (line 516).
# The edit makes that block dead: the old behaviour.
nf_edit("\tif (ret) {\n\t\t/*\n\t\t * Must be non-blocking to get here."
        "\tif (ret && 0) {\n\t\t/*\n\t\t * Must be non-blocking to get here.")
