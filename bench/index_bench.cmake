# `safeguard-bench index` (index_bench.cc): the index benchmark, with FAISS
# beside it when Debian's libfaiss-dev is installed. FAISS is for the
# comparison only; the index library never links it. Debian ships FAISS as a
# static library whose CMake config does not declare its BLAS/LAPACK and
# OpenMP needs portably, so it is found by hand here.
target_sources(safeguard-bench PRIVATE index_bench.cc)
target_link_libraries(safeguard-bench PRIVATE safeguard_index)

find_path(FAISS_INCLUDE_DIR faiss/IndexBinaryHash.h)
find_library(FAISS_LIBRARY faiss)
find_package(OpenMP COMPONENTS CXX QUIET)
find_package(BLAS QUIET)
find_package(LAPACK QUIET)
if(FAISS_INCLUDE_DIR AND FAISS_LIBRARY AND OpenMP_CXX_FOUND AND BLAS_FOUND AND LAPACK_FOUND)
  message(STATUS "safeguard-bench index: comparing with FAISS (${FAISS_LIBRARY})")
  target_compile_definitions(safeguard-bench PRIVATE SAFEGUARD_HAVE_FAISS=1)
  # SYSTEM: FAISS's headers are not written for this project's warnings.
  target_include_directories(safeguard-bench SYSTEM PRIVATE ${FAISS_INCLUDE_DIR})
  target_link_libraries(safeguard-bench PRIVATE ${FAISS_LIBRARY} ${LAPACK_LIBRARIES}
                        ${BLAS_LIBRARIES} OpenMP::OpenMP_CXX)
else()
  message(STATUS "safeguard-bench index: FAISS not found (apt-get install libfaiss-dev); "
                 "building without the FAISS comparison")
endif()
