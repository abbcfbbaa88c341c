// The streamed PDQ blur for avx2; the compiler flags for this file (see
// CMakeLists.txt) choose the vector width. Same source as every other kernel.
#define PDQ_BLUR_FUNCTION BlurDecimateAvx2
#include "pdq_blur.inc"
