# nf_kernel_extract(TARBALL OUT_ROOT OUT_VERSION): extracts the few kernel files
# the kernel target compiles from Debian's linux-source tarball into
# ${CMAKE_BINARY_DIR}/kernel-src/<top>/ at configure time, once per tarball
# (a stamp records the tarball's path, size and time). Sets OUT_ROOT to the
# extracted tree's top directory and OUT_VERSION to the kernel's
# VERSION.PATCHLEVEL.SUBLEVEL from its Makefile. The repository holds none of
# these files.
set(NF_KERNEL_FILES
  Makefile
  mm/mmu_notifier.c
  lib/interval_tree.c
  lib/rbtree.c
  include/linux/mmu_notifier.h
  include/linux/interval_tree.h
  include/linux/interval_tree_generic.h
  include/linux/rbtree.h
  include/linux/rbtree_augmented.h
  include/linux/rbtree_types.h)

function(nf_kernel_extract tarball out_root out_version)
  get_filename_component(name "${tarball}" NAME)
  string(REGEX REPLACE "\\.tar\\.[a-z0-9]+$" "" top "${name}")  # linux-source-6.1
  set(dest ${CMAKE_BINARY_DIR}/kernel-src)
  file(SIZE "${tarball}" size)
  file(TIMESTAMP "${tarball}" mtime "%Y-%m-%dT%H:%M:%S" UTC)
  string(REPLACE ";" " " files "${NF_KERNEL_FILES}")
  set(stamp_text "${tarball} ${size} ${mtime} ${files}")
  set(stamp ${dest}/.extracted-${top})
  set(have "")
  if(EXISTS ${stamp})
    file(READ ${stamp} have)
  endif()
  if(NOT have STREQUAL stamp_text)
    message(STATUS "nf kernel target: extracting ${NF_KERNEL_FILES} from ${tarball}")
    file(REMOVE_RECURSE ${dest}/${top})
    set(patterns "")
    foreach(f IN LISTS NF_KERNEL_FILES)
      list(APPEND patterns "${top}/${f}")
    endforeach()
    file(ARCHIVE_EXTRACT INPUT "${tarball}" DESTINATION ${dest} PATTERNS ${patterns})
    foreach(f IN LISTS NF_KERNEL_FILES)
      if(NOT EXISTS ${dest}/${top}/${f})
        message(FATAL_ERROR "nf kernel target: ${tarball} has no ${top}/${f}")
      endif()
    endforeach()
    file(WRITE ${stamp} "${stamp_text}")
  endif()
  file(STRINGS ${dest}/${top}/Makefile mk REGEX "^(VERSION|PATCHLEVEL|SUBLEVEL) = ")
  set(v "")
  foreach(line IN LISTS mk)
    string(REGEX REPLACE "^[A-Z]+ = " "" n "${line}")
    list(APPEND v ${n})
  endforeach()
  string(REPLACE ";" "." v "${v}")
  file(WRITE ${dest}/${top}.VERSION "${v}\n")
  if(top STREQUAL "linux-source-6.1")
    file(WRITE ${dest}/VERSION "${v}\n")  # the default version's, as before
  endif()
  set(${out_root} ${dest}/${top} PARENT_SCOPE)
  set(${out_version} ${v} PARENT_SCOPE)
endfunction()
