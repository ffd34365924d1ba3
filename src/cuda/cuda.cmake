# The GPU trainer stage, tl_cuda: bf16 CUDA kernels (src/cuda/*.cu, nvcc) and C11 host code
# (src/cuda/*.c) over cuBLASLt and, when found, NCCL. Included by the root CMakeLists.txt between
# the model and train stages. TL_CUDA defaults to ON when nvcc is found (not with sanitizers or
# fuzzing: their instrumented runtimes do not mix with the CUDA runtime). Builds machine code for
# Hopper (sm_90) and Ampere (sm_80), each with PTX, so newer GPUs can compile it at load time;
# override with -DCMAKE_CUDA_ARCHITECTURES=...
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER AND NOT TL_SANITIZE AND NOT TL_FUZZ)
  set(tl_cuda_default ON)
else()
  set(tl_cuda_default OFF)
endif()
option(TL_CUDA "build the CUDA trainer (src/cuda; needs nvcc, cuBLASLt)" ${tl_cuda_default})

if(TL_CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "TL_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER or -DTL_CUDA=OFF")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90 80)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  find_library(TL_NCCL_LIB nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib)
  find_path(TL_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  file(GLOB tl_cuda_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/cuda/*.cu ${CMAKE_SOURCE_DIR}/src/cuda/*.c)
  add_library(tl_cuda STATIC ${tl_cuda_srcs})
  target_link_libraries(tl_cuda PUBLIC tl_model tl_base CUDA::cudart_static CUDA::cublasLt)
  target_compile_definitions(tl_cuda PUBLIC TL_HAVE_CUDA)
  # nvcc: kernels with line info for profilers, warnings as errors; the host side of .cu files
  # through the host compiler with the project's warnings
  target_compile_options(tl_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo --Werror=all-warnings -Xcompiler=-Wall,-Wextra>)
  if(TL_NCCL_LIB AND TL_NCCL_INCLUDE)
    target_link_libraries(tl_cuda PUBLIC ${TL_NCCL_LIB})
    target_include_directories(tl_cuda SYSTEM PUBLIC ${TL_NCCL_INCLUDE})
    target_compile_definitions(tl_cuda PUBLIC TL_HAVE_NCCL)
    message(STATUS "tinyllm: CUDA trainer with NCCL (${TL_NCCL_LIB})")
  else()
    message(STATUS "tinyllm: CUDA trainer without NCCL (one GPU only)")
  endif()
endif()
