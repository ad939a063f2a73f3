/* Placeholder for mm/vma.h, which mm/mmu_notifier.c includes as "vma.h" from
 * 6.12 on (it uses nothing of it here): kernel/shim/nf_kernel_shim.h
 * (force-included) provides what the kernel files of the nf kernel target use. */
