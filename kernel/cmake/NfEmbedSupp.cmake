# cmake -DIN=races.supp -DOUT=races_supp.cc -P NfEmbedSupp.cmake: a C++ file
# whose nf_kernel_races_supp() returns the text of IN (kernel/races.supp), which
# the shim's deterministic flavour registers with the race detector
# (kernel/shim/primitives.cc, sync/race_detector.h AddRaceSuppressions).
file(READ ${IN} text)
set(out "// Generated from kernel/races.supp by kernel/cmake/NfEmbedSupp.cmake.\n")
string(APPEND out "extern \"C\" const char* nf_kernel_races_supp(void) {\n")
string(APPEND out "  return R\"nfsupp(${text})nfsupp\";\n}\n")
file(WRITE ${OUT}.tmp "${out}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
