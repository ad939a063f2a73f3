# cmake -DIN=<file> -DOUT=<file> -DEDITS=<mutant.cmake> -P NfKernelMutate.cmake
#
# Writes OUT: IN with the textual edits of one mutant applied. The mutant file
# calls nf_edit(MATCH REPLACE) once per edit; MATCH must occur in IN exactly
# once (a kernel that changed there fails the build loudly instead of building
# a mutant that is no longer the bug). Edits keep the line count, so every
# __LINE__ (WARN_ON reports) stays the one of the unmodified file.
file(READ "${IN}" text)
set(nf_edits 0)
# nf_edit_locate(MATCH): sets `first` to MATCH's offset in the text; the build
# fails if MATCH is not there, or there more than once.
function(nf_edit_locate match)
  string(FIND "${text}" "${match}" first)
  string(FIND "${text}" "${match}" last REVERSE)
  if(first EQUAL -1)
    message(FATAL_ERROR "${EDITS}: the text to edit is not in ${IN}:\n${match}")
  endif()
  if(NOT first EQUAL last)
    message(FATAL_ERROR "${EDITS}: the text to edit occurs more than once in ${IN}:\n${match}")
  endif()
  set(first ${first} PARENT_SCOPE)
endfunction()
function(nf_edit match replace)
  string(LENGTH "${match}" n)
  nf_edit_locate("${match}")
  string(REGEX MATCHALL "\n" a "${match}")
  string(REGEX MATCHALL "\n" b "${replace}")
  list(LENGTH a la)
  list(LENGTH b lb)
  if(NOT la EQUAL lb)
    message(FATAL_ERROR "${EDITS}: an edit must keep the line count")
  endif()
  string(REPLACE "${match}" "${replace}" out "${text}")
  set(text "${out}" PARENT_SCOPE)
  math(EXPR e "${nf_edits} + 1")
  set(nf_edits ${e} PARENT_SCOPE)
endfunction()
# nf_edit_renumbered(MATCH REPLACE): the same, for an edit that may change the
# line count (a fix written as a maintainer would, kernel/fixes/). MATCH must
# end a line; a `#line` directive after REPLACE gives the lines that follow
# their original numbers again, so every later __LINE__ is unchanged.
function(nf_edit_renumbered match replace)
  nf_edit_locate("${match}")
  string(LENGTH "${match}" n)
  math(EXPR end "${first} + ${n}")
  string(SUBSTRING "${text}" ${end} 1 next)
  if(NOT next STREQUAL "\n")
    message(FATAL_ERROR "${EDITS}: a renumbered edit must end a line:\n${match}")
  endif()
  string(SUBSTRING "${text}" 0 ${end} head)
  string(REGEX MATCHALL "\n" nl "${head}")
  list(LENGTH nl lines)
  math(EXPR following "${lines} + 2")  # the original number of the next line
  string(SUBSTRING "${text}" ${end} -1 tail)
  string(SUBSTRING "${text}" 0 ${first} before)
  set(text "${before}${replace}\n#line ${following}${tail}" PARENT_SCOPE)
  math(EXPR e "${nf_edits} + 1")
  set(nf_edits ${e} PARENT_SCOPE)
endfunction()
include("${EDITS}")
if(nf_edits EQUAL 0)
  message(FATAL_ERROR "${EDITS}: no edit")
endif()
file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
